"""Commands end to end: sent to the simulator, followed while pending, confirmed or failed."""

from __future__ import annotations

import asyncio

from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.components.number import ATTR_VALUE, DOMAIN as NUMBER_DOMAIN, SERVICE_SET_VALUE
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ASSUMED_STATE,
    ATTR_ENTITY_ID,
    SERVICE_LOCK,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    SERVICE_UNLOCK,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from custom_components.ev_cloud.model import FailureReason
from custom_components.ev_cloud.providers.volteras.failures import (
    FAILURE_REASONS as KNOWN_FAILED_REASONS,
)
from simulator import Simulator

COMMAND_PREFIX = "/v1/vehicles/{vehicle_id}/command-execution:"


def vehicle_by_make(sim: Simulator, make: str) -> str:
    """The id of the simulator's vehicle of that make."""
    return next(vid for vid, v in sim.volteras.vehicles.items() if v.make == make)


def entity(hass: HomeAssistant, domain: str, vehicle_id: str, key: str) -> str:
    """Entity id from the unique id (provider, VIN and key) of the simulator's vehicle."""
    keys = [
        vehicle.device_key
        for entry in hass.config_entries.async_entries(DOMAIN)
        for vehicle in entry.runtime_data.vehicles.values()
        if vehicle.info.id == vehicle_id
    ]
    assert keys, f"vehicle {vehicle_id} not loaded"
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, f"{keys[0]}_{key}")
    assert entity_id is not None, f"{domain} {key} missing"
    return entity_id


def commands_sent(sim: Simulator) -> list[str]:
    """The command endpoints the simulator received, in order."""
    return [
        path.removeprefix(COMMAND_PREFIX)
        for method, path in sim.volteras.request_log
        if method == "POST" and path.startswith(COMMAND_PREFIX)
    ]


async def test_start_and_stop_charging(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """A plugged-in car starts and stops charging; the switch follows at once."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    assert hass.states.get(switch).state == STATE_OFF

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert hass.states.get(switch).state == STATE_ON
    assert simulator.volteras.vehicles[vehicle_id].charging is True
    last_command = hass.states.get(entity(hass, "sensor", vehicle_id, "last_command"))
    assert last_command.state == "executed"
    assert last_command.attributes["command"] == "start_charging"

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert hass.states.get(switch).state == STATE_OFF
    assert simulator.volteras.vehicles[vehicle_id].charging is False
    assert commands_sent(simulator) == ["start-charging", "stop-charging"]


async def test_start_charging_unplugged_fails_and_rolls_back(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """The car refuses: a translated reason, the switch back off, the failure on record."""
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert err.value.translation_key == "command_failed_not_plugged_in"
    assert "did not start charging" in str(err.value)
    # The provider's own code stays visible in the message and on the last-command sensor.
    assert "OEM_VEHICLE_CHARGING_NOT_STARTED" in str(err.value)
    assert hass.states.get(switch).state == STATE_OFF
    last_command = hass.states.get(entity(hass, "sensor", vehicle_id, "last_command"))
    assert last_command.state == "failed"
    assert last_command.attributes["failed_reason"] == "not_plugged_in"
    assert last_command.attributes["provider_code"] == "OEM_VEHICLE_CHARGING_NOT_STARTED"
    assert last_command.attributes["message"] == str(err.value)


@pytest.mark.parametrize(
    ("reason", "translation_key", "text"),
    [
        ("OEM_VEHICLE_OFFLINE", "command_failed_offline", "the vehicle is offline"),
        ("OEM_COMMAND_TIMEOUT", "command_failed_timeout", "did not confirm"),
        (
            "OEM_VEHICLE_NOT_IN_AUTHORIZED_LOCATION",
            "command_failed_not_at_location",
            "not at a location",
        ),
        ("NOT_PERMITTED", "command_failed_not_permitted", "not permitted"),
        ("SOMETHING_NEW", "command_failed_unknown", "SOMETHING_NEW"),
    ],
)
async def test_charge_limit_failure_reasons(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    reason: str,
    translation_key: str,
    text: str,
) -> None:
    """Every failedReason gives its own translated message; the old limit stays."""
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    before = hass.states.get(number).state
    simulator.volteras.fail_next_command(reason)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: 90},
            blocking=True,
        )
    assert err.value.translation_key == translation_key
    assert text in str(err.value)
    assert hass.states.get(number).state == before
    assert simulator.volteras.vehicles[vehicle_id].charge_limit == float(before)


@pytest.mark.parametrize("reason", sorted(KNOWN_FAILED_REASONS))
async def test_every_failed_reason_is_translated(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry, reason: str
) -> None:
    """Each documented reason reaches the user as a neutral sentence, with its code beside it."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    lock = entity(hass, LOCK_DOMAIN, vehicle_id, "door_lock")
    simulator.volteras.fail_next_command(reason)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
    neutral = KNOWN_FAILED_REASONS[reason]
    assert neutral is not FailureReason.UNKNOWN
    assert err.value.translation_key == f"command_failed_{neutral.value}"
    message = str(err.value)
    assert message.startswith("Command for Tesla Model 3 failed: ")
    assert message.endswith(f"({reason})")
    assert hass.states.get(lock).state == "locked"


async def test_charge_limit_set(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """The setpoint is sent as an integer and shown right away."""
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    await hass.services.async_call(
        NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: number, ATTR_VALUE: 90}, blocking=True
    )
    assert float(hass.states.get(number).state) == 90
    assert simulator.volteras.vehicles[vehicle_id].charge_limit == 90


@pytest.mark.parametrize("value", [30, 101, 49.4, 100.6])
async def test_charge_limit_out_of_range(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry, value: float
) -> None:
    """Out-of-range input is refused before anything is sent."""
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    simulator.volteras.request_log.clear()
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: value},
            blocking=True,
        )
    assert commands_sent(simulator) == []


async def test_out_of_range_message(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """An out-of-range value explains the allowed range and step, whoever checks it first."""
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: 120},
            blocking=True,
        )
    # Home Assistant checks min and max from the entity first.
    assert err.value.translation_key == "out_of_range"
    # The entity checks again itself (a caller may bypass the service, bounds may move).
    platform = next(p for p in async_get_platforms(hass, DOMAIN) if p.domain == NUMBER_DOMAIN)
    with pytest.raises(ServiceValidationError) as err:
        await platform.entities[number].async_set_native_value(120)
    assert err.value.translation_key == "value_out_of_range"
    assert "from 50 to 100 in steps of 1" in str(err.value)


async def test_off_step_value_snaps_to_the_nearest_step(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """80.6 % is sent as 81 %: the nearest value the car accepts."""
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    await hass.services.async_call(
        NUMBER_DOMAIN, SERVICE_SET_VALUE, {ATTR_ENTITY_ID: number, ATTR_VALUE: 80.6}, blocking=True
    )
    assert simulator.volteras.vehicles[vehicle_id].charge_limit == 81


async def test_slider_drag_coalesces(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Many writes while one is in flight end as two commands: the first and the last.

    The replaced requests fail as superseded; none of them claims a success it did not have.
    """
    vehicle_id = vehicle_by_make(simulator, "POLESTAR")
    number = entity(hass, NUMBER_DOMAIN, vehicle_id, "charge_limit")
    simulator.volteras.request_log.clear()
    results = await asyncio.gather(
        *(
            hass.services.async_call(
                NUMBER_DOMAIN,
                SERVICE_SET_VALUE,
                {ATTR_ENTITY_ID: number, ATTR_VALUE: value},
                blocking=True,
            )
            for value in (81, 82, 83, 84, 85)
        ),
        return_exceptions=True,
    )
    await hass.async_block_till_done()
    assert results[0] is None
    assert results[4] is None
    for superseded in results[1:4]:
        assert isinstance(superseded, HomeAssistantError)
        assert superseded.translation_key == "command_failed_superseded"
    assert commands_sent(simulator) == ["set-charge-limit", "set-charge-limit"]
    assert simulator.volteras.vehicles[vehicle_id].charge_limit == 85
    assert float(hass.states.get(number).state) == 85


@pytest.mark.parametrize(
    ("fault", "params", "translation_key"),
    [
        ("command_in_progress", {}, "command_failed_busy"),
        ("internal_rate_limited", {"retry_after": 120}, "command_failed_rate_limited"),
        ("server_error", {}, "command_failed_cloud_error"),
        ("not_found", {}, "command_failed_consent_expired"),
        ("malformed", {}, "command_failed_cloud_error"),
    ],
)
async def test_command_errors(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    fault: str,
    params: dict[str, int],
    translation_key: str,
) -> None:
    """Errors of the API itself are translated too, and the state rolls back."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    simulator.faults.set(fault, path="command-execution", **params)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert err.value.translation_key == translation_key
    assert hass.states.get(switch).state == STATE_OFF
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_command_auth_failure_starts_reauth(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Credentials refused while sending: translated error and a reauth flow."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, vehicle_id, "charge")
    simulator.faults.set("unauthorized")
    simulator.faults.set("unauthorized", path="/v1/oauth2/token")
    simulator.volteras.revoke_tokens()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert err.value.translation_key == "command_failed_not_permitted"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_pending_too_long(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command the provider never settles is reported as timed out, not left hanging."""
    monkeypatch.setattr("custom_components.ev_cloud.command.TIMEOUT_MARGIN", -10_000.0)
    simulator.command_delay = 10_000.0
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    lock = entity(hass, LOCK_DOMAIN, vehicle_id, "door_lock")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: lock}, blocking=True
        )
    assert err.value.translation_key == "command_failed_timeout"


async def test_lock_and_unlock(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Doors lock and unlock; while the command is pending the lock says 'unlocking'."""
    vehicle_id = vehicle_by_make(simulator, "TESLA")
    lock = entity(hass, LOCK_DOMAIN, vehicle_id, "door_lock")
    seen: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            seen.append(event.data["new_state"].state) if event.data["entity_id"] == lock else None
        ),
    )
    await hass.services.async_call(
        LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: lock}, blocking=True
    )
    assert hass.states.get(lock).state == "unlocked"
    assert seen[0] == "unlocking"
    assert "locked" not in seen
    assert simulator.volteras.vehicles[vehicle_id].locked is False
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    assert hass.states.get(lock).state == "locked"
    assert simulator.volteras.vehicles[vehicle_id].locked is True


async def test_charge_port(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """The charge port switch exists for cars with a motorised port, and works."""
    tesla = vehicle_by_make(simulator, "TESLA")
    switch = entity(hass, SWITCH_DOMAIN, tesla, "charge_port")
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert hass.states.get(switch).state == STATE_ON
    assert simulator.volteras.vehicles[tesla].charge_port_open is True
    volkswagen = vehicle_by_make(simulator, "VOLKSWAGEN")
    assert (
        er.async_get(hass).async_get_entity_id(
            SWITCH_DOMAIN,
            DOMAIN,
            f"volteras_{simulator.volteras.vehicles[volkswagen].vin}_charge_port",
        )
        is None
    )


async def test_climate_and_temperature_assumed_state(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Volteras cannot read climate back: the entities say so and show what was last set."""
    vehicle_id = vehicle_by_make(simulator, "VOLKSWAGEN")
    climate = entity(hass, SWITCH_DOMAIN, vehicle_id, "climate")
    temperature = entity(hass, NUMBER_DOMAIN, vehicle_id, "target_temperature")
    assert hass.states.get(climate).attributes[ATTR_ASSUMED_STATE] is True

    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: temperature, ATTR_VALUE: 21.5},
        blocking=True,
    )
    assert float(hass.states.get(temperature).state) == 21.5
    assert simulator.volteras.vehicles[vehicle_id].driver_temperature == 21.5

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: climate}, blocking=True
    )
    assert hass.states.get(climate).state == STATE_ON
    assert simulator.volteras.vehicles[vehicle_id].climate_on is True

    simulator.volteras.fail_next_command("OEM_VEHICLE_OFFLINE")
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: climate}, blocking=True
        )
    assert hass.states.get(climate).state == STATE_ON
