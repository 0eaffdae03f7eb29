"""The vehicle's location."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.device_tracker.entity import TrackerEntity, TrackerEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .runtime import EvCloudConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudTrackerDescription(TrackerEntityDescription, EvCloudEntityDescription):
    """The vehicle's position."""


LOCATION = EvCloudTrackerDescription(key="location")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a tracker for every vehicle, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudTracker, (LOCATION,))


class EvCloudTracker(EvCloudEntity, TrackerEntity):
    """Where the car was last reported."""

    entity_description: EvCloudTrackerDescription

    @property
    def latitude(self) -> float | None:
        """Latitude of the last reported position."""
        return self.state_data.latitude

    @property
    def longitude(self) -> float | None:
        """Longitude of the last reported position."""
        return self.state_data.longitude
