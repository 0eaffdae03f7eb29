"""Climate: the car's cabin conditioning as one entity Assist understands.

Only where the provider reads climatisation back (Tesla): "set the <car> to 21 degrees" and "turn
on the <car>" then say the truth. Providers without read-back keep the climate switch and target
temperature number, whose assumed state says what EV Cloud last set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.climate import ClimateEntity, ClimateEntityDescription
from homeassistant.components.climate.const import ATTR_HVAC_MODE, ClimateEntityFeature, HVACMode
from homeassistant.const import ATTR_TEMPERATURE, UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudCommandEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, Command, CommandType, VehicleInfo, VehicleState
from .number import snapped_or_raise
from .runtime import EvCloudConfigEntry

PARALLEL_UPDATES = 0


def _readable_climate(info: VehicleInfo) -> bool:
    needed = {
        Capability.CLIMATE_CONTROL,
        Capability.TEMPERATURE_CONTROL,
        Capability.CLIMATE_READBACK,
    }
    return needed <= info.capabilities


@dataclass(frozen=True, kw_only=True)
class EvCloudClimateDescription(ClimateEntityDescription, EvCloudEntityDescription):
    """The cabin conditioning."""


CLIMATE = EvCloudClimateDescription(key="climate", exists_fn=_readable_climate)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the climate entity of every vehicle that reads climatisation back."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudClimate, (CLIMATE,))


class EvCloudClimate(EvCloudCommandEntity[bool], ClimateEntity):
    """Cabin conditioning: on/off and the target temperature, as the car reports them."""

    # The car's main climate control: its name is the device's.
    _attr_name = None
    entity_description: EvCloudClimateDescription
    _attr_hvac_modes = [HVACMode.HEAT_COOL, HVACMode.OFF]  # noqa: RUF012 - Home Assistant's type
    _attr_supported_features = (
        ClimateEntityFeature.TARGET_TEMPERATURE
        | ClimateEntityFeature.TURN_ON
        | ClimateEntityFeature.TURN_OFF
    )
    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _requested_temperature: float | None = None
    _temperature_confirmed = False

    def measured(self, state: VehicleState) -> bool | None:
        """Whether the car reports climatisation running."""
        return state.climate_on

    @property
    def hvac_mode(self) -> HVACMode | None:
        """Heat/cool while the car conditions the cabin."""
        running = self.current(lambda: self.state_data.climate_on)
        if running is None:
            return None
        return HVACMode.HEAT_COOL if running else HVACMode.OFF

    @property
    def target_temperature(self) -> float | None:
        """The requested temperature while it is being sent, then what the car reports."""
        if self._requested_temperature is not None:
            return self._requested_temperature
        return self.state_data.target_temperature_c

    @callback
    def _handle_coordinator_update(self) -> None:
        """A reading after the temperature was confirmed shows the car's own value."""
        if self._temperature_confirmed:
            self._requested_temperature = None
            self._temperature_confirmed = False
        super()._handle_coordinator_update()

    @property
    def current_temperature(self) -> float | None:
        """The cabin temperature the car measures."""
        return self.state_data.cabin_temperature_c

    @property
    def min_temp(self) -> float:
        """The lowest temperature the car accepts."""
        return self.vehicle.info.temperature_range.minimum

    @property
    def max_temp(self) -> float:
        """The highest temperature the car accepts."""
        return self.vehicle.info.temperature_range.maximum

    @property
    def target_temperature_step(self) -> float:
        """The car's step."""
        return self.vehicle.info.temperature_range.step

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Send the temperature (snapped to the car's step), and the mode if one was given."""
        snapped = snapped_or_raise(
            float(kwargs[ATTR_TEMPERATURE]), self.vehicle.info.temperature_range
        )
        self._requested_temperature, self._temperature_confirmed = snapped, False
        self.async_write_ha_state()
        try:
            await self.vehicle.commands.async_execute(
                Command(type=CommandType.SET_TEMPERATURE, value=snapped)
            )
        except HomeAssistantError:
            self._requested_temperature = None
            self.async_write_ha_state()
            raise
        self._temperature_confirmed = True
        if (mode := kwargs.get(ATTR_HVAC_MODE)) is not None:
            await self.async_set_hvac_mode(mode)

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Start or stop conditioning."""
        if hvac_mode == HVACMode.OFF:
            await self.async_send(Command(type=CommandType.CLIMATE_OFF), False)
        else:
            await self.async_send(Command(type=CommandType.CLIMATE_ON), True)

    async def async_turn_on(self) -> None:
        """Start conditioning."""
        await self.async_set_hvac_mode(HVACMode.HEAT_COOL)

    async def async_turn_off(self) -> None:
        """Stop conditioning."""
        await self.async_set_hvac_mode(HVACMode.OFF)
