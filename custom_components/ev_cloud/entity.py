"""Base entity: device info, naming, availability, and the command round trip with roll-back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    async_get_platforms,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .command import CommandSupersededError
from .const import DOMAIN, LOGGER
from .coordinator import VehicleCoordinator
from .model import Capability, Command, VehicleInfo, VehicleState
from .runtime import EvCloudConfigEntry, VehicleData

# Cars whose entities are added before the event loop is given back.
VEHICLES_PER_BATCH = 5
# Entities removed before the event loop is given back (a few cars' worth).
ENTITIES_PER_BATCH = 50
# A confirmed value waits for the car's report at most this long.
MAX_HOLD = timedelta(minutes=15)


@dataclass(frozen=True, kw_only=True)
class EvCloudEntityDescription(EntityDescription):
    """What every EV Cloud description adds: the capability an entity needs to exist."""

    capability: Capability | None = None
    exists_fn: Callable[[VehicleInfo], bool] = lambda _: True
    # Where whether the entity is worth having depends on the car (else the description's flag).
    enabled_by_default_fn: Callable[[VehicleInfo], bool] | None = None

    def exists(self, info: VehicleInfo) -> bool:
        """Create the entity only when the vehicle can really do it."""
        if self.capability is not None and self.capability not in info.capabilities:
            return False
        return self.key not in info.unsupported and self.exists_fn(info)


class EvCloudEntity(CoordinatorEntity[VehicleCoordinator]):
    """An entity of one vehicle; the description key is its translation key and id suffix."""

    _attr_has_entity_name = True
    entity_description: EvCloudEntityDescription

    def __init__(self, vehicle: VehicleData, description: EvCloudEntityDescription) -> None:
        """Attach to the vehicle's coordinator and device."""
        super().__init__(vehicle.coordinator)
        self.vehicle = vehicle
        self.entity_description = description
        self._attr_translation_key = description.key
        self._attr_unique_id = f"{vehicle.device_key}_{description.key}"
        self._attr_device_info = vehicle.device_info
        if description.enabled_by_default_fn is not None:
            self._attr_entity_registry_enabled_default = description.enabled_by_default_fn(
                vehicle.info
            )

    @property
    def available(self) -> bool:
        """Unavailable before the first read, while reads fail, and while this reading errs."""
        data = self.coordinator.data
        return (
            super().available
            and data is not None
            and self.entity_description.key not in data.failed
        )

    @property
    def state_data(self) -> VehicleState:
        """The vehicle's latest state (only called while available)."""
        return self.coordinator.data


class EvCloudCommandEntity[ValueT](EvCloudEntity):
    """An entity that sends commands.

    The requested value shows at once on this entity only, and stays after the car confirmed it
    until a reading newer than the confirmation arrives. The measured entities (the charging
    binary sensor, the battery) change only when the car is read, so an automation triggered by
    them never fires for a command the car refused.
    """

    _optimistic: ValueT | None = None
    _confirmed_at: datetime | None = None

    async def async_send(self, command: Command, optimistic: ValueT) -> None:
        """Show `optimistic` at once; keep it if the command succeeds, roll back if it fails."""
        self._optimistic = optimistic
        self._confirmed_at = None
        self.async_write_ha_state()
        try:
            await self.vehicle.commands.async_execute(command)
        except CommandSupersededError:
            # A newer request for this control owns the shown value now.
            raise
        except HomeAssistantError:
            if self._optimistic == optimistic:
                self._optimistic = None
            self.async_write_ha_state()
            raise
        self.on_command_executed(optimistic)
        if self._optimistic == optimistic:
            self._confirmed_at = dt_util.utcnow()
            if not self.holds_until_read:
                self._optimistic = None
        self.async_write_ha_state()

    @property
    def holds_until_read(self) -> bool:
        """Whether a confirmed value waits for a reading (entities without read-back do not)."""
        return True

    @callback
    def _handle_coordinator_update(self) -> None:
        """Drop a confirmed value once the car reports it, or reports anything newer.

        The car's own report time counts, not when we read it: an aggregator serves the last
        report, which may predate the command. A hold never outlives `MAX_HOLD`.
        """
        data = self.coordinator.data
        if self._confirmed_at is not None and data is not None:
            reported = data.reported_at or data.fetched_at
            if (
                reported >= self._confirmed_at
                or self.measured(data) == self._optimistic
                or dt_util.utcnow() - self._confirmed_at >= MAX_HOLD
            ):
                self._optimistic = None
                self._confirmed_at = None
        super()._handle_coordinator_update()

    def measured(self, state: VehicleState) -> ValueT | None:
        """What the car reports for this control (None where it cannot say)."""
        return None

    def on_command_executed(self, value: ValueT) -> None:
        """Hook for entities that keep an assumed state of their own."""

    def current[T](self, read: Callable[[], T]) -> T | ValueT:
        """The requested value while a command is pending or awaits a reading, else `read()`."""
        if self._optimistic is not None:
            return self._optimistic
        return read()


async def async_add_vehicle_entities[DescriptionT: EvCloudEntityDescription](
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entity_class: Callable[[VehicleData, DescriptionT], Entity],
    descriptions: Sequence[DescriptionT],
) -> None:
    """Add a platform's entities for every vehicle the car can back, now and as vehicles appear.

    A fleet's cars are added a few at a time, giving the event loop back in between: adding
    thousands of entities in one go would stall Home Assistant for seconds.
    """

    def entities(vehicle: VehicleData) -> list[Entity]:
        return [
            entity_class(vehicle, description)
            for description in descriptions
            if description.exists(vehicle.info)
        ]

    @callback
    def add_vehicle(vehicle: VehicleData) -> None:
        async_add_entities(entities(vehicle))

    runtime = entry.runtime_data
    current = list(runtime.vehicles.values())
    # Listen first: a car added while these are added is added by the listener.
    entry.async_on_unload(runtime.async_add_vehicle_listener(add_vehicle))
    fleet = len(current) > VEHICLES_PER_BATCH
    for start in range(0, len(current), VEHICLES_PER_BATCH):
        if fleet:
            # Before each batch, the first too: the platforms start eagerly in the set-up's own
            # step, and their first batches together would hold the loop.
            await asyncio.sleep(0)
        batch = current[start : start + VEHICLES_PER_BATCH]
        async_add_entities([entity for vehicle in batch for entity in entities(vehicle)])


async def async_remove_entities_gradually(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """Take the entry's entities away a batch at a time, giving the event loop back in between.

    Unloading a platform removes all its entities in one go: for a fleet's thousands that holds
    the loop for more than a second. Removed here first, the unload finds the platforms empty.
    """
    # A copy: another entry unloading meanwhile takes its platforms off the live list.
    for platform in list(async_get_platforms(hass, DOMAIN)):
        if platform.config_entry is None or platform.config_entry.entry_id != entry.entry_id:
            continue
        entity_ids = list(platform.entities)
        for start in range(0, len(entity_ids), ENTITIES_PER_BATCH):
            for entity_id in entity_ids[start : start + ENTITIES_PER_BATCH]:
                if entity_id not in platform.entities:
                    continue
                try:
                    await platform.async_remove_entity(entity_id)
                except Exception:  # noqa: BLE001 - any entity's own removal code
                    # As the platform's own unload does: one entity never keeps the rest.
                    LOGGER.exception("Error while removing entity %s", entity_id)
            await asyncio.sleep(0)
