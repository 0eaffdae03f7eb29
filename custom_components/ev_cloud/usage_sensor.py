"""The entry's own sensors: API requests today, and for billing providers the month's cost.

They belong to a service device named after the account, since they count the whole entry's
traffic rather than one car's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from homeassistant.components.sensor import RestoreSensor, SensorDeviceClass, SensorStateClass
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo

from .const import DOMAIN
from .runtime import EvCloudConfigEntry, account_device_key
from .usage import ApiUsage, usage_attributes


class EvCloudUsageSensor(RestoreSensor):
    """A count of what the entry spends, updated with every request it makes."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: EvCloudConfigEntry, key: str) -> None:
        """Attach to the entry's account device."""
        self.usage: ApiUsage = entry.runtime_data.usage
        self._attr_translation_key = key
        # The account, not the entry: a re-added account keeps its history.
        account = account_device_key(entry)
        self._attr_unique_id = f"{account}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, account)},
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="EV Cloud",
            model=entry.runtime_data.spec.name.title(),
            name=entry.title,
        )

    async def async_added_to_hass(self) -> None:
        """Carry the counts over a restart, then follow every request."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.restore(last.attributes)
        self.async_on_remove(self.usage.async_add_listener(self.async_write_ha_state))

    @callback
    def restore(self, attributes: Any) -> None:
        """Hook for the subclasses: what they keep of their last state."""


class ApiRequestsSensor(EvCloudUsageSensor):
    """Requests today, by kind in the attributes; it starts again at local midnight."""

    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = "requests"

    @property
    def native_value(self) -> int:
        """All kinds together."""
        return sum(self.usage.today.values())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The day and each kind's count."""
        return usage_attributes(self.usage)

    @callback
    def restore(self, attributes: Any) -> None:
        """Counts of the same day continue."""
        try:
            day = date.fromisoformat(str(attributes.get("day")))
        except ValueError:
            return
        counts = {k: v for k, v in attributes.items() if isinstance(v, int)}
        self.usage.restore(day, counts, 0.0)


class ApiCostSensor(EvCloudUsageSensor):
    """The month's bill so far at the provider's published prices (before any free credit)."""

    _attr_device_class = SensorDeviceClass.MONETARY
    _attr_state_class = SensorStateClass.TOTAL
    _attr_native_unit_of_measurement = "USD"
    _attr_suggested_display_precision = 3

    @property
    def native_value(self) -> float:
        """Dollars this month."""
        return round(self.usage.month_cost, 4)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The month the cost is for."""
        return {"month": self.usage.day.strftime("%Y-%m")}

    async def async_added_to_hass(self) -> None:
        """The cost of the same month continues."""
        await super().async_added_to_hass()
        last = await self.async_get_last_sensor_data()
        state = await self.async_get_last_state()
        if last is None or state is None or not isinstance(last.native_value, (int, float)):
            return
        month = str(state.attributes.get("month", ""))
        try:
            day = date.fromisoformat(f"{month}-01")
        except ValueError:
            return
        self.usage.restore(day, {}, float(last.native_value))


def usage_sensors(entry: EvCloudConfigEntry) -> list[EvCloudUsageSensor]:
    """The entry's usage sensors: the cost only where the provider bills per request."""
    sensors: list[EvCloudUsageSensor] = [ApiRequestsSensor(entry, "api_requests")]
    if entry.runtime_data.usage.bills:
        sensors.append(ApiCostSensor(entry, "api_cost"))
    return sensors
