"""Provider clients: one sub-package per cloud API, no Home Assistant imports."""

from __future__ import annotations

from typing import Protocol

from ..model import Command, CommandExecution, VehicleInfo, VehicleState


class VehicleProvider(Protocol):
    """What the integration needs from a cloud API."""

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        """Return every vehicle the credentials can see."""

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        """Read the vehicle's latest state without waking it."""

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        """Start a command; asynchronous providers answer PENDING."""

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        """Read a pending command's progress."""
