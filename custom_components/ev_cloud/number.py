"""Numbers: charge limit and cabin target temperature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, UnitOfTemperature
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
    range_fn: Callable[[VehicleInfo], NumberRange]
    # None: the provider cannot read this back, so the entity shows the value it last set.
    value_fn: Callable[[VehicleState], float | None] | None
    apply_fn: Callable[[VehicleState, float], VehicleState] | None = None


NUMBERS: tuple[EvCloudNumberDescription, ...] = (
    EvCloudNumberDescription(
        key="charge_limit",
        capability=Capability.CHARGE_LIMIT_CONTROL,
        command=CommandType.SET_CHARGE_LIMIT,
        native_unit_of_measurement=PERCENTAGE,
        device_class=NumberDeviceClass.BATTERY,
        mode=NumberMode.SLIDER,
        range_fn=lambda info: info.charge_limit_range,
        value_fn=lambda state: state.charge_limit,
        apply_fn=lambda state, value: replace(state, charge_limit=value),
    ),
    EvCloudNumberDescription(
        key="target_temperature",
        capability=Capability.TEMPERATURE_CONTROL,
        command=CommandType.SET_TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=NumberDeviceClass.TEMPERATURE,
        mode=NumberMode.BOX,
        range_fn=lambda info: info.temperature_range,
        value_fn=None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers of every vehicle, now and as vehicles appear."""
    async_add_vehicle_entities(entry, async_add_entities, EvCloudNumber, NUMBERS)


class EvCloudNumber(EvCloudCommandEntity[float], RestoreNumber):
    """A vehicle setpoint; bounds come from the provider."""

    entity_description: EvCloudNumberDescription
    _assumed_value: float | None = None

    def __init__(self, vehicle: VehicleData, description: EvCloudNumberDescription) -> None:
        """Take min, max and step from what the provider accepts for this vehicle."""
        super().__init__(vehicle, description)
        bounds = description.range_fn(vehicle.info)
        self._attr_native_min_value = bounds.minimum
        self._attr_native_max_value = bounds.maximum
        self._attr_native_step = bounds.step
        self._attr_assumed_state = description.value_fn is None

    async def async_added_to_hass(self) -> None:
        """Restore the last value we set where the car cannot tell us."""
        await super().async_added_to_hass()
        if self.entity_description.value_fn is None and (
            last := await self.async_get_last_number_data()
        ):
            self._assumed_value = last.native_value

    @property
    def native_value(self) -> float | None:
        """The setpoint the car reports (or, without read-back, the one we last set)."""
        value_fn = self.entity_description.value_fn
        if value_fn is None:
            return self.current(lambda: self._assumed_value)
        return self.current(lambda: value_fn(self.state_data))

    async def async_set_native_value(self, value: float) -> None:
        """Validate against the provider's bounds, then send; nothing is sent when invalid."""
        bounds = self.entity_description.range_fn(self.vehicle.info)
        steps = (value - bounds.minimum) / bounds.step
        if not bounds.minimum <= value <= bounds.maximum or abs(steps - round(steps)) > 1e-6:
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
        description = self.entity_description
        await self.async_send(
            Command(type=description.command, value=value), value, description.apply_fn
        )

    def on_command_executed(self, value: float) -> None:
        """Remember what we set when the car cannot report it."""
        if self.entity_description.value_fn is None:
            self._assumed_value = value
