"""The vehicle's location."""

from __future__ import annotations

from homeassistant.components.device_tracker import TrackerEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudEntity, EvCloudEntityDescription
from .runtime import EvCloudConfigEntry, VehicleData

PARALLEL_UPDATES = 0

LOCATION = EvCloudEntityDescription(key="location")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker for every vehicle, now and as vehicles appear."""

    @callback
    def add_vehicle(vehicle: VehicleData) -> None:
        async_add_entities([EvCloudTracker(vehicle, LOCATION)])

    entry.async_on_unload(entry.runtime_data.async_add_vehicle_listener(add_vehicle))


class EvCloudTracker(EvCloudEntity, TrackerEntity):
    """Where the car was last reported."""

    @property
    def latitude(self) -> float | None:
        """Latitude of the last reported position."""
        return self.state_data.latitude

    @property
    def longitude(self) -> float | None:
        """Longitude of the last reported position."""
        return self.state_data.longitude
