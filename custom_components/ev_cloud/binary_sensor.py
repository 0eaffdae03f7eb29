"""Binary sensors: plugged in and charging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, VehicleState
from .runtime import EvCloudConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudBinarySensorDescription(BinarySensorEntityDescription, EvCloudEntityDescription):
    """A yes/no reading of the vehicle."""

    value_fn: Callable[[VehicleState], bool | None]


BINARY_SENSORS: tuple[EvCloudBinarySensorDescription, ...] = (
    EvCloudBinarySensorDescription(
        key="plugged_in",
        device_class=BinarySensorDeviceClass.PLUG,
        value_fn=lambda state: state.plugged_in,
    ),
    EvCloudBinarySensorDescription(
        key="charging",
        # battery_charging gives users HA's "started/stopped charging" triggers.
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        value_fn=lambda state: state.charging,
    ),
    EvCloudBinarySensorDescription(
        key="asleep",
        capability=Capability.SLEEP_STATE,
        value_fn=lambda state: state.asleep,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of every vehicle, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudBinarySensor, BINARY_SENSORS)


class EvCloudBinarySensor(EvCloudEntity, BinarySensorEntity):
    """A vehicle binary sensor."""

    entity_description: EvCloudBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The value the description reads."""
        return self.entity_description.value_fn(self.state_data)
