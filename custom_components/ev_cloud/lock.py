"""Door lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.lock import LockEntity, LockEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudCommandEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, Command, CommandType, VehicleState
from .runtime import EvCloudConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudLockDescription(LockEntityDescription, EvCloudEntityDescription):
    """The door lock."""


DOOR_LOCK = EvCloudLockDescription(key="door_lock", capability=Capability.DOOR_LOCK_CONTROL)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the door lock of every vehicle that has one, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudLock, (DOOR_LOCK,))


class EvCloudLock(EvCloudCommandEntity[bool], LockEntity):
    """Locks and unlocks the doors; named after the car, so "lock the <car>" finds it."""

    # The car's main lock: its name is the device's.
    _attr_name = None
    entity_description: EvCloudLockDescription

    def measured(self, state: VehicleState) -> bool | None:
        """What the car reports."""
        return state.locked

    @property
    def is_locked(self) -> bool | None:
        """Locked as the car reports it (or as it confirmed, until the next reading)."""
        if self._confirmed_at is not None and self._optimistic is not None:
            return self._optimistic
        return self.state_data.locked

    @property
    def is_locking(self) -> bool:
        """A lock command is on its way: say so rather than claim it is locked."""
        return self._confirmed_at is None and self._optimistic is True

    @property
    def is_unlocking(self) -> bool:
        """An unlock command is on its way."""
        return self._confirmed_at is None and self._optimistic is False

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock the doors."""
        await self.async_send(Command(type=CommandType.LOCK_DOORS), True)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock the doors."""
        await self.async_send(Command(type=CommandType.UNLOCK_DOORS), False)
