"""Runtime data of a config entry: the provider client and one small object per vehicle."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .command import CommandRunner
from .const import CONF_ENVIRONMENT, ENVIRONMENT_CUSTOM, ENVIRONMENT_SANDBOX
from .coordinator import FleetCoordinator, VehicleCoordinator
from .model import VehicleInfo
from .providers.volteras import PRODUCTION_URL, SANDBOX_URL, VolterasClient

type EvCloudConfigEntry = ConfigEntry[EvCloudData]
type VehicleListener = Callable[[VehicleData], None]


@dataclass(kw_only=True)
class VehicleData:
    """Everything the entities of one vehicle share."""

    info: VehicleInfo
    coordinator: VehicleCoordinator
    commands: CommandRunner


@dataclass(kw_only=True)
class EvCloudData:
    """What a loaded entry holds; platforms subscribe to vehicles appearing later."""

    client: VolterasClient
    fleet: FleetCoordinator
    vehicles: dict[str, VehicleData] = field(default_factory=dict)
    _listeners: list[VehicleListener] = field(default_factory=list)

    @callback
    def async_add_vehicle_listener(self, listener: VehicleListener) -> Callable[[], None]:
        """Call `listener` for every current vehicle and for each added later."""
        self._listeners.append(listener)
        for vehicle in self.vehicles.values():
            listener(vehicle)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_vehicle_added(self, vehicle: VehicleData) -> None:
        """Register a vehicle and let every platform create its entities."""
        self.vehicles[vehicle.info.id] = vehicle
        for listener in list(self._listeners):
            listener(vehicle)


def volteras_base_url(data: Mapping[str, Any]) -> str:
    """The API root the entry's environment points at."""
    environment = data.get(CONF_ENVIRONMENT)
    if environment == ENVIRONMENT_SANDBOX:
        return SANDBOX_URL
    if environment == ENVIRONMENT_CUSTOM:
        return str(data[CONF_URL]).rstrip("/")
    return PRODUCTION_URL


def create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> VolterasClient:
    """Build the provider client for entry data (or a config flow's input)."""
    return VolterasClient(
        async_get_clientsession(hass),
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        base_url=volteras_base_url(data),
    )
