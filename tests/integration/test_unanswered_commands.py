"""A command whose send got no answer: the car may have acted all the same, so it is read.

Real time against the simulator: it answers the send after the client gave up (and still does
what was asked, as a cloud would), then the car needs its command delay.
"""

from __future__ import annotations

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_LOCK, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import Simulator

from .conftest import vehicle_key
from .test_commands import entity, vehicle_by_make
from .test_fault_matrix import TOKEN_PATH, reauth_started

REQUEST_TIMEOUT = 0.2
TELEMETRY = "/v1/vehicles/{vehicle_id}/telemetry"


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client gives up after 0.2 s; confirming reads come every 0.1 s for at most 1.5 s."""
    monkeypatch.setattr(
        "custom_components.ev_cloud.providers.volteras.const.REQUEST_TIMEOUT", REQUEST_TIMEOUT
    )
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.1,))
    monkeypatch.setattr("custom_components.ev_cloud.command.CONFIRM_WINDOW", 1.5)


def telemetry_reads(simulator: Simulator) -> int:
    return sum(1 for method, path in simulator.volteras.request_log if path == TELEMETRY)


async def turn_on(hass: HomeAssistant, switch: str) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )


async def test_a_read_that_fails_is_followed_by_another(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """The first confirming read meets a server error; the next shows the car charging."""
    tesla = vehicle_by_make(simulator, "TESLA")  # plugged in, not charging
    simulator.command_delay = 0.1
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)
    simulator.faults.set("server_error", path="/telemetry", count=1)
    await turn_on(hass, entity(hass, SWITCH_DOMAIN, tesla, "charge"))
    assert simulator.volteras.vehicles[tesla].charging is True
    last = hass.states.get(entity(hass, "sensor", tesla, "last_command"))
    assert last.state == "executed"


async def test_a_car_that_never_shows_it_is_a_time_out(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Unplugged, the car refuses to charge after the late answer: the window passes, it fails."""
    parked = vehicle_by_make(simulator, "VOLKSWAGEN")  # parked, unplugged
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)
    before = telemetry_reads(simulator)
    with pytest.raises(HomeAssistantError) as err:
        await turn_on(hass, entity(hass, SWITCH_DOMAIN, parked, "charge"))
    assert err.value.translation_key == "command_failed_timeout"
    assert simulator.volteras.vehicles[parked].charging is False
    # Read for the window, no longer: at most one read per 0.1 s over 1.5 s.
    assert 3 <= telemetry_reads(simulator) - before <= 16
    last = hass.states.get(entity(hass, "sensor", parked, "last_command"))
    assert (last.state, last.attributes["failed_reason"]) == ("failed", "timeout")


async def test_nothing_is_read_where_no_reading_could_show_it(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Volteras sends no climate state: a climate command without an answer is not read for."""
    car = vehicle_by_make(simulator, "VOLKSWAGEN")
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)
    before = telemetry_reads(simulator)
    with pytest.raises(HomeAssistantError) as err:
        await turn_on(hass, entity(hass, SWITCH_DOMAIN, car, "climate"))
    assert err.value.translation_key == "command_failed_timeout"
    assert telemetry_reads(simulator) == before


async def test_a_refused_sign_in_while_confirming_asks_for_it(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """The grant is revoked while the car is read: the command fails and sign-in is asked for."""
    tesla = vehicle_by_make(simulator, "TESLA")
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)

    def revoke() -> None:
        # After the client gave up on the send, before the first confirming read.
        simulator.volteras.revoke_tokens()
        simulator.faults.set("unauthorized", path=TOKEN_PATH)

    hass.loop.call_later(REQUEST_TIMEOUT + 0.05, revoke)
    with pytest.raises(HomeAssistantError) as err:
        await turn_on(hass, entity(hass, SWITCH_DOMAIN, tesla, "charge"))
    assert err.value.translation_key == "command_failed_not_permitted"
    await hass.async_block_till_done()
    assert reauth_started(hass)


async def test_a_car_that_already_looked_done_confirms_nothing(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Locked at the last reading: a lock without an answer cannot be told from no lock at all.

    Reading again would show "locked" whatever happened, so it is a time-out, without reads.
    """
    tesla = vehicle_by_make(simulator, "TESLA")
    lock = entity(hass, LOCK_DOMAIN, tesla, "door_lock")
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    coordinator = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, tesla)].coordinator
    await coordinator.async_refresh()
    assert coordinator.data.locked is True
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)
    before = telemetry_reads(simulator)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
    assert err.value.translation_key == "command_failed_timeout"
    assert telemetry_reads(simulator) == before


@pytest.mark.parametrize(
    ("fault", "params", "confirmed"),
    [
        # A short Retry-After is waited out, then the car is read again.
        ("rate_limited", {"retry_after": 0, "count": 1}, True),
        # One past the window ends the wait: the time-out stands.
        ("rate_limited", {"retry_after": 60}, False),
        # Reads refused for good: nothing will confirm it.
        ("forbidden", {}, False),
    ],
)
async def test_confirming_reads_that_are_refused(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    fault: str,
    params: dict[str, int],
    confirmed: bool,
) -> None:
    """Rate limits are waited out where they fit; a refusal stops the reading at once."""
    tesla = vehicle_by_make(simulator, "TESLA")
    simulator.command_delay = 0.1
    simulator.faults.set("timeout", path="command-execution:", delay=REQUEST_TIMEOUT * 2)
    simulator.faults.set(fault, path="/telemetry", **params)
    before = telemetry_reads(simulator)
    switch = entity(hass, SWITCH_DOMAIN, tesla, "charge")
    if confirmed:
        await turn_on(hass, switch)
        assert simulator.volteras.vehicles[tesla].charging is True
        return
    with pytest.raises(HomeAssistantError) as err:
        await turn_on(hass, switch)
    assert err.value.translation_key == "command_failed_timeout"
    # One read, refused, and no more.
    assert telemetry_reads(simulator) - before == 1
