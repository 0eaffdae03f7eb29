"""Volvo faults in every phase, with four cars and a car that takes its time to answer.

Set-up (the car list), poll (the energy state), command send (the blocking command call) and
command follow (the doors read that confirms a lock whose call outlived the client): each fault
is shown as the table below promises, and everything recovers once it clears.
"""

from __future__ import annotations

from typing import Any

from homeassistant import config_entries
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_LOCK, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator import Simulator

from .test_fault_matrix import reauth_started
from .test_volvo import EX30, XC40, add_volvo, entity_id, http_pieces, read_every_car, state  # noqa: F401

FAULTS = {
    "5xx": ("server_error", {}),
    "time-out": ("timeout", {"delay": 1.0}),
    "malformed JSON": ("malformed", {}),
    "429 + Retry-After": ("rate_limited", {"retry_after": 1200}),
}
# What the user sees while the fault lasts (after it clears, everything recovers).
EXPECTED = {
    ("5xx", "setup"): "retry",
    ("time-out", "setup"): "retry",
    ("malformed JSON", "setup"): "retry",
    ("429 + Retry-After", "setup"): "retry",
    ("5xx", "poll"): "unavailable",
    ("time-out", "poll"): "unavailable",
    ("malformed JSON", "poll"): "unavailable",
    ("429 + Retry-After", "poll"): "kept",
    ("5xx", "send"): "failed",
    ("time-out", "send"): "confirmed",
    # A garbled answer to the command call: the outcome is unknown, so the doors are checked
    # until the command's deadline; the car never locked here, so then it fails.
    ("malformed JSON", "send"): "failed",
    ("429 + Retry-After", "send"): "failed",
    ("5xx", "follow"): "confirmed",
    ("time-out", "follow"): "confirmed",
    ("malformed JSON", "follow"): "confirmed",
    ("429 + Retry-After", "follow"): "confirmed",
}


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Volvo's long waits, scaled down: a read gives up after 0.5 s, a command call after 0.6 s."""
    monkeypatch.setattr("custom_components.ev_cloud.providers.volvo.const.ANSWER_WAIT", 0.2)
    monkeypatch.setattr(
        "custom_components.ev_cloud.providers.volvo.const.COMMAND_HTTP_TIMEOUT", 0.6
    )
    monkeypatch.setattr("custom_components.ev_cloud.providers.volvo.const.REQUEST_TIMEOUT", 0.5)
    # The client gives up on an unanswered command after 3 s instead of 170 s; followed every
    # half second (Volvo's quota of 100 requests a minute still holds).
    monkeypatch.setattr("custom_components.ev_cloud.providers.volvo.const.COMMAND_TIMEOUT", 3.0)
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.5,))


@pytest.mark.parametrize(("fault", "phase"), list(EXPECTED))
async def test_volvo_fault(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
    fault: str,
    phase: str,
) -> None:
    kind, params = FAULTS[fault]
    expected = EXPECTED[fault, phase]
    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    assert len(entry.runtime_data.vehicles) == 4
    if phase == "setup":
        simulator.faults.set(kind, path="/connected-vehicle/v2/vehicles", **params)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is config_entries.ConfigEntryState.SETUP_RETRY
        simulator.faults.clear()
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is config_entries.ConfigEntryState.LOADED
    elif phase == "poll":
        shown = state(hass, "sensor", XC40, "battery_level")
        simulator.faults.set(kind, path=f"/energy/v2/vehicles/{XC40}/state", **params)
        await read_every_car(hass, entry)
        now = state(hass, "sensor", XC40, "battery_level")
        assert now == (STATE_UNAVAILABLE if expected == "unavailable" else shown)
        # The other cars are not touched by this car's trouble.
        assert state(hass, "sensor", EX30, "battery_level") != STATE_UNAVAILABLE
        simulator.faults.clear()
        await read_every_car(hass, entry)
        if expected != "kept":
            assert state(hass, "sensor", XC40, "battery_level") != STATE_UNAVAILABLE
    else:
        car = simulator.volvo.cars[EX30]
        car.locked, car.command_delay = False, 0.3 if phase == "send" else 0.9
        path = "/commands/lock" if phase == "send" else f"/vehicles/{EX30}/doors"
        count: dict[str, Any] = {} if phase == "send" else {"count": 2}
        simulator.faults.set(kind, path=path, **params, **count)
        lock = entity_id(hass, LOCK_DOMAIN, EX30, "door_lock")
        if expected == "failed":
            with pytest.raises(HomeAssistantError):
                await hass.services.async_call(
                    LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
                )
            await simulator.volvo.commands_done()
            simulator.faults.clear()
            await hass.services.async_call(
                LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
            )
        else:
            await hass.services.async_call(
                LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
            )
        await simulator.volvo.commands_done()
        assert car.locked is True
    assert not reauth_started(hass)
