"""Buttons: wake the car up (where the provider can)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import EvCloudEntity, EvCloudEntityDescription, async_add_vehicle_entities
from .model import Capability, Command, CommandType
from .runtime import EvCloudConfigEntry

# Commands are serialised per vehicle by the command runner.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvCloudButtonDescription(ButtonEntityDescription, EvCloudEntityDescription):
    """A button that sends one command."""

    command: CommandType


BUTTONS: tuple[EvCloudButtonDescription, ...] = (
    # Reading never wakes the car; this is the one place a person asks for it (Tesla bills it).
    EvCloudButtonDescription(
        key="wake_up", capability=Capability.WAKE_UP, command=CommandType.WAKE_UP
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of every vehicle that has them, now and as vehicles appear."""
    await async_add_vehicle_entities(entry, async_add_entities, EvCloudButton, BUTTONS)


class EvCloudButton(EvCloudEntity, ButtonEntity):
    """A vehicle button."""

    entity_description: EvCloudButtonDescription

    async def async_press(self) -> None:
        """Send the command; the service call returns once the provider confirmed it."""
        await self.vehicle.commands.async_execute(Command(type=self.entity_description.command))
