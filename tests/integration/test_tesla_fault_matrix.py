"""Every fault a Tesla owner meets, in every phase, against the simulated Tesla cloud over HTTP.

Same shape as the Volteras matrix: one table of promises (`MATRIX`), printed in the README
(`test_readme_shows_the_tesla_matrix` keeps them equal), each cell proved here, and every case
recovers once the fault clears. Tesla settles commands when sent, so there is no follow phase;
its own faults (408 asleep, 412 not registered, 421 wrong region) are in the table too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
import time
from typing import Any

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_URL,
    SERVICE_LOCK,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import (
    CONF_APP_DOMAIN,
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_PROVIDER,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
)
from simulator import Simulator

from .test_fault_matrix import README, Outcome, reauth_started, render_table, repair_raised
from .test_tesla import BLUE, RED, entity

APP = ("sim-oauth-client", "sim-oauth-secret")
SCOPES = "openid offline_access vehicle_device_data vehicle_cmds vehicle_charging_cmds"
REQUEST_TIMEOUT = 0.3


class Phase(StrEnum):
    """When the fault hits."""

    SETUP = "setup"
    POLL = "poll"
    SEND = "command"


@dataclass(frozen=True)
class FaultCase:
    """A fault as the simulator injects it; `kind` None means a state of the account."""

    label: str
    kind: str | None
    params: tuple[tuple[str, float], ...] = ()


FAULTS = (
    FaultCase("refresh refused (401 at token)", None),
    FaultCase("401 at resource, again after a refresh", "unauthorized"),
    FaultCase("403", "forbidden"),
    FaultCase("404", "not_found"),
    FaultCase("408 asleep", None),
    FaultCase("412 app not registered", None),
    FaultCase("421 wrong region", "wrong_region"),
    FaultCase("429 + Retry-After", "rate_limited", (("retry_after", 1200),)),
    FaultCase("5xx", "server_error"),
    FaultCase("time-out", "timeout", (("delay", REQUEST_TIMEOUT * 3),)),
    FaultCase("malformed JSON", "malformed"),
)


LOADED = "loaded, data shown"
RETRY = "entry retries set-up"
UNAVAILABLE = "unavailable, retried"
KEPT = "last data kept, backs off"
ASLEEP = "last data kept, shown asleep"
ERROR = "command fails"
CONFIRMED = "executed, confirmed by reading the car"

MATRIX: dict[tuple[str, Phase], Outcome] = {
    ("refresh refused (401 at token)", Phase.SETUP): Outcome("set-up fails", reauth=True),
    ("refresh refused (401 at token)", Phase.POLL): Outcome(UNAVAILABLE, reauth=True),
    ("refresh refused (401 at token)", Phase.SEND): Outcome(
        ERROR + " (not permitted)", reauth=True
    ),
    ("401 at resource, again after a refresh", Phase.SETUP): Outcome("set-up fails", reauth=True),
    ("401 at resource, again after a refresh", Phase.POLL): Outcome(UNAVAILABLE, reauth=True),
    ("401 at resource, again after a refresh", Phase.SEND): Outcome(
        ERROR + " (not permitted)", reauth=True
    ),
    ("403", Phase.SETUP): Outcome(RETRY),
    ("403", Phase.POLL): Outcome(UNAVAILABLE, repair=True),
    ("403", Phase.SEND): Outcome(ERROR + " (not permitted)"),
    ("404", Phase.SETUP): Outcome(RETRY),
    ("404", Phase.POLL): Outcome(UNAVAILABLE),
    ("404", Phase.SEND): Outcome(ERROR + " (consent expired)"),
    ("408 asleep", Phase.SETUP): Outcome("loaded, shown asleep, not woken"),
    ("408 asleep", Phase.POLL): Outcome(ASLEEP),
    ("408 asleep", Phase.SEND): Outcome(ERROR + " (offline): woken, did not wake in time"),
    ("412 app not registered", Phase.SETUP): Outcome(RETRY),
    ("412 app not registered", Phase.POLL): Outcome(UNAVAILABLE, repair=True),
    ("412 app not registered", Phase.SEND): Outcome(ERROR + " (not permitted)"),
    ("421 wrong region", Phase.SETUP): Outcome(RETRY),
    ("421 wrong region", Phase.POLL): Outcome(UNAVAILABLE),
    ("421 wrong region", Phase.SEND): Outcome(ERROR + " (cloud error)"),
    ("429 + Retry-After", Phase.SETUP): Outcome(RETRY),
    ("429 + Retry-After", Phase.POLL): Outcome(KEPT),
    ("429 + Retry-After", Phase.SEND): Outcome(ERROR + " (rate limited)"),
    ("5xx", Phase.SETUP): Outcome(RETRY),
    ("5xx", Phase.POLL): Outcome(UNAVAILABLE),
    ("5xx", Phase.SEND): Outcome(ERROR + " (cloud error)"),
    ("time-out", Phase.SETUP): Outcome(RETRY),
    ("time-out", Phase.POLL): Outcome(UNAVAILABLE),
    ("time-out", Phase.SEND): Outcome(CONFIRMED),
    ("malformed JSON", Phase.SETUP): Outcome(RETRY),
    ("malformed JSON", Phase.POLL): Outcome(UNAVAILABLE),
    ("malformed JSON", Phase.SEND): Outcome(ERROR + " (cloud error)"),
}

PHASE_PATHS = {
    Phase.SETUP: "/api/1/products",
    Phase.POLL: "/vehicle_data",
    Phase.SEND: "/command/",
}
ERROR_REASONS = {
    "not permitted": "not_permitted",
    "consent expired": "consent_expired",
    "offline": "offline",
    "rate limited": "rate_limited",
    "cloud error": "cloud_error",
}
REGISTERED_KEY = "04" + "11" * 64


def render_tesla_matrix() -> str:
    """The matrix as the README shows it."""
    return render_table([f.label for f in FAULTS], list(Phase), MATRIX)


def test_readme_shows_the_tesla_matrix() -> None:
    """The README's Tesla reliability table is the one these tests check."""
    assert render_tesla_matrix() in README.read_text(encoding="utf-8")


def tesla_entry(sim: Simulator, *, expired: bool = False) -> MockConfigEntry:
    """A signed-in Tesla entry for the simulator (the flow itself is tested elsewhere)."""
    token = sim.oauth.issue_tokens(APP[0], SCOPES)
    lifetime = -60 if expired else 3600
    return MockConfigEntry(
        domain=DOMAIN,
        title="Tesla account",
        unique_id="sim-account",
        version=2,
        data={
            CONF_PROVIDER: "tesla",
            CONF_CLIENT_ID: APP[0],
            CONF_CLIENT_SECRET: APP[1],
            CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
            CONF_URL: sim.url,
            CONF_APP_DOMAIN: "ev.example.com",
            CONF_EXCLUDED_VEHICLES: [],
            "auth_implementation": f"ev_cloud_tesla_custom_{APP[0]}",
            "token": {**token, "expires_at": time.time() + lifetime},
        },
    )


@pytest.fixture(autouse=True)
def tesla_world(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app registered its domain long ago; both cars awake; quick wake-ups and time-outs."""
    simulator.tesla.register_partner(APP[0], "ev.example.com", REGISTERED_KEY)
    for car in simulator.tesla.cars.values():
        car.online, car.wake_delay = True, 0.1
    simulator.tesla.cars[BLUE].locked = False
    monkeypatch.setattr("custom_components.ev_cloud.providers.tesla.const.WAKE_POLL", 0.05)
    monkeypatch.setattr("custom_components.ev_cloud.providers.tesla.const.WAKE_TIMEOUT", 0.5)
    monkeypatch.setattr(
        "custom_components.ev_cloud.providers.tesla.const.REQUEST_TIMEOUT", REQUEST_TIMEOUT
    )


def inject(sim: Simulator, fault: FaultCase, phase: Phase) -> None:
    """Switch the fault on where the phase makes requests."""
    match fault.label:
        case "refresh refused (401 at token)":
            # Tesla revoked the grant: issued tokens stop working and the refresh is refused.
            sim.oauth.revoke_tokens()
        case "408 asleep":
            for car in sim.tesla.cars.values():
                car.online, car.wake_delay = False, 3600.0
        case "412 app not registered":
            sim.tesla.partners.clear()
        case _:
            assert fault.kind is not None
            sim.faults.set(fault.kind, path=PHASE_PATHS[phase], **dict(fault.params))


def clear(sim: Simulator) -> None:
    """The fault passes."""
    sim.faults.clear()
    sim.tesla.register_partner(APP[0], "ev.example.com", REGISTERED_KEY)
    for car in sim.tesla.cars.values():
        car.online, car.waking_until, car.wake_delay = True, None, 0.1


def expire_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """The stored access token runs out, so the next call refreshes it."""
    token: dict[str, Any] = {**entry.data["token"], "expires_at": time.time() - 60}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


CASES = [
    pytest.param(fault, phase, id=f"{fault.label.split()[0]}-{phase.name}")
    for fault in FAULTS
    for phase in Phase
]


@pytest.mark.parametrize(("fault", "phase"), CASES)
async def test_tesla_fault_matrix(
    hass: HomeAssistant, simulator: Simulator, fault: FaultCase, phase: Phase
) -> None:
    """The outcome the matrix promises, then recovery once the fault clears (real time)."""
    expected = MATRIX[fault.label, phase]
    revoked = fault.label.startswith("refresh")
    entry = tesla_entry(simulator, expired=revoked and phase is Phase.SETUP)
    entry.add_to_hass(hass)
    if phase is Phase.SETUP:
        await _async_check_setup(hass, simulator, entry, fault, expected)
        return
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    inject(simulator, fault, phase)
    if revoked:
        expire_token(hass, entry)
    if phase is Phase.POLL:
        await _async_check_poll(hass, simulator, entry, expected)
    else:
        await _async_check_command(hass, simulator, expected)
    assert entry.state is ConfigEntryState.LOADED


async def _async_check_setup(
    hass: HomeAssistant,
    simulator: Simulator,
    entry: MockConfigEntry,
    fault: FaultCase,
    expected: Outcome,
) -> None:
    inject(simulator, fault, Phase.SETUP)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    if expected.reauth:
        assert entry.state is ConfigEntryState.SETUP_ERROR
    elif expected.result == RETRY:
        assert entry.state is ConfigEntryState.SETUP_RETRY
    else:
        assert entry.state is ConfigEntryState.LOADED
        asleep = entity(hass, "binary_sensor", RED, "asleep")
        assert hass.states.get(asleep).state == "on"
        assert simulator.tesla.meter["wake"] == 0
    assert reauth_started(hass) is expected.reauth
    if not expected.reauth:
        clear(simulator)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED


async def _async_check_poll(
    hass: HomeAssistant, simulator: Simulator, entry: MockConfigEntry, expected: Outcome
) -> None:
    battery = entity(hass, "sensor", RED, "battery_level")
    shown = hass.states.get(battery).state
    await poll_every_car(hass, entry)
    state = hass.states.get(battery).state
    assert state == (STATE_UNAVAILABLE if expected.result == UNAVAILABLE else shown)
    if expected.result == ASLEEP:
        assert hass.states.get(entity(hass, "binary_sensor", RED, "asleep")).state == "on"
        assert simulator.tesla.meter["wake"] == 0
    assert reauth_started(hass) is expected.reauth
    assert repair_raised(hass) is expected.repair
    if not expected.reauth:
        clear(simulator)
        await poll_every_car(hass, entry)
        assert hass.states.get(battery).state not in (STATE_UNAVAILABLE, "unknown")
        assert not repair_raised(hass)


async def poll_every_car(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """One scheduled read of every car, as the coordinators' timers would start it."""
    for vehicle in entry.runtime_data.vehicles.values():
        await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()


async def _async_check_command(
    hass: HomeAssistant, simulator: Simulator, expected: Outcome
) -> None:
    lock = entity(hass, LOCK_DOMAIN, BLUE, "door_lock")
    if expected.result == CONFIRMED:
        await _async_check_confirmed(hass, simulator, lock)
        return
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
    reason = ERROR_REASONS[expected.result.split("(")[1].split(")")[0]]
    assert err.value.translation_key == f"command_failed_{reason}"
    await hass.async_block_till_done()
    assert reauth_started(hass) is expected.reauth
    if not expected.reauth:
        clear(simulator)
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
        assert simulator.tesla.cars[BLUE].locked is True


async def _async_check_confirmed(hass: HomeAssistant, simulator: Simulator, lock: str) -> None:
    """The request times out, the car locks later all the same: a read confirms it.

    Without the read, the user would be told the command failed while the car carried it out.
    """
    reads = simulator.tesla.meter["data"]
    for vehicle in hass.config_entries.async_entries(DOMAIN)[0].runtime_data.vehicles.values():
        # Real time: the simulated car locks 0.9 s after the request the client gave up on.
        vehicle.commands.poll_delays = (0.25,)
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    assert simulator.tesla.cars[BLUE].locked is True
    last = hass.states.get(entity(hass, "sensor", BLUE, "last_command"))
    assert last.state == "executed"
    # A few billed reads, only while the answer was missing.
    assert 1 <= simulator.tesla.meter["data"] - reads <= 6
    assert not reauth_started(hass)


async def test_a_refused_token_is_refreshed_once_for_all_cars(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """Tesla refuses the unexpired token of two concurrent reads: one refresh, both read.

    Refresh tokens are single use; two refreshes racing would lose one and ask to sign in.
    """
    entry = tesla_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    before = entry.data["token"]["refresh_token"]
    simulator.faults.set("unauthorized", path="/api/1/vehicles/", count=2)
    refreshes = simulator.oauth.request_log.count(("POST", "/oauth2/v3/token"))
    await asyncio.gather(
        *(v.coordinator.async_refresh() for v in entry.runtime_data.vehicles.values())
    )
    await hass.async_block_till_done()
    assert simulator.oauth.request_log.count(("POST", "/oauth2/v3/token")) == refreshes + 1
    assert entry.data["token"]["refresh_token"] != before
    assert before not in simulator.oauth.refresh_tokens  # used up
    assert not reauth_started(hass)
    battery = hass.states.get(entity(hass, "sensor", RED, "battery_level"))
    assert battery.state == "45.0"
