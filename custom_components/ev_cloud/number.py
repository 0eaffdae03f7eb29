"""Numbers: charge limit, charging current and cabin target temperature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, UnitOfElectricCurrent, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import EvCloudCommandEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, Command, CommandType, NumberRange, VehicleInfo, VehicleState
from .runtime import EvCloudConfigEntry, VehicleData

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudNumberDescription(NumberEntityDescription, EvCloudEntityDescription):
    """A setpoint backed by one `set_*` command."""

    command: CommandType
    # The car's own bounds where the provider reports them, else the provider's fallback.
    range_fn: Callable[[VehicleInfo, VehicleState | None], NumberRange]
    value_fn: Callable[[VehicleState], float | None]
    # Without this capability the provider cannot read the value back, so the entity shows
    # the value it last set (an assumed state).
    readback: Capability | None = None


NUMBERS: tuple[EvCloudNumberDescription, ...] = (
    EvCloudNumberDescription(
        key="charge_limit",
        capability=Capability.CHARGE_LIMIT_CONTROL,
        command=CommandType.SET_CHARGE_LIMIT,
        native_unit_of_measurement=PERCENTAGE,
        device_class=NumberDeviceClass.BATTERY,
        mode=NumberMode.SLIDER,
        range_fn=lambda info, state: (
            (state and state.charge_limit_range) or info.charge_limit_range
        ),
        value_fn=lambda state: state.charge_limit,
    ),
    EvCloudNumberDescription(
        key="charging_current",
        capability=Capability.CHARGING_CURRENT_CONTROL,
        command=CommandType.SET_CHARGING_CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=NumberDeviceClass.CURRENT,
        mode=NumberMode.SLIDER,
        range_fn=lambda info, state: (
            (state and state.charging_current_range) or info.charging_current_range
        ),
        value_fn=lambda state: state.charging_current_a,
    ),
    EvCloudNumberDescription(
        key="target_temperature",
        capability=Capability.TEMPERATURE_CONTROL,
        command=CommandType.SET_TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=NumberDeviceClass.TEMPERATURE,
        mode=NumberMode.BOX,
        range_fn=lambda info, _state: info.temperature_range,
        value_fn=lambda state: state.target_temperature_c,
        readback=Capability.CLIMATE_READBACK,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers of every vehicle, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudNumber, NUMBERS)


def snap(value: float, bounds: NumberRange) -> float | None:
    """The nearest valid step to `value`, or None when it lies outside the bounds.

    Home Assistant converts a value typed in °F to °C before it gets here (70 °F is 21.11 °C),
    so an off-step value is rounded to the nearest step the car accepts, not refused.
    """
    tolerance = bounds.step / 2
    if not bounds.minimum - tolerance <= value <= bounds.maximum + tolerance:
        return None
    steps = round((value - bounds.minimum) / bounds.step)
    snapped = bounds.minimum + steps * bounds.step
    return round(min(max(snapped, bounds.minimum), bounds.maximum), 6)


def snapped_or_raise(value: float, bounds: NumberRange) -> float:
    """`snap(value)`, or a translated validation error naming the car's bounds."""
    if (snapped := snap(value, bounds)) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="value_out_of_range",
            translation_placeholders={
                "value": f"{value:g}",
                "minimum": f"{bounds.minimum:g}",
                "maximum": f"{bounds.maximum:g}",
                "step": f"{bounds.step:g}",
            },
        )
    return snapped


class EvCloudNumber(EvCloudCommandEntity[float], RestoreNumber):
    """A vehicle setpoint; bounds come from the car where it reports them."""

    entity_description: EvCloudNumberDescription
    _assumed_value: float | None = None

    def __init__(self, vehicle: VehicleData, description: EvCloudNumberDescription) -> None:
        """Mark setpoints without read-back as assumed state."""
        super().__init__(vehicle, description)
        readback = description.readback
        self._attr_assumed_state = (
            readback is not None and readback not in vehicle.info.capabilities
        )

    @property
    def holds_until_read(self) -> bool:
        """A setpoint without read-back never gets a reading to wait for."""
        return not self._attr_assumed_state

    def measured(self, state: VehicleState) -> float | None:
        """What the car reports."""
        return self.entity_description.value_fn(state)

    @property
    def bounds(self) -> NumberRange:
        """What the car accepts now."""
        return self.entity_description.range_fn(self.vehicle.info, self.coordinator.data)

    @property
    def native_min_value(self) -> float:
        """Lowest value the car accepts."""
        return self.bounds.minimum

    @property
    def native_max_value(self) -> float:
        """Highest value the car accepts."""
        return self.bounds.maximum

    @property
    def native_step(self) -> float:
        """Step the car accepts."""
        return self.bounds.step

    async def async_added_to_hass(self) -> None:
        """Restore the last value we set where the car cannot tell us."""
        await super().async_added_to_hass()
        if self._attr_assumed_state and (last := await self.async_get_last_number_data()):
            self._assumed_value = last.native_value

    @property
    def native_value(self) -> float | None:
        """The setpoint the car reports (or, without read-back, the one we last set)."""
        if self._attr_assumed_state:
            return self.current(lambda: self._assumed_value)
        return self.current(lambda: self.entity_description.value_fn(self.state_data))

    async def async_set_native_value(self, value: float) -> None:
        """Validate against the car's bounds, then send; nothing is sent when invalid."""
        snapped = snapped_or_raise(value, self.bounds)
        await self.async_send(Command(type=self.entity_description.command, value=snapped), snapped)

    def on_command_executed(self, value: float) -> None:
        """Remember what we set when the car cannot report it."""
        if self._attr_assumed_state:
            self._assumed_value = value
