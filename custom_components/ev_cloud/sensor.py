"""Sensors: battery, range, charging, energy, freshness and the last command's outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfEnergy,
    UnitOfLength,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .entity import EvCloudEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .estimate import EvCloudEstimatedBattery, EvCloudEstimateDescription
from .model import Capability, ChargingState, CommandStatus, ConnectionStatus
from .runtime import EvCloudConfigEntry, VehicleData
from .usage_sensor import usage_sensors

# Read-only: the coordinator does all the I/O.
PARALLEL_UPDATES = 0

type SensorValue = StateType | datetime


@dataclass(frozen=True, kw_only=True)
class EvCloudSensorDescription(SensorEntityDescription, EvCloudEntityDescription):
    """A sensor reading one value of the vehicle."""

    value_fn: Callable[[VehicleData], SensorValue]
    attributes_fn: Callable[[VehicleData], dict[str, Any] | None] = lambda _: None


def _last_command_attributes(vehicle: VehicleData) -> dict[str, Any] | None:
    outcome = vehicle.commands.last_outcome
    if outcome is None:
        return None
    return {
        "command": outcome.command.type.value,
        "value": outcome.command.value,
        # The neutral reason for automations, the provider's own code, and words for people.
        "failed_reason": outcome.reason.value if outcome.reason else None,
        "provider_code": outcome.code,
        "message": outcome.message,
    }


def _enum_value(value: StrEnum | None) -> str | None:
    return value.value if value is not None else None


def _polling_interval(vehicle: VehicleData) -> float | None:
    interval = vehicle.coordinator.update_interval
    return interval.total_seconds() if interval else None


def _polling_plan(vehicle: VehicleData) -> dict[str, Any]:
    """Why the car is read at this pace, and when the next read (or a command's extra one) is."""
    coordinator = vehicle.coordinator
    reason = coordinator.poll_reason
    next_read = coordinator.next_read_at
    if (extra := coordinator.extra_read_at) is not None and extra < next_read:
        next_read = extra
    return {
        "reason": reason.value if reason is not None else None,
        "next_read": next_read.isoformat(),
    }


# Where the battery level is read (cars that send none get neither sensor).
ESTIMATED_BATTERY = EvCloudEstimateDescription(
    key="estimated_battery_level",
    entity_registry_enabled_default=False,
    exists_fn=lambda info: "battery_level" not in info.unsupported,
)

SENSORS: tuple[EvCloudSensorDescription, ...] = (
    EvCloudSensorDescription(
        key="battery_level",
        native_unit_of_measurement=PERCENTAGE,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda v: v.coordinator.data.battery_level,
    ),
    EvCloudSensorDescription(
        key="range",
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        device_class=SensorDeviceClass.DISTANCE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda v: v.coordinator.data.range_km,
    ),
    EvCloudSensorDescription(
        key="charging_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in ChargingState],
        value_fn=lambda v: _enum_value(v.coordinator.data.charging_state),
    ),
    EvCloudSensorDescription(
        key="connection_status",
        device_class=SensorDeviceClass.ENUM,
        # Without AC/DC a connected car's charger is unknown: Plugged in already says the rest.
        enabled_by_default_fn=lambda info: Capability.CHARGER_TYPE in info.capabilities,
        options=[status.value for status in ConnectionStatus],
        value_fn=lambda v: _enum_value(v.coordinator.data.connection_status),
    ),
    EvCloudSensorDescription(
        key="charging_power",
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda v: v.coordinator.data.charging_power_kw,
    ),
    EvCloudSensorDescription(
        key="charging_current_limit",
        # Rarely looked at; a fleet's cars would each add one more entity to keep.
        entity_registry_enabled_default=False,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda v: v.coordinator.data.charging_current_limit_a,
    ),
    EvCloudSensorDescription(
        # Read-only where the provider cannot set it (Volvo); elsewhere the number entity shows it.
        key="charge_limit",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        exists_fn=lambda info: Capability.CHARGE_LIMIT_CONTROL not in info.capabilities,
        value_fn=lambda v: v.coordinator.data.charge_limit,
    ),
    EvCloudSensorDescription(
        key="time_to_full",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda v: v.coordinator.data.full_at,
    ),
    EvCloudSensorDescription(
        key="energy_added",
        capability=Capability.ENERGY_ADDED,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        # Per charging session: a drop to a smaller value is a new session, never a negative.
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=lambda v: v.coordinator.data.energy_added_kwh,
    ),
    EvCloudSensorDescription(
        key="cabin_temperature",
        capability=Capability.CABIN_TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda v: v.coordinator.data.cabin_temperature_c,
    ),
    EvCloudSensorDescription(
        key="outside_temperature",
        capability=Capability.OUTSIDE_TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda v: v.coordinator.data.outside_temperature_c,
    ),
    EvCloudSensorDescription(
        key="energy_remaining",
        capability=Capability.ENERGY_REMAINING,
        # Battery level shows the same in per cent.
        entity_registry_enabled_default=False,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        # Stored energy goes up and down: a measurement, never counted by the Energy dashboard.
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda v: v.coordinator.data.energy_remaining_kwh,
    ),
    EvCloudSensorDescription(
        key="odometer",
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        device_class=SensorDeviceClass.DISTANCE,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        value_fn=lambda v: v.coordinator.data.odometer_km,
    ),
    EvCloudSensorDescription(
        key="last_command",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in CommandStatus],
        value_fn=lambda v: (
            v.commands.last_outcome.status.value if v.commands.last_outcome else None
        ),
        attributes_fn=_last_command_attributes,
    ),
    EvCloudSensorDescription(
        key="last_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda v: v.coordinator.data.reported_at,
    ),
    EvCloudSensorDescription(
        key="polling_interval",
        native_unit_of_measurement=UnitOfTime.SECONDS,
        device_class=SensorDeviceClass.DURATION,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_polling_interval,
        attributes_fn=_polling_plan,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's usage sensors, and those of every vehicle, now and as vehicles appear."""
    async_add_entities(usage_sensors(entry))
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudSensor, SENSORS)
    await async_add_vehicle_entities(
        entry, async_add_entities, EvCloudEstimatedBattery, (ESTIMATED_BATTERY,)
    )


class EvCloudSensor(EvCloudEntity, SensorEntity):
    """A vehicle sensor."""

    entity_description: EvCloudSensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value the description reads."""
        return self.entity_description.value_fn(self.vehicle)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details where a description has them (the last command's reason)."""
        return self.entity_description.attributes_fn(self.vehicle)
