"""The core's behaviour under concurrency, partial failure and realistic delays (issue §2).

Each test failed on 0.1.0 and passes now. Commands stay PENDING for a while here (the simulator
settles them after `command_delay` seconds) and several cars are loaded at once, because the bugs
these tests guard against only showed with delays, several cars and faults mid-way.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import ATTR_VALUE, DOMAIN as NUMBER_DOMAIN, SERVICE_SET_VALUE
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    SERVICE_UNLOCK,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from custom_components.ev_cloud.model import log_hash
from simulator import Simulator

from .conftest import advance, vehicle_key
from .test_commands import entity, vehicle_by_make

TELEMETRY = "/v1/vehicles/{vehicle_id}/telemetry"


def reads(sim: Simulator) -> int:
    """Telemetry reads so far, all cars."""
    return sim.volteras.request_log.count(("GET", TELEMETRY))


def record_states(hass: HomeAssistant, entity_id: str) -> list[str]:
    """Every state the entity takes from now on."""
    seen: list[str] = []

    def listener(event: Event[Any]) -> None:
        if event.data["entity_id"] == entity_id and event.data["new_state"] is not None:
            seen.append(event.data["new_state"].state)

    hass.bus.async_listen("state_changed", listener)
    return seen


async def test_commands_never_postpone_reads(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A charge-limit change every 4 minutes for an hour: each is read within 5 minutes.

    0.1.0 re-armed the next read 5 minutes out at every command and read the car 0 times. The
    charging car alone would be read at its predicted end (an hour at most); every command
    brings a read within the active pace, and none pushes a planned read later.
    """
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    coordinator = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)].coordinator
    read_minutes: list[int] = []
    command_minutes: list[int] = []
    for minute in range(1, 61):
        before = coordinator.data.fetched_at
        await advance(hass, freezer, timedelta(minutes=1))
        if coordinator.data.fetched_at != before:
            read_minutes.append(minute)
        if minute % 4 == 0:
            await hass.services.async_call(
                NUMBER_DOMAIN,
                SERVICE_SET_VALUE,
                {ATTR_ENTITY_ID: number, ATTR_VALUE: 70 + minute % 20},
                blocking=True,
            )
            command_minutes.append(minute)
    assert len(read_minutes) >= 8
    for minute in command_minutes[:-1]:
        assert any(minute < read <= minute + 5 for read in read_minutes), (minute, read_minutes)


async def test_command_never_shortens_a_rate_limit(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Retry-After 3600 s holds even after an unlock (0.1.0 read again 300 s later)."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    coordinator = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)].coordinator
    simulator.faults.set(
        "rate_limited", path=TELEMETRY.format(vehicle_id=vehicle_id), retry_after=3600
    )
    await advance(hass, freezer, timedelta(minutes=31))  # the next regular read meets the 429
    assert coordinator.update_interval == timedelta(seconds=3600)
    simulator.faults.clear()
    lock = entity(hass, "lock", vehicle_id, "door_lock")
    await hass.services.async_call("lock", SERVICE_UNLOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    last_read = coordinator.data.fetched_at
    for _ in range(11):
        await advance(hass, freezer, timedelta(minutes=5))
        assert coordinator.data.fetched_at == last_read
    await advance(hass, freezer, timedelta(minutes=6))
    assert coordinator.data.fetched_at > last_read
    assert coordinator.update_interval != timedelta(seconds=3600)


@pytest.mark.parametrize("fault", ["unauthorized", "forbidden"])
async def test_one_car_refused_is_a_repair_not_a_reauth(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fault: str,
) -> None:
    """401/403 on one car's data after a good token: that car unavailable with a repair issue."""
    refused = vehicle_by_make(simulator, "VOLKSWAGEN")
    others = [vid for vid in simulator.volteras.vehicles if vid != refused]
    simulator.faults.set(fault, path=TELEMETRY.format(vehicle_id=refused))
    await advance(hass, freezer, timedelta(minutes=31))

    battery = entity(hass, "sensor", refused, "battery_level")
    assert hass.states.get(battery).state == STATE_UNAVAILABLE
    for vehicle_id in others:
        assert hass.states.get(entity(hass, "sensor", vehicle_id, "battery_level")).state not in (
            STATE_UNAVAILABLE,
            STATE_UNKNOWN,
        )
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert loaded_entry.state is ConfigEntryState.LOADED
    issue_id = f"vehicle_access_{loaded_entry.entry_id}_{log_hash(simulator.volteras.vehicles[refused].vin)}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"vehicle": "Volkswagen ID.4"}

    simulator.faults.clear()
    await advance(hass, freezer, timedelta(minutes=31))
    assert hass.states.get(battery).state != STATE_UNAVAILABLE
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("fault", ["not_found", "server_error", "malformed", "forbidden"])
async def test_one_unreadable_car_does_not_block_the_others(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fault: str,
) -> None:
    """The entry loads, the readable cars work, the failing car retries by itself."""
    failing = vehicle_by_make(simulator, "POLESTAR")
    simulator.faults.set(fault, path=TELEMETRY.format(vehicle_id=failing))
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED

    battery = entity(hass, "sensor", failing, "battery_level")
    assert hass.states.get(battery).state == STATE_UNAVAILABLE
    tesla = vehicle_by_make(simulator, "TESLA")
    assert (
        hass.states.get(entity(hass, "sensor", tesla, "battery_level")).state != STATE_UNAVAILABLE
    )

    simulator.faults.clear()
    await advance(hass, freezer, timedelta(minutes=31))
    assert hass.states.get(battery).state != STATE_UNAVAILABLE


async def test_bad_vehicle_list_item_is_skipped_and_logged_once(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listed car without a VIN is left out, logged once, and the others carry on."""
    broken = simulator.volteras.add_vehicle(make="KIA", model="EV6")
    broken.vin = ""
    for _ in range(3):
        await advance(hass, freezer, timedelta(hours=1))
    assert caplog.text.count("Skipping a vehicle Volteras listed") == 1
    assert broken.id not in caplog.text
    assert len(loaded_entry.runtime_data.vehicles) == 3
    assert loaded_entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("server_error", {}),
        ("internal_rate_limited", {"retry_after": 0}),
        ("timeout", {"delay": 0.05}),
        ("malformed", {}),
    ],
)
async def test_passing_errors_while_following_are_not_failures(
    hass: HomeAssistant,
    slow_commands: Simulator,
    loaded_entry: MockConfigEntry,
    fault: str,
    params: dict[str, float],
) -> None:
    """A 5xx, 429 or time-out while a command is PENDING says nothing about the car.

    0.1.0 rolled the switch back and reported failure while the car was charging.
    """
    simulator = slow_commands
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    simulator.faults.set(fault, path="/command-executions/", count=2, **params)
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert simulator.volteras.vehicles[vehicle_id].charging is True
    assert hass.states.get(switch).state == STATE_ON
    last = hass.states.get(entity(hass, "sensor", vehicle_id, "last_command"))
    assert last.state == "executed"


async def test_newest_request_wins_in_order(
    hass: HomeAssistant, slow_commands: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Start, stop, start while the first is pending: the stop is superseded, the car charges."""
    simulator = slow_commands
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")

    async def call(service: str) -> None:
        await hass.services.async_call(
            SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: switch}, blocking=True
        )

    first = hass.async_create_task(call(SERVICE_TURN_ON))
    await asyncio.sleep(0.1)
    stop = hass.async_create_task(call(SERVICE_TURN_OFF))
    await asyncio.sleep(0)
    again = hass.async_create_task(call(SERVICE_TURN_ON))
    results = await asyncio.gather(first, stop, again, return_exceptions=True)
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], HomeAssistantError)
    assert results[1].translation_key == "command_failed_superseded"
    assert "replaced" in str(results[1])
    sent = [
        path.rsplit(":", 1)[1]
        for method, path in simulator.volteras.request_log
        if method == "POST" and "command-execution:" in path
    ]
    assert sent == ["start-charging", "start-charging"]
    assert simulator.volteras.vehicles[vehicle_id].charging is True


async def test_waiter_never_hangs_when_the_running_command_breaks(
    hass: HomeAssistant,
    slow_commands: Simulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected exception in the running command fails it; the waiting one still runs."""
    simulator = slow_commands
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    client = loaded_entry.runtime_data.client
    original = client.async_send_command
    calls = 0

    async def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.1)
            raise RuntimeError("boom")
        return await original(*args)

    monkeypatch.setattr(client, "async_send_command", flaky)
    first = hass.async_create_task(
        hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    )
    await asyncio.sleep(0.01)
    second = hass.async_create_task(
        hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    )
    results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 10)
    assert isinstance(results[0], HomeAssistantError)
    assert results[0].translation_key == "command_failed_unknown"
    assert results[1] is None
    assert simulator.volteras.vehicles[vehicle_id].charging is True


async def test_unload_while_pending_fails_the_waiters(
    hass: HomeAssistant, slow_commands: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Unloading the entry cancels the command worker: callers get an error, never a hang."""
    simulator = slow_commands
    simulator.command_delay = 60
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    calls = [
        hass.async_create_task(
            hass.services.async_call(
                SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: switch}, blocking=True
            )
        )
        for service in (SERVICE_TURN_ON, SERVICE_TURN_OFF)
    ]
    await asyncio.sleep(0.2)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)
    assert all(isinstance(result, HomeAssistantError) for result in results)


async def test_measured_charging_sensor_changes_only_on_a_read(
    hass: HomeAssistant,
    slow_commands: Simulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The battery-charging binary sensor never shows an "on" that did not happen."""
    simulator = slow_commands
    refusing = vehicle_by_make(simulator, "VOLKSWAGEN")  # unplugged: the car refuses to charge
    measured = entity(hass, "binary_sensor", refusing, "charging")
    history = record_states(hass, measured)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            SWITCH_DOMAIN,
            SERVICE_TURN_ON,
            {ATTR_ENTITY_ID: entity(hass, SWITCH_DOMAIN, refusing, "charge")},
            blocking=True,
        )
    assert STATE_ON not in history
    assert hass.states.get(measured).state == STATE_OFF

    tesla = vehicle_by_make(simulator, "TESLA")  # plugged in
    switch = entity(hass, SWITCH_DOMAIN, tesla, "charge")
    measured = entity(hass, "binary_sensor", tesla, "charging")
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    # The command entity shows the confirmed request; the measurement waits for a reading.
    assert hass.states.get(switch).state == STATE_ON
    assert hass.states.get(measured).state == STATE_OFF
    coordinator = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, tesla)].coordinator
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(measured).state == STATE_ON
    assert hass.states.get(switch).state == STATE_ON


async def test_target_temperature_in_fahrenheit(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """With US customary units, 70 °F is accepted and sent as the nearest valid step: 21 °C."""
    hass.config.units = US_CUSTOMARY_SYSTEM
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "target_temperature")
    await hass.services.async_call(
        NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: number, ATTR_VALUE: 70}, blocking=True
    )
    assert simulator.volteras.vehicles[vehicle_id].driver_temperature == 21.0
    assert float(hass.states.get(number).state) == pytest.approx(69.8)


async def test_rarely_used_readings_are_disabled_by_default(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Created, so they can be turned on, but not kept up to date unless asked for.

    Energy remaining repeats the battery level in kWh, the charging current limit is rarely
    looked at, and a Volteras car's charger connection cannot tell AC from DC: while connected
    it would only say what Plugged in says.
    """
    registry = er.async_get(hass)
    car = vehicle_key(simulator, vehicle_by_make(simulator, "POLESTAR"))
    for key in ("energy_remaining", "charging_current_limit", "connection_status"):
        entry = registry.async_get(registry.async_get_entity_id("sensor", DOMAIN, f"{car}_{key}"))
        assert entry is not None
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entry.entity_id) is None
    battery = registry.async_get_entity_id("sensor", DOMAIN, f"{car}_battery_level")
    assert hass.states.get(battery) is not None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_connection_status_has_no_literal_unknown(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Plugged in without AC/DC information is Home Assistant's unknown, not a state."""
    charging = vehicle_by_make(simulator, "POLESTAR")  # 11 kW: AC or DC cannot be told
    state = hass.states.get(entity(hass, "sensor", charging, "connection_status"))
    assert state.state == STATE_UNKNOWN
    assert "unknown" not in state.attributes["options"]
    parked = vehicle_by_make(simulator, "VOLKSWAGEN")
    assert hass.states.get(entity(hass, "sensor", parked, "connection_status")).state == (
        "disconnected"
    )


async def test_assumed_climate_ends_with_the_session(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Volteras cannot read climate back; the assumed "on" ends when the session would."""
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")
    climate = entity(hass, SWITCH_DOMAIN, vehicle_id, "climate")
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: climate}, blocking=True
    )
    assert hass.states.get(climate).state == STATE_ON
    await advance(hass, freezer, timedelta(minutes=29))
    assert hass.states.get(climate).state == STATE_ON
    await advance(hass, freezer, timedelta(minutes=2))
    assert hass.states.get(climate).state == STATE_OFF


async def test_short_retry_after_never_speeds_polling_up(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A parked car read every 30 minutes stays at 30 minutes under `Retry-After: 5`."""
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")
    coordinator = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)].coordinator
    assert coordinator.update_interval == timedelta(minutes=30)
    simulator.faults.set(
        "rate_limited", path=TELEMETRY.format(vehicle_id=vehicle_id), retry_after=5
    )
    await advance(hass, freezer, timedelta(minutes=31))
    assert coordinator.update_interval == timedelta(minutes=30)
