"""Every fault a user meets, in every phase, against the simulator over real HTTP.

The expected outcomes are one table (`MATRIX`); the README's reliability section prints the same
table (`test_readme_shows_the_matrix` keeps the two equal), so the documentation cannot drift from
what the tests prove.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON, STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from simulator import Simulator

from .test_commands import entity, vehicle_by_make

README = Path(__file__).parents[2] / "README.md"
TOKEN_PATH = "/v1/oauth2/token"
REQUEST_TIMEOUT = 0.3


class Phase(StrEnum):
    """When the fault hits."""

    SETUP = "setup"
    POLL = "poll"
    SEND = "command send"
    FOLLOW = "command follow"


@dataclass(frozen=True)
class FaultCase:
    """A fault as the simulator injects it."""

    label: str
    kind: str
    params: tuple[tuple[str, float], ...] = ()
    at_token: bool = False


FAULTS = (
    FaultCase("401 at token", "unauthorized", at_token=True),
    FaultCase("401 at resource", "unauthorized"),
    FaultCase("403", "forbidden"),
    FaultCase("404", "not_found"),
    FaultCase("429 + Retry-After", "rate_limited", (("retry_after", 1200),)),
    FaultCase("INTERNAL_RATE_LIMITED", "internal_rate_limited", (("retry_after", 1200),)),
    FaultCase("5xx", "server_error"),
    FaultCase("time-out", "timeout", (("delay", REQUEST_TIMEOUT * 3),)),
    FaultCase("malformed JSON", "malformed"),
    FaultCase("COMMAND_ALREADY_IN_PROGRESS", "command_in_progress"),
)


@dataclass(frozen=True)
class Outcome:
    """What the user sees while the fault lasts; after it clears everything recovers."""

    result: str
    reauth: bool = False
    repair: bool = False


LOADED = "loaded, data shown"
RETRY = "entry retries set-up"
UNAVAILABLE = "unavailable, retried"
KEPT = "last data kept, backs off"
ERROR = "command fails"
CONFIRMED = "command confirmed"
# The send got no answer, but the car did as asked: a reading shows it.
CONFIRMED_BY_READ = "executed, confirmed by reading the car"

MATRIX: dict[tuple[str, Phase], Outcome] = {
    ("401 at token", Phase.SETUP): Outcome("set-up fails", reauth=True),
    ("401 at token", Phase.POLL): Outcome(UNAVAILABLE, reauth=True),
    ("401 at token", Phase.SEND): Outcome(ERROR + " (not permitted)", reauth=True),
    ("401 at token", Phase.FOLLOW): Outcome(ERROR + " (not permitted)", reauth=True),
    ("401 at resource", Phase.SETUP): Outcome(RETRY),
    ("401 at resource", Phase.POLL): Outcome(UNAVAILABLE, repair=True),
    ("401 at resource", Phase.SEND): Outcome(ERROR + " (not permitted)"),
    ("401 at resource", Phase.FOLLOW): Outcome(CONFIRMED),
    ("403", Phase.SETUP): Outcome(RETRY),
    ("403", Phase.POLL): Outcome(UNAVAILABLE, repair=True),
    ("403", Phase.SEND): Outcome(ERROR + " (not permitted)"),
    ("403", Phase.FOLLOW): Outcome(CONFIRMED),
    ("404", Phase.SETUP): Outcome(RETRY),
    ("404", Phase.POLL): Outcome(UNAVAILABLE),
    ("404", Phase.SEND): Outcome(ERROR + " (consent expired)"),
    ("404", Phase.FOLLOW): Outcome(CONFIRMED),
    ("429 + Retry-After", Phase.SETUP): Outcome(RETRY),
    ("429 + Retry-After", Phase.POLL): Outcome(KEPT),
    ("429 + Retry-After", Phase.SEND): Outcome(ERROR + " (rate limited)"),
    ("429 + Retry-After", Phase.FOLLOW): Outcome(CONFIRMED),
    ("INTERNAL_RATE_LIMITED", Phase.SETUP): Outcome(RETRY),
    ("INTERNAL_RATE_LIMITED", Phase.POLL): Outcome(KEPT),
    ("INTERNAL_RATE_LIMITED", Phase.SEND): Outcome(ERROR + " (rate limited)"),
    ("INTERNAL_RATE_LIMITED", Phase.FOLLOW): Outcome(CONFIRMED),
    ("5xx", Phase.SETUP): Outcome(RETRY),
    ("5xx", Phase.POLL): Outcome(UNAVAILABLE),
    ("5xx", Phase.SEND): Outcome(ERROR + " (cloud error)"),
    ("5xx", Phase.FOLLOW): Outcome(CONFIRMED),
    ("time-out", Phase.SETUP): Outcome(RETRY),
    ("time-out", Phase.POLL): Outcome(UNAVAILABLE),
    ("time-out", Phase.SEND): Outcome(CONFIRMED_BY_READ),
    ("time-out", Phase.FOLLOW): Outcome(CONFIRMED),
    ("malformed JSON", Phase.SETUP): Outcome(RETRY),
    ("malformed JSON", Phase.POLL): Outcome(UNAVAILABLE),
    ("malformed JSON", Phase.SEND): Outcome(ERROR + " (cloud error)"),
    ("malformed JSON", Phase.FOLLOW): Outcome(CONFIRMED),
    ("COMMAND_ALREADY_IN_PROGRESS", Phase.SETUP): Outcome(LOADED),
    ("COMMAND_ALREADY_IN_PROGRESS", Phase.POLL): Outcome(LOADED),
    ("COMMAND_ALREADY_IN_PROGRESS", Phase.SEND): Outcome(ERROR + " (busy)"),
    ("COMMAND_ALREADY_IN_PROGRESS", Phase.FOLLOW): Outcome(CONFIRMED),
}

# Where each phase's fault is injected (ids are filled in per car where needed).
PHASE_PATHS = {
    Phase.SETUP: "/v1/vehicles",
    Phase.POLL: "/telemetry",
    Phase.SEND: "/command-execution:",
    Phase.FOLLOW: "/command-executions/",
}
ERROR_REASONS = {
    "not permitted": "not_permitted",
    "consent expired": "consent_expired",
    "rate limited": "rate_limited",
    "cloud error": "cloud_error",
    "busy": "busy",
}


def render_matrix() -> str:
    """The matrix as the README shows it."""
    return render_table([f.label for f in FAULTS], list(Phase), MATRIX)


def render_table(
    labels: Sequence[str], phases: Sequence[StrEnum], matrix: Mapping[tuple[str, Any], Outcome]
) -> str:
    """A fault matrix as a Markdown table: one row per fault, one column per phase."""
    lines = [
        "| Fault | " + " | ".join(phase.value.capitalize() for phase in phases) + " |",
        "|---" * (len(phases) + 1) + "|",
    ]
    for label in labels:
        cells = []
        for phase in phases:
            outcome = matrix[label, phase]
            marks = [outcome.result]
            if outcome.reauth:
                marks.append("**reauth**")
            if outcome.repair:
                marks.append("**repair issue**")
            cells.append("; ".join(marks))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_readme_shows_the_matrix() -> None:
    """The README's reliability table is the one these tests check."""
    assert render_matrix() in README.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time-outs and command follow-ups at a scaled-down but realistic pace."""
    monkeypatch.setattr(
        "custom_components.ev_cloud.providers.volteras.const.REQUEST_TIMEOUT", REQUEST_TIMEOUT
    )
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.05, 0.1))


def inject(sim: Simulator, fault: FaultCase, phase: Phase, *, count: int | None = None) -> None:
    """Switch the fault on where the phase makes requests."""
    params = dict(fault.params)
    if phase is Phase.FOLLOW and "retry_after" in params:
        # Waited for in real time while the command is followed.
        params["retry_after"] = 1
    if fault.at_token:
        # Tokens already issued stop working, and the token endpoint refuses new grants.
        sim.volteras.revoke_tokens()
        sim.faults.set(fault.kind, path=TOKEN_PATH, **params)
        return
    sim.faults.set(fault.kind, path=PHASE_PATHS[phase], count=count, **params)


def reauth_started(hass: HomeAssistant) -> bool:
    """Whether a re-authentication flow is waiting for the user."""
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    return any(flow["context"]["source"] == "reauth" for flow in flows)


def repair_raised(hass: HomeAssistant) -> bool:
    """Whether a repair issue about access exists (a car's, or the whole app's)."""
    return any(
        domain == DOMAIN and issue_id.startswith(("vehicle_access_", "app_not_registered_"))
        for domain, issue_id in ir.async_get(hass).issues
    )


CASES = [
    pytest.param(fault, phase, id=f"{fault.kind}{'@token' if fault.at_token else ''}-{phase.name}")
    for fault in FAULTS
    for phase in Phase
]


@pytest.mark.parametrize(("fault", "phase"), CASES)
async def test_fault_matrix(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    fault: FaultCase,
    phase: Phase,
) -> None:
    """The outcome the matrix promises, then recovery once the fault clears.

    Everything runs in real time: time-outs really time out and commands stay PENDING for a
    moment, as a user meets them.
    """
    expected = MATRIX[fault.label, phase]
    config_entry.add_to_hass(hass)
    if phase in (Phase.SETUP, Phase.POLL):
        await _async_check_reading(hass, simulator, config_entry, fault, phase, expected)
    else:
        await _async_check_command(hass, simulator, config_entry, fault, phase, expected)


async def _async_check_reading(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    fault: FaultCase,
    phase: Phase,
    expected: Outcome,
) -> None:
    if phase is Phase.SETUP:
        inject(simulator, fault, phase)
        await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        if expected.result == LOADED:
            assert config_entry.state is ConfigEntryState.LOADED
        elif expected.reauth:
            assert config_entry.state is ConfigEntryState.SETUP_ERROR
        else:
            assert config_entry.state is ConfigEntryState.SETUP_RETRY
        assert reauth_started(hass) is expected.reauth
        simulator.faults.clear()
        if not expected.reauth:
            # What Home Assistant's own set-up retry does, without waiting for its timer.
            await hass.config_entries.async_reload(config_entry.entry_id)
            await hass.async_block_till_done()
            assert config_entry.state is ConfigEntryState.LOADED
        return

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    tesla = vehicle_by_make(simulator, "TESLA")  # plugged in, not charging
    battery = entity(hass, "sensor", tesla, "battery_level")
    shown = hass.states.get(battery).state
    inject(simulator, fault, phase)
    await poll_every_car(hass, config_entry)
    state = hass.states.get(battery).state
    if expected.result == UNAVAILABLE:
        assert state == STATE_UNAVAILABLE
    else:
        assert state == shown
    assert config_entry.state is ConfigEntryState.LOADED
    assert reauth_started(hass) is expected.reauth
    assert repair_raised(hass) is expected.repair
    simulator.faults.clear()
    await poll_every_car(hass, config_entry)
    if not expected.reauth:
        assert hass.states.get(battery).state not in (STATE_UNAVAILABLE, "unknown")
        assert not repair_raised(hass)


async def poll_every_car(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """One scheduled read of every car, as the coordinators' timers would start it."""
    for vehicle in config_entry.runtime_data.vehicles.values():
        await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()


async def _async_check_command(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    fault: FaultCase,
    phase: Phase,
    expected: Outcome,
) -> None:
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    tesla = vehicle_by_make(simulator, "TESLA")  # plugged in, not charging
    simulator.command_delay = 0.2
    switch = entity(hass, SWITCH_DOMAIN, tesla, "charge")
    # A follow-up fault passes after two hits (what a real outage blip looks like); a send
    # fault lasts until cleared.
    inject(simulator, fault, phase, count=2 if phase is Phase.FOLLOW else None)
    if expected.result == CONFIRMED_BY_READ:
        # Real time: the simulator answers the send 0.9 s late (the client gave up at 0.3 s),
        # and the car starts 0.2 s after that.
        for vehicle in config_entry.runtime_data.vehicles.values():
            vehicle.commands.poll_delays = (0.25,)
    if expected.result in (CONFIRMED, CONFIRMED_BY_READ):
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
        assert simulator.volteras.vehicles[tesla].charging is True
        assert not reauth_started(hass)
        return
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    reason = ERROR_REASONS[expected.result.split("(")[1].rstrip(")")]
    assert err.value.translation_key == f"command_failed_{reason}"
    assert hass.states.get(switch).state == STATE_OFF
    await hass.async_block_till_done()
    assert reauth_started(hass) is expected.reauth
    assert config_entry.state is ConfigEntryState.LOADED
    simulator.faults.clear()
    if not expected.reauth:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
        assert simulator.volteras.vehicles[tesla].charging is True
