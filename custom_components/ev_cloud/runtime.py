"""Runtime data of a config entry: the provider, its client and one small object per vehicle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_KEY, CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.storage import STORAGE_DIR

from .command import CommandRunner
from .const import CONF_ENVIRONMENT, CONF_PROVIDER, DOMAIN, ENVIRONMENT_CUSTOM
from .coordinator import FleetCoordinator, VehicleCoordinator
from .model import VehicleInfo
from .providers import ClientConfig, ProviderSpec, VehicleProvider, get_provider
from .usage import ApiUsage

if TYPE_CHECKING:
    from .push import PushChannel

type EvCloudConfigEntry = ConfigEntry[EvCloudData]
type VehicleListener = Callable[[VehicleData], None]


@dataclass(kw_only=True)
class VehicleData:
    """Everything the entities of one vehicle share."""

    info: VehicleInfo
    spec: ProviderSpec
    coordinator: VehicleCoordinator
    commands: CommandRunner

    @property
    def device_key(self) -> str:
        """Device identifier and unique-id prefix: provider and VIN survive a reconnection."""
        return device_key(self.spec, self.info)

    @cached_property
    def device_info(self) -> DeviceInfo:
        """The car's device, one object for all its entities (a fleet has thousands)."""
        info = self.info
        return DeviceInfo(
            identifiers={(DOMAIN, self.device_key)},
            manufacturer=info.make.title(),
            model=info.model_description,
            name=info.display_name,
            serial_number=info.vin,
        )


def device_key(spec: ProviderSpec, info: VehicleInfo) -> str:
    """`<provider>_<VIN>` (the provider's id only when its API has no VIN)."""
    return f"{spec.name}_{info.key}"


@dataclass(kw_only=True)
class EvCloudData:
    """What a loaded entry holds; platforms subscribe to vehicles appearing later."""

    spec: ProviderSpec
    client: VehicleProvider
    fleet: FleetCoordinator
    usage: ApiUsage
    # The provider's push channel, when it pushes and a signing secret is set.
    push: PushChannel | None = None
    vehicles: dict[str, VehicleData] = field(default_factory=dict)
    _listeners: list[VehicleListener] = field(default_factory=list)

    @callback
    def async_add_vehicle_listener(self, listener: VehicleListener) -> Callable[[], None]:
        """Call `listener` for each vehicle added from now on."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_vehicle_added(self, vehicle: VehicleData) -> None:
        """Register a vehicle and let every platform create its entities."""
        self.vehicles[vehicle.device_key] = vehicle
        for listener in list(self._listeners):
            listener(vehicle)


def account_device_key(entry: ConfigEntry[Any]) -> str:
    """The account's own (service) device: `<provider>_<account id>`."""
    return f"{entry.data[CONF_PROVIDER]}_{entry.unique_id or entry.entry_id}"


def provider_spec(data: Mapping[str, Any]) -> ProviderSpec:
    """The provider an entry (or a flow's input) is for."""
    return get_provider(data[CONF_PROVIDER])


def base_url(spec: ProviderSpec, data: Mapping[str, Any]) -> str:
    """The API root the entry's environment points at."""
    environment = data.get(CONF_ENVIRONMENT, spec.default_environment)
    if environment == ENVIRONMENT_CUSTOM:
        return str(data[CONF_URL]).rstrip("/")
    return spec.environments.get(environment, spec.environments[spec.default_environment])


def create_client(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    access_token: Callable[[], Awaitable[str]] | None = None,
    refresh_access_token: Callable[[str], Awaitable[str]] | None = None,
    session: aiohttp.ClientSession | None = None,
) -> VehicleProvider:
    """Build the provider client for entry data (or a config flow's input)."""
    spec = provider_spec(data)
    client_id = data[CONF_CLIENT_ID]
    return spec.create_client(
        session or async_get_clientsession(hass),
        ClientConfig(
            base_url=base_url(spec, data),
            client_id=client_id,
            client_secret=data.get(CONF_CLIENT_SECRET, ""),
            access_token=access_token,
            refresh_access_token=refresh_access_token,
            # A signing key (Tesla) lives in Home Assistant's storage, never in entry data.
            extra={
                "key_path": hass.config.path(STORAGE_DIR, f"{DOMAIN}_{spec.name}_{client_id}.pem"),
                "api_key": data.get(CONF_API_KEY, ""),
            },
        ),
    )
