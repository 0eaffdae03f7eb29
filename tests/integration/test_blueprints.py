"""The automation blueprints shipped in blueprints/automation/ev_cloud, run for real.

Each blueprint is copied into the test configuration's blueprint folder, loaded by Home
Assistant's blueprint integration, instantiated by the automation integration with `use_blueprint`
and driven against the simulator: the tests assert what reached the simulated car (charging
started or stopped, the current set, the climate on) or which notification was sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import Blueprint
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    SERVICE_LOCK,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    SERVICE_UNLOCK,
    STATE_ON,
)
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from simulator import Simulator

from .conftest import advance
from .test_commands import entity, vehicle_by_make
from .test_tesla import BLUE, entity as tesla_entity
from .test_tesla_fault_matrix import APP, REGISTERED_KEY, tesla_entry

BLUEPRINTS = Path(__file__).parents[2] / "blueprints" / "automation" / DOMAIN
SOLAR = "solar_surplus_charging.yaml"
DEPARTURE = "departure_preconditioning.yaml"
ALERTS = "ev_alerts.yaml"
SURPLUS = "sensor.grid_export"
NOTIFY = [{"action": "test.notify", "data": {"title": "{{ title }}", "message": "{{ message }}"}}]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(autouse=True)
async def blueprint_config(
    hass: HomeAssistant, tmp_path: Path, simulator: Simulator
) -> AsyncGenerator[None]:
    """A fresh config folder holding the shipped blueprints; home is where the Tesla parks.

    The automations are switched off at the end, which ends their time triggers.
    """
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(BLUEPRINTS, tmp_path / "blueprints" / "automation" / DOMAIN)
    tesla = simulator.volteras.vehicles[vehicle_by_make(simulator, "TESLA")]
    hass.config.latitude, hass.config.longitude = tesla.latitude, tesla.longitude
    yield
    if hass.services.has_service("automation", SERVICE_TURN_OFF):
        await hass.services.async_call(
            "automation", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: "all"}, blocking=True
        )


@pytest.fixture
def notifications(hass: HomeAssistant) -> list[dict[str, Any]]:
    """What the blueprint's notification action sent (through a `test.notify` action)."""
    sent: list[dict[str, Any]] = []

    async def notify(call: ServiceCall) -> None:
        sent.append(dict(call.data))

    hass.services.async_register("test", "notify", notify)
    return sent


def _matches(hass: HomeAssistant, entity_id: str, entity_filter: dict[str, Any]) -> bool:
    """Whether the entity selector's filter offers this entity."""
    registered = er.async_get(hass).async_get(entity_id)
    state = hass.states.get(entity_id)
    actual = {
        "integration": registered.platform if registered else None,
        "domain": entity_id.partition(".")[0],
        "device_class": state.attributes.get(ATTR_DEVICE_CLASS) if state else None,
    }
    for key, value in actual.items():
        wanted = entity_filter.get(key)
        if wanted is not None and value not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


async def use_blueprint(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> str:
    """Set the automation up from the blueprint; every entity given is one its selector offers."""
    name = path.removesuffix(".yaml")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": name,
                "alias": name,
                "use_blueprint": {"path": f"{DOMAIN}/{path}", "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    blueprint = await async_get_blueprints(hass).async_get_blueprint(f"{DOMAIN}/{path}")
    for key, value in inputs.items():
        selector = blueprint.inputs[key].get("selector") or {}
        if "entity" in selector and value:
            filters = selector["entity"].get("filter") or [{}]
            assert any(_matches(hass, value, f) for f in filters), f"{key}: {value} not offered"
    automation = f"automation.{name}"
    assert hass.states.get(automation).state == STATE_ON
    return automation


async def minutes(hass: HomeAssistant, freezer: FrozenDateTimeFactory, count: int) -> None:
    """Let `count` minutes pass one at a time, as the clock would.

    Whatever is under way finishes first: a read still waiting for the simulator when the clock
    jumps would time out.
    """
    for _ in range(count):
        await hass.async_block_till_done(wait_background_tasks=True)
        await advance(hass, freezer, timedelta(minutes=1))


async def read_cars(hass: HomeAssistant) -> None:
    """One read of every car, as the next scheduled poll would do."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        for vehicle in entry.runtime_data.vehicles.values():
            await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()


async def changed_within(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, check: Callable[[], bool], limit: int
) -> int:
    """Minutes until `check` holds, one at a time; fails after `limit` minutes."""
    for minute in range(1, limit + 1):
        await minutes(hass, freezer, 1)
        if check():
            return minute
    pytest.fail(f"not within {limit} minutes")


def set_surplus(hass: HomeAssistant, watts: float) -> None:
    """The grid meter reports an export (positive) or an import (negative)."""
    hass.states.async_set(
        SURPLUS, str(watts), {ATTR_UNIT_OF_MEASUREMENT: "W", ATTR_DEVICE_CLASS: "power"}
    )


# --- loading -------------------------------------------------------------------------------


INPUTS = {
    SOLAR: {
        "charge_switch",
        "charging_current",
        "plugged_in",
        "surplus_sensor",
        "surplus_is_grid_export",
        "start_threshold",
        "stop_threshold",
        "start_delay",
        "stop_delay",
        "min_on_time",
        "min_off_time",
        "min_amps",
        "max_amps",
        "volts_per_amp",
        "adjust_interval",
    },
    DEPARTURE: {
        "climate_switch",
        "start_time",
        "weekdays",
        "location",
        "only_when_plugged_in",
        "plugged_in",
    },
    ALERTS: {
        "notify_action",
        "last_command",
        "plugged_in",
        "location",
        "reminder_time",
        "charging",
        "battery_level",
        "charge_limit",
        "limit_margin",
    },
}


async def test_blueprints_load(hass: HomeAssistant) -> None:
    """The blueprint integration loads all three; EV Cloud entities are picked from EV Cloud."""
    assert await async_setup_component(hass, "automation", {})
    blueprints = await async_get_blueprints(hass).async_get_blueprints()
    ours = {path for path in blueprints if path.startswith(f"{DOMAIN}/")}
    assert ours == {f"{DOMAIN}/{path}" for path in INPUTS}
    for path, inputs in INPUTS.items():
        blueprint = blueprints[f"{DOMAIN}/{path}"]
        assert isinstance(blueprint, Blueprint), blueprint
        assert blueprint.domain == "automation"
        assert set(blueprint.inputs) == inputs
        for key, spec in blueprint.inputs.items():
            selector = spec.get("selector") or {}
            if "entity" in selector and key != "surplus_sensor":
                filters = selector["entity"]["filter"]
                assert all(f["integration"] == DOMAIN for f in filters), (path, key)


# --- solar surplus charging ----------------------------------------------------------------


def solar_inputs(switch: str, **overrides: Any) -> dict[str, Any]:
    """The solar blueprint's inputs: the defaults, a sensor of the surplus left for the car."""
    return {
        "charge_switch": switch,
        "surplus_sensor": SURPLUS,
        "surplus_is_grid_export": False,
        "start_threshold": 1500,
        "stop_threshold": 300,
        "start_delay": 2,
        "stop_delay": 2,
        "min_on_time": 10,
        "min_off_time": 10,
        **overrides,
    }


async def test_solar_starts_only_after_the_minimum_off_time(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A high surplus from the start: the switch was off for too short, so charging waits."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    car = simulator.volteras.vehicles[vehicle_id]
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    plugged = entity(hass, "binary_sensor", vehicle_id, "plugged_in")
    set_surplus(hass, 0)
    await use_blueprint(hass, SOLAR, solar_inputs(switch, plugged_in=plugged))

    set_surplus(hass, 2000)
    await minutes(hass, freezer, 9)
    assert car.charging is False  # the surplus is there, the 10 minutes off are not
    await minutes(hass, freezer, 1)
    assert car.charging is True
    assert hass.states.get(switch).state == STATE_ON


async def test_solar_needs_the_surplus_above_the_threshold_for_the_whole_delay(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Below the start threshold nothing starts, nor on surplus that dips within the delay."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    car = simulator.volteras.vehicles[vehicle_id]
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    set_surplus(hass, 0)
    await use_blueprint(hass, SOLAR, solar_inputs(switch))

    set_surplus(hass, 1400)
    await minutes(hass, freezer, 30)
    assert car.charging is False
    for _ in range(5):  # a cloud every other minute
        set_surplus(hass, 2500)
        await minutes(hass, freezer, 1)
        set_surplus(hass, 900)
        await minutes(hass, freezer, 1)
    assert car.charging is False
    set_surplus(hass, 2500)
    await minutes(hass, freezer, 1)
    assert car.charging is False
    await minutes(hass, freezer, 1)
    assert car.charging is True


async def test_solar_never_starts_an_unplugged_car(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With the plugged-in sensor given, no start command goes to an unplugged car."""
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")  # parked, not plugged in
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    plugged = entity(hass, "binary_sensor", vehicle_id, "plugged_in")
    last_command = entity(hass, "sensor", vehicle_id, "last_command")
    set_surplus(hass, 0)
    await use_blueprint(
        hass, SOLAR, solar_inputs(switch, plugged_in=plugged, min_off_time=0, start_delay=1)
    )
    set_surplus(hass, 5000)
    await minutes(hass, freezer, 5)
    assert hass.states.get(last_command).state == "unknown"  # nothing was sent
    car = simulator.volteras.vehicles[vehicle_id]
    car.plugged_in = True
    await read_cars(hass)
    await minutes(hass, freezer, 1)
    assert car.charging is True


async def test_solar_stops_after_the_minimum_on_time_and_restarts_after_the_minimum_off_time(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A short dip keeps charging; a lasting one stops it, not before 10 minutes on; the
    surplus returning at once starts it again only after 10 minutes off."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    car = simulator.volteras.vehicles[vehicle_id]
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    set_surplus(hass, 2000)
    await use_blueprint(hass, SOLAR, solar_inputs(switch))
    set_surplus(hass, 2100)
    await changed_within(hass, freezer, lambda: car.charging, 10)

    set_surplus(hass, 100)
    await minutes(hass, freezer, 1)
    set_surplus(hass, 1000)  # between the thresholds: no start, no stop
    await minutes(hass, freezer, 1)
    set_surplus(hass, 100)
    await minutes(hass, freezer, 4)
    assert car.charging is True  # low for 4 minutes, but on for only 6
    await minutes(hass, freezer, 3)
    assert car.charging is True  # on for 9 minutes
    await minutes(hass, freezer, 1)
    assert car.charging is False
    assert hass.states.get(switch).state == "off"

    set_surplus(hass, 2000)
    await minutes(hass, freezer, 9)
    assert car.charging is False  # enough surplus for 9 minutes, but off for only 9
    await minutes(hass, freezer, 1)
    assert car.charging is True


@pytest.fixture
async def tesla_charging(
    hass: HomeAssistant, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> MockConfigEntry:
    """A Tesla entry whose Model Y (plain REST commands, so current control) is plugged in."""
    simulator.tesla.register_partner(APP[0], "ev.example.com", REGISTERED_KEY)
    car = simulator.tesla.cars[BLUE]
    car.online, car.sleep_after, car.plugged_in, car.battery_level = True, 86_400, True, 30.0
    monkeypatch.setattr("custom_components.ev_cloud.providers.tesla.const.WAKE_POLL", 0.05)
    entry = tesla_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_solar_follows_the_surplus_with_the_charging_current(
    hass: HomeAssistant,
    simulator: Simulator,
    tesla_charging: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """From grid export: start at export / volts, then export + the car's draw, every 5 minutes.

    The current is clamped to 6..20 A; charging stops once even the car's draw added back is
    below the stop threshold.
    """
    car = simulator.tesla.cars[BLUE]
    switch = tesla_entity(hass, SWITCH_DOMAIN, BLUE, "charge")
    current = tesla_entity(hass, "number", BLUE, "charging_current")
    set_surplus(hass, 0)
    await use_blueprint(
        hass,
        SOLAR,
        solar_inputs(
            switch,
            charging_current=current,
            surplus_is_grid_export=True,
            min_off_time=0,
            min_amps=6,
            max_amps=20,
            volts_per_amp=230,
            adjust_interval=5,
        ),
    )

    set_surplus(hass, 2760)  # 12 A at 230 V
    await minutes(hass, freezer, 2)
    assert car.charging is True
    assert car.charge_current_request == 12

    set_surplus(hass, 1150)  # still exporting 5 A with the car's 12 A drawn
    await minutes(hass, freezer, 4)
    assert car.charge_current_request == 12  # changed 4 minutes ago: not yet
    await changed_within(hass, freezer, lambda: car.charge_current_request == 17, 2)
    assert float(hass.states.get(current).state) == 17

    # A read that left before a change can show the old current for a while, which only ever
    # postpones the next change: each comes 5 minutes or more after the one before.
    for export, amps in ((-2300, 7), (-500, 6), (50_000, 20)):  # 7 A; 4.8 A -> 6; 237 A -> 20
        set_surplus(hass, export)
        waited = await changed_within(
            hass, freezer, lambda amps=amps: car.charge_current_request == amps, 11
        )
        assert waited >= 5
        assert car.charging is True  # 7 and 6 A still leave 1610 and 1110 W: no stop

    set_surplus(hass, -4500)  # 20 A leave 100 W: below the stop threshold
    await changed_within(hass, freezer, lambda: car.charging is False, 3)
    assert hass.states.get(switch).state == "off"


# --- departure pre-conditioning ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "climate_on"),
    [
        ("chosen day, car home", True),
        ("other days only", False),
        ("car away", False),
        ("plugged in, as required", True),
        ("unplugged, plug required", False),
    ],
)
async def test_preconditioning(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    case: str,
    climate_on: bool,
) -> None:
    """The climate comes on at the time, on a chosen day, only with the car home (and plugged)."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    car = simulator.volteras.vehicles[vehicle_id]
    tracker = entity(hass, "device_tracker", vehicle_id, "location")
    assert hass.states.get(tracker).state == "home"
    at = (dt_util.now() + timedelta(minutes=5)).replace(second=0, microsecond=0)
    today = WEEKDAYS[at.weekday()]
    if case == "car away":
        car.latitude, car.longitude = 48.1372, 11.5756
        await read_cars(hass)
        assert hass.states.get(tracker).state == "not_home"
    if case == "unplugged, plug required":
        car.plugged_in = False
        await read_cars(hass)
    await use_blueprint(
        hass,
        DEPARTURE,
        {
            "climate_switch": entity(hass, SWITCH_DOMAIN, vehicle_id, "climate"),
            "start_time": at.strftime("%H:%M:%S"),
            "weekdays": [d for d in WEEKDAYS if d != today]
            if case == "other days only"
            else [today],
            "location": tracker,
            "only_when_plugged_in": "plug" in case,
            "plugged_in": entity(hass, "binary_sensor", vehicle_id, "plugged_in"),
        },
    )
    await minutes(hass, freezer, 4)
    assert car.climate_on is False
    await minutes(hass, freezer, 2)
    assert car.climate_on is climate_on


# --- alerts --------------------------------------------------------------------------------


def alert_inputs(
    hass: HomeAssistant, vehicle_id: str, reminder: str = "21:00:00"
) -> dict[str, Any]:
    """The alert blueprint's inputs for one car of the Volteras fleet."""
    return {
        "notify_action": NOTIFY,
        "last_command": entity(hass, "sensor", vehicle_id, "last_command"),
        "plugged_in": entity(hass, "binary_sensor", vehicle_id, "plugged_in"),
        "location": entity(hass, "device_tracker", vehicle_id, "location"),
        "reminder_time": reminder,
        "charging": entity(hass, "binary_sensor", vehicle_id, "charging"),
        "battery_level": entity(hass, "sensor", vehicle_id, "battery_level"),
        "charge_limit": entity(hass, "number", vehicle_id, "charge_limit"),
    }


async def test_alert_on_a_failed_command_gives_the_reason(
    hass: HomeAssistant,
    slow_commands: Simulator,
    loaded_entry: MockConfigEntry,
    notifications: list[dict[str, Any]],
) -> None:
    """The car refuses a command after it was pending: the notification carries the reason.

    Real time: each command is pending for 0.3 s first, which is no news either.
    """
    simulator = slow_commands
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    await use_blueprint(hass, ALERTS, alert_inputs(hass, vehicle_id))
    lock = entity(hass, LOCK_DOMAIN, vehicle_id, "door_lock")
    await hass.services.async_call(
        LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: lock}, blocking=True
    )
    assert notifications == []  # an executed command is no news

    simulator.volteras.fail_next_command("OEM_VEHICLE_OFFLINE")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
    await hass.async_block_till_done()
    last_command = hass.states.get(entity(hass, "sensor", vehicle_id, "last_command"))
    assert notifications == [
        {"title": "Tesla Model 3: command failed", "message": last_command.attributes["message"]}
    ]
    assert notifications[0]["message"] == str(err.value)
    assert "offline" in notifications[0]["message"]


@pytest.mark.parametrize(
    ("case", "alert"),
    [("home, unplugged", True), ("home, plugged in", False), ("away, unplugged", False)],
)
async def test_plug_in_reminder(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notifications: list[dict[str, Any]],
    case: str,
    alert: bool,
) -> None:
    """At the reminder time a car at home that is not plugged in is worth a notification."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    car = simulator.volteras.vehicles[vehicle_id]
    car.plugged_in = "plugged in" in case
    if case.startswith("away"):
        car.latitude, car.longitude = 48.1372, 11.5756
    await read_cars(hass)
    at = (dt_util.now() + timedelta(minutes=3)).replace(second=0, microsecond=0)
    await use_blueprint(hass, ALERTS, alert_inputs(hass, vehicle_id, at.strftime("%H:%M:%S")))
    await minutes(hass, freezer, 4)
    expected = {
        "title": "Tesla Model 3 is not plugged in",
        "message": "Tesla Model 3 is home but not plugged in.",
    }
    assert notifications == ([expected] if alert else [])


@pytest.mark.parametrize(
    ("case", "alert"),
    [
        ("the car stops at 64%", True),
        ("the car stops at 79%", False),
        ("unplugged", False),
        ("stopped on purpose", False),
    ],
)
async def test_charging_stopped_before_the_limit(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    notifications: list[dict[str, Any]],
    case: str,
    alert: bool,
) -> None:
    """Charging ends below limit - 2 while plugged in, and not through EV Cloud: notify."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")  # 64 %, limit 80 %, plugged in
    car = simulator.volteras.vehicles[vehicle_id]
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    charging = entity(hass, "binary_sensor", vehicle_id, "charging")
    await use_blueprint(hass, ALERTS, alert_inputs(hass, vehicle_id))
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    await minutes(hass, freezer, 1)
    await read_cars(hass)
    assert hass.states.get(charging).state == STATE_ON

    await minutes(hass, freezer, 1)
    match case:
        case "the car stops at 64%":
            car.charging = False
        case "the car stops at 79%":
            car.soc, car.charging = 79.0, False
        case "unplugged":
            car.update({"plugged_in": False}, simulator.now())
        case "stopped on purpose":
            await hass.services.async_call(
                SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch}, blocking=True
            )
            await minutes(hass, freezer, 1)
    await read_cars(hass)
    assert hass.states.get(charging).state == "off"
    assert notifications == []  # the other readings of this read may not be written yet
    await minutes(hass, freezer, 1)
    expected = {
        "title": "Tesla Model 3: charging stopped before the limit",
        "message": "Tesla Model 3 stopped charging at 64% while plugged in, below its 80% limit.",
    }
    assert notifications == ([expected] if alert else [])
