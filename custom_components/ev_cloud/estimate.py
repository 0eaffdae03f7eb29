"""Between reads, an estimate of a charging car's state of charge, labelled as one.

The measured *Battery level* changes only when the car is read. While the car charges and its
provider predicts when the limit is reached, the estimate moves in a straight line from the last
reading to the limit at that moment, once a minute; otherwise it is the measured value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE
from homeassistant.core import callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .entity import EvCloudEntity, EvCloudEntityDescription
from .model import VehicleState

# How often the estimate moves on between reads.
TICK = timedelta(minutes=1)


def estimated_level(state: VehicleState, now: datetime) -> float | None:
    """The charge reached by `now`, assuming a steady pace to the predicted end."""
    level = state.battery_level
    if level is None or not state.charging or state.full_at is None:
        return level
    limit = state.charge_limit
    start = state.reported_at or state.fetched_at
    if limit is None or limit <= level or state.full_at <= start:
        return level
    done = (now - start) / (state.full_at - start)
    return round(min(limit, level + (limit - level) * max(0.0, done)), 1)


@dataclass(frozen=True, kw_only=True)
class EvCloudEstimateDescription(SensorEntityDescription, EvCloudEntityDescription):
    """The estimate's description."""


class EvCloudEstimatedBattery(EvCloudEntity, SensorEntity):
    """*Estimated battery level*: labelled, so the measured sensor stays a measurement."""

    entity_description: EvCloudEstimateDescription

    _attr_device_class = SensorDeviceClass.BATTERY
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_suggested_display_precision = 0

    async def async_added_to_hass(self) -> None:
        """Move the estimate on every minute between reads."""
        await super().async_added_to_hass()
        self.async_on_remove(async_track_time_interval(self.hass, self._async_tick, TICK))

    @callback
    def _async_tick(self, _now: datetime) -> None:
        data = self.coordinator.data
        if data is not None and data.charging:
            self.async_write_ha_state()

    @property
    def native_value(self) -> float | None:
        """The estimate now."""
        return estimated_level(self.state_data, dt_util.utcnow())
