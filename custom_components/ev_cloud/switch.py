"""Switches: charging, charge port and climate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import EvCloudCommandEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, ChargingState, Command, CommandType, VehicleState
from .runtime import EvCloudConfigEntry, VehicleData

# Commands are serialised per vehicle by the command runner; the coordinator does the reading.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudSwitchDescription(SwitchEntityDescription, EvCloudEntityDescription):
    """A switch backed by an on and an off command."""

    on_command: CommandType
    off_command: CommandType
    # None: the provider cannot read this back, so the switch shows the state it last set.
    value_fn: Callable[[VehicleState], bool | None] | None
    apply_fn: Callable[[VehicleState, bool], VehicleState] | None = None


def _apply_charging(state: VehicleState, on: bool) -> VehicleState:
    charging_state = ChargingState.STARTING if on else ChargingState.STOPPED
    return replace(state, charging=on, charging_state=charging_state)


SWITCHES: tuple[EvCloudSwitchDescription, ...] = (
    EvCloudSwitchDescription(
        key="charging",
        capability=Capability.CHARGING_CONTROL,
        on_command=CommandType.START_CHARGING,
        off_command=CommandType.STOP_CHARGING,
        value_fn=lambda state: state.charging,
        apply_fn=_apply_charging,
    ),
    EvCloudSwitchDescription(
        key="charge_port",
        capability=Capability.CHARGE_PORT_CONTROL,
        on_command=CommandType.OPEN_CHARGE_PORT,
        off_command=CommandType.CLOSE_CHARGE_PORT,
        value_fn=lambda state: state.charge_port_open,
        apply_fn=lambda state, on: replace(state, charge_port_open=on),
    ),
    EvCloudSwitchDescription(
        key="climate",
        capability=Capability.CLIMATE_CONTROL,
        on_command=CommandType.CLIMATE_ON,
        off_command=CommandType.CLIMATE_OFF,
        value_fn=None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of every vehicle, now and as vehicles appear."""
    async_add_vehicle_entities(entry, async_add_entities, EvCloudSwitch, SWITCHES)


class EvCloudSwitch(EvCloudCommandEntity[bool], SwitchEntity, RestoreEntity):
    """A vehicle switch."""

    entity_description: EvCloudSwitchDescription
    _assumed_on: bool | None = None

    def __init__(self, vehicle: VehicleData, description: EvCloudSwitchDescription) -> None:
        """Mark switches without read-back as assumed state."""
        super().__init__(vehicle, description)
        self._attr_assumed_state = description.value_fn is None

    async def async_added_to_hass(self) -> None:
        """Restore the last state we set where the car cannot tell us."""
        await super().async_added_to_hass()
        if self.entity_description.value_fn is None and (last := await self.async_get_last_state()):
            self._assumed_on = {"on": True, "off": False}.get(last.state)

    @property
    def is_on(self) -> bool | None:
        """On when the car says so (or, without read-back, when we last turned it on)."""
        value_fn = self.entity_description.value_fn
        if value_fn is None:
            return self.current(lambda: self._assumed_on)
        return self.current(lambda: value_fn(self.state_data))

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send the on command."""
        await self._async_switch(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send the off command."""
        await self._async_switch(False)

    async def _async_switch(self, on: bool) -> None:
        description = self.entity_description
        command_type = description.on_command if on else description.off_command
        await self.async_send(Command(type=command_type), on, description.apply_fn)

    def on_command_executed(self, value: bool) -> None:
        """Remember what we set when the car cannot report it."""
        if self.entity_description.value_fn is None:
            self._assumed_on = value
