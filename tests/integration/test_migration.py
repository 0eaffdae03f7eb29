"""Entries and registries from 0.1.0 (keyed by Volteras vehicle id) move to provider + VIN keys."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import CONFIG_VERSION, DOMAIN
from custom_components.ev_cloud.migration import async_migrate_entry
from simulator import Simulator

from .conftest import ORGANIZATION_ID, entry_data, vehicle_key

TESLA = "veh-tesla-m3"


def v1_entry(simulator: Simulator, version: int = 1) -> MockConfigEntry:
    """An entry as 0.1.0 wrote it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volteras",
        unique_id=ORGANIZATION_ID,
        data=entry_data(simulator.url),
        version=version,
    )


def register_v1_car(
    hass: HomeAssistant, entry: MockConfigEntry, vehicle_id: str, vin: str | None
) -> dict[str, str]:
    """A 0.1.0 device and three of its entities; returns unique id → entity id."""
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, vehicle_id)},
        name="Tesla Model 3",
        serial_number=vin,
    )
    registry = er.async_get(hass)
    entities = {}
    for domain, key in (
        ("switch", "charging"),
        ("binary_sensor", "charging"),
        ("sensor", "battery_level"),
    ):
        created = registry.async_get_or_create(
            domain,
            DOMAIN,
            f"{vehicle_id}_{key}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"my_tesla_{key}_{domain}",
        )
        entities[f"{domain}.{key}"] = created.entity_id
    return entities


async def test_v1_registries_migrate_to_vin_keys(hass: HomeAssistant, simulator: Simulator) -> None:
    """Entity ids, and with them history and automations, survive; nothing is duplicated."""
    entry = v1_entry(simulator)
    entry.add_to_hass(hass)
    old = register_v1_car(hass, entry, TESLA, simulator.volteras.vehicles[TESLA].vin.lower())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.version == CONFIG_VERSION
    key = vehicle_key(simulator, TESLA)
    registry = er.async_get(hass)
    # The switch was renamed from "charging" to "charge": its id and history move with it.
    assert registry.async_get_entity_id("switch", DOMAIN, f"{key}_charge") == old["switch.charging"]
    assert (
        registry.async_get_entity_id("binary_sensor", DOMAIN, f"{key}_charging")
        == old["binary_sensor.charging"]
    )
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"{key}_battery_level")
        == old["sensor.battery_level"]
    )
    assert hass.states.get(old["sensor.battery_level"]).state != STATE_UNAVAILABLE
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    tesla = [d for d in devices if (DOMAIN, key) in d.identifiers]
    assert len(tesla) == 1
    assert not any((DOMAIN, TESLA) in d.identifiers for d in devices)
    assert not [
        e
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.unique_id.startswith(f"{TESLA}_")
    ]


async def test_device_without_vin_keeps_its_id(hass: HomeAssistant, simulator: Simulator) -> None:
    """A 0.1.0 device with no serial number is keyed by the provider id it had."""
    entry = v1_entry(simulator)
    entry.add_to_hass(hass)
    register_v1_car(hass, entry, "veh-gone", None)
    # Migration alone: at set-up this car, gone from the account, would be removed.
    assert await async_migrate_entry(hass, entry)
    assert entry.version == CONFIG_VERSION
    assert er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, "volteras_veh-gone_battery_level"
    )


async def test_entry_from_a_newer_version_is_left_alone(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """A downgrade does not guess: the entry stays unloaded with a migration error."""
    entry = v1_entry(simulator, version=CONFIG_VERSION + 1)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_two_devices_with_one_vin(hass: HomeAssistant, simulator: Simulator) -> None:
    """The same car listed twice in 0.1.0 (two maker accounts): the entry still loads."""
    entry = v1_entry(simulator)
    entry.add_to_hass(hass)
    vin = simulator.volteras.vehicles[TESLA].vin
    first = register_v1_car(hass, entry, TESLA, vin)
    register_v1_car(hass, entry, "veh-tesla-old-record", vin)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    key = vehicle_key(simulator, TESLA)
    assert (
        er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{key}_battery_level")
        == first["sensor.battery_level"]
    )
