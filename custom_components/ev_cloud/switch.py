"""Switches: charge, charge port and climate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .entity import EvCloudCommandEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, Command, CommandType, VehicleState
from .runtime import EvCloudConfigEntry, VehicleData

# Commands are serialised per vehicle by the command runner; the coordinator does the reading.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudSwitchDescription(SwitchEntityDescription, EvCloudEntityDescription):
    """A switch backed by an on and an off command."""

    on_command: CommandType
    off_command: CommandType
    value_fn: Callable[[VehicleState], bool | None]
    # Without this capability the provider cannot read the value back, so the switch shows
    # the state it last set (an assumed state).
    readback: Capability | None = None


SWITCHES: tuple[EvCloudSwitchDescription, ...] = (
    EvCloudSwitchDescription(
        # "Charge", not "Charging": the measured binary sensor is "Charging".
        key="charge",
        capability=Capability.CHARGING_CONTROL,
        on_command=CommandType.START_CHARGING,
        off_command=CommandType.STOP_CHARGING,
        value_fn=lambda state: state.charging,
    ),
    EvCloudSwitchDescription(
        key="charge_port",
        capability=Capability.CHARGE_PORT_CONTROL,
        on_command=CommandType.OPEN_CHARGE_PORT,
        off_command=CommandType.CLOSE_CHARGE_PORT,
        value_fn=lambda state: state.charge_port_open,
    ),
    EvCloudSwitchDescription(
        key="climate",
        capability=Capability.CLIMATE_CONTROL,
        on_command=CommandType.CLIMATE_ON,
        off_command=CommandType.CLIMATE_OFF,
        value_fn=lambda state: state.climate_on,
        readback=Capability.CLIMATE_READBACK,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches of every vehicle, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudSwitch, SWITCHES)


@dataclass
class AssumedSwitchData(ExtraStoredData):
    """What an assumed-state switch remembers across restarts: when it was last turned on."""

    on_since: str | None

    def as_dict(self) -> dict[str, Any]:
        """For the restore-state store."""
        return {"on_since": self.on_since}


class EvCloudSwitch(EvCloudCommandEntity[bool], SwitchEntity, RestoreEntity):
    """A vehicle switch."""

    entity_description: EvCloudSwitchDescription
    _assumed_on: bool | None = None
    _assumed_on_since: datetime | None = None
    _expiry: CALLBACK_TYPE | None = None

    def __init__(self, vehicle: VehicleData, description: EvCloudSwitchDescription) -> None:
        """Mark switches without read-back as assumed state."""
        super().__init__(vehicle, description)
        readback = description.readback
        self._attr_assumed_state = (
            readback is not None and readback not in vehicle.info.capabilities
        )
        session = vehicle.spec.climate_session
        self._session = timedelta(seconds=session) if session else None

    @property
    def holds_until_read(self) -> bool:
        """An assumed-state switch never gets a reading to wait for."""
        return not self._attr_assumed_state

    async def async_added_to_hass(self) -> None:
        """Restore the last state we set where the car cannot tell us."""
        await super().async_added_to_hass()
        self.async_on_remove(self._cancel_expiry)
        if not self._attr_assumed_state or (last := await self.async_get_last_state()) is None:
            return
        self._assumed_on = {"on": True, "off": False}.get(last.state)
        extra = await self.async_get_last_extra_data()
        since = extra.as_dict().get("on_since") if extra else None
        self._assumed_on_since = dt_util.parse_datetime(since) if since else None
        if self._assumed_on and self._assumed_on_since is None:
            # Saved by 0.1.0, without a start: count the session from now, once.
            self._assumed_on_since = dt_util.utcnow()
        self._schedule_expiry()

    @property
    def extra_restore_state_data(self) -> AssumedSwitchData:
        """Keep when the switch was turned on, so a restart does not extend the session."""
        since = self._assumed_on_since
        return AssumedSwitchData(since.isoformat() if since else None)

    def measured(self, state: VehicleState) -> bool | None:
        """What the car reports."""
        return self.entity_description.value_fn(state)

    @property
    def is_on(self) -> bool | None:
        """On when the car says so (or, without read-back, when we last turned it on)."""
        if self._attr_assumed_state:
            return self.current(lambda: self._assumed_on)
        return self.current(lambda: self.entity_description.value_fn(self.state_data))

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send the on command."""
        await self.async_send(Command(type=self.entity_description.on_command), True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send the off command."""
        await self.async_send(Command(type=self.entity_description.off_command), False)

    def on_command_executed(self, value: bool) -> None:
        """Remember what we set when the car cannot report it."""
        if self._attr_assumed_state:
            self._assumed_on = value
            self._assumed_on_since = dt_util.utcnow() if value else None
            self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        """An assumed "on" ends when the provider's climate session would have ended."""
        self._cancel_expiry()
        if not self._assumed_on or self._session is None:
            return
        ends = (self._assumed_on_since or dt_util.utcnow()) + self._session
        if ends <= dt_util.utcnow():
            self._assumed_on = False
            self._assumed_on_since = None
            return
        self._expiry = async_track_point_in_utc_time(self.hass, self._async_session_ended, ends)

    @callback
    def _async_session_ended(self, _now: datetime) -> None:
        self._expiry = None
        self._assumed_on = False
        self._assumed_on_since = None
        self.async_write_ha_state()

    @callback
    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry()
            self._expiry = None
