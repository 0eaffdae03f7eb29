"""EV Cloud: see and control an electric car's charging and climate through its maker's cloud."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from .command import CommandOutcome, CommandRunner
from .const import CONF_APP_DOMAIN, CONF_EXCLUDED_VEHICLES, DOMAIN, LOGGER
from .coordinator import FleetCoordinator, VehicleCoordinator, api_key_issue_id
from .entity import async_remove_entities_gradually
from .migration import async_migrate_entry
from .model import CommandStatus, FailureReason, VehicleInfo, log_hash, phase, shows_in_a_reading
from .oauth import create_entry_client
from .providers import ClosableProvider, KeyPairingProvider
from .push import PushChannel, async_setup_push, push_store
from .runtime import (
    EvCloudConfigEntry,
    EvCloudData,
    VehicleData,
    account_device_key,
    device_key,
    provider_spec,
)
from .usage import ApiUsage, async_counting_session

VOICE_USERS: HassKey[set[str]] = HassKey(f"{DOMAIN}_voice_users")
VOICE_UNREGISTER: HassKey[Callable[[], None]] = HassKey(f"{DOMAIN}_voice_unregister")
# From this many cars on, their regular reads are spread over the interval instead of bunched.
SPREAD_FROM = 10
# Cars whose first read is started before the event loop is given back.
VEHICLES_PER_START = 10

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CLIMATE,
    Platform.DEVICE_TRACKER,
    Platform.LOCK,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["async_migrate_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Nothing to set up from YAML; config entries only."""
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EvCloudConfigEntry) -> bool:
    """Read the vehicle list, start one coordinator per vehicle, then the platforms.

    Only the vehicle list must be readable: a car that cannot be read yet (asleep, pending
    connection, refused) is set up unavailable and retries by itself, and never keeps the
    other cars from loading.
    """
    spec = provider_spec(entry.data)
    usage = ApiUsage(spec)
    client = create_entry_client(hass, entry, async_counting_session(hass, usage))
    fleet = FleetCoordinator(hass, entry, client)
    await fleet.async_config_entry_first_refresh()

    data = EvCloudData(spec=spec, client=client, fleet=fleet, usage=usage)
    wanted = _wanted(entry, fleet.data)
    vehicles: list[VehicleData] = []
    first_reads: list[asyncio.Task[None]] = []
    # All vehicles at once: setting up 50 cars must not take 50 round trips in a row. A fleet's
    # are started a batch at a time, giving the event loop back in between.
    try:
        for start in range(0, len(wanted), VEHICLES_PER_START):
            for info in wanted[start : start + VEHICLES_PER_START]:
                vehicle = _create_vehicle(hass, entry, data, info)
                if len(wanted) >= SPREAD_FROM:
                    vehicle.coordinator.spread_first_read(phase(info.key))
                vehicles.append(vehicle)
                first_reads.append(
                    entry.async_create_task(
                        hass,
                        vehicle.coordinator.async_refresh(),
                        f"{DOMAIN} first read",
                        eager_start=False,
                    )
                )
            await asyncio.sleep(0)
        await asyncio.gather(*first_reads)
    except BaseException:
        # Set-up cancelled (Home Assistant stopping): no read outlives it.
        for task in first_reads:
            task.cancel()
        await asyncio.gather(*first_reads, return_exceptions=True)
        raise
    data.vehicles = {vehicle.device_key: vehicle for vehicle in vehicles}
    entry.runtime_data = data
    if (push := await async_setup_push(hass, entry)) is not None:
        data.push = push
        for vehicle in vehicles:
            _listen_to_push(vehicle, push)

    _remove_stale_devices(hass, entry)
    _update_pairing_issues(hass, entry, data)

    @callback
    def drop_pairing_issues() -> None:
        for info in data.fleet.data or []:
            ir.async_delete_issue(hass, DOMAIN, _pairing_issue_id(entry, info))

    entry.async_on_unload(drop_pairing_issues)
    if isinstance(client, ClosableProvider):
        # Commands still waiting for the car's answer stop being followed with the entry.
        entry.async_on_unload(client.async_close)

    @callback
    def on_fleet_update() -> None:
        entry.async_create_background_task(
            hass, _async_sync_vehicles(hass, entry), "ev_cloud vehicle list sync"
        )

    entry.async_on_unload(fleet.async_add_listener(on_fleet_update))
    _async_listen_to_voice(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


@callback
def _async_listen_to_voice(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """Assist's sentences, registered while at least one entry is loaded."""
    if "conversation" not in hass.config.components:
        return
    from .voice import async_register_sentences  # noqa: PLC0415 - only with Assist

    users: set[str] = hass.data.setdefault(VOICE_USERS, set())
    if not users:
        hass.data[VOICE_UNREGISTER] = async_register_sentences(hass)
    users.add(entry.entry_id)

    @callback
    def release() -> None:
        users.discard(entry.entry_id)
        if not users:
            hass.data.pop(VOICE_UNREGISTER)()

    entry.async_on_unload(release)


async def async_unload_entry(hass: HomeAssistant, entry: EvCloudConfigEntry) -> bool:
    """Unload the platforms; coordinators and command workers stop with the entry."""
    await async_remove_entities_gradually(hass, entry)
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """A deleted entry leaves nothing behind: no repair issue, no webhook record.

    A refused key's issue outlives set-up retries; the webhook's last delivery is kept on disk.
    """
    ir.async_delete_issue(hass, DOMAIN, api_key_issue_id(entry))
    await push_store(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EvCloudConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing a vehicle the credentials no longer see (never the account itself)."""
    keep = _device_keys(entry)
    return not any(
        identifier[0] == DOMAIN and identifier[1] in keep for identifier in device.identifiers
    )


def _device_keys(entry: EvCloudConfigEntry) -> set[str]:
    """The entry's devices that belong: its shown cars and the account's own device."""
    return {*entry.runtime_data.vehicles, account_device_key(entry)}


def _wanted(entry: EvCloudConfigEntry, vehicles: list[VehicleInfo]) -> list[VehicleInfo]:
    # Entries from 0.1.0 list provider ids; newer ones list vehicle keys (the VIN).
    excluded = set(entry.data.get(CONF_EXCLUDED_VEHICLES, []))
    wanted = [info for info in vehicles if info.key not in excluded and info.id not in excluded]
    # A fleet's cars often share make and model: the end of the VIN tells them apart, for the
    # user and for entity ids (Home Assistant numbers clashing ids one by one).
    names = Counter(info.display_name for info in wanted)
    return [
        replace(info, name=f"{info.display_name} {info.key[-4:]}")
        if names[info.display_name] > 1
        else info
        for info in wanted
    ]


def _create_vehicle(
    hass: HomeAssistant, entry: EvCloudConfigEntry, data: EvCloudData, info: VehicleInfo
) -> VehicleData:
    coordinator = VehicleCoordinator(hass, entry, data.client, info)

    @callback
    def on_outcome(outcome: CommandOutcome) -> None:
        # A timed-out command may still be carried out: read the car soon either way.
        if (
            outcome.status is CommandStatus.EXECUTED or outcome.reason is FailureReason.TIMEOUT
        ) and shows_in_a_reading(info, outcome.command.type):
            coordinator.note_command()
        # The last-command sensor changes; the readings and the poll schedule do not.
        coordinator.async_update_listeners()

    commands = CommandRunner(
        data.client,
        data.spec,
        info,
        start_task=lambda coro, name: entry.async_create_background_task(hass, coro, name),
        on_outcome=on_outcome,
        on_auth_failed=lambda: entry.async_start_reauth(hass),
        is_asleep=lambda: coordinator.data is not None and coordinator.data.asleep,
        current_state=lambda: coordinator.data,
    )
    vehicle = VehicleData(info=info, spec=data.spec, coordinator=coordinator, commands=commands)
    if data.push is not None:
        _listen_to_push(vehicle, data.push)
    return vehicle


def _listen_to_push(vehicle: VehicleData, push: PushChannel) -> None:
    """While the provider pushes, the car's reads and command follow-ups slow down."""
    vehicle.coordinator.push_alive = push.alive
    vehicle.commands.push_alive = push.alive


async def _async_sync_vehicles(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """Add vehicles connected since set-up and drop those the credentials no longer see."""
    data = entry.runtime_data
    if not data.fleet.last_update_success:
        return
    wanted = {device_key(data.spec, info): info for info in _wanted(entry, data.fleet.data)}
    for key in set(data.vehicles) - set(wanted):
        gone = data.vehicles.pop(key)
        LOGGER.info("%s is gone from the account; removing it", gone.info.log_name)
        await gone.coordinator.async_shutdown()
    for key in set(wanted) - set(data.vehicles):
        vehicle = _create_vehicle(hass, entry, data, wanted[key])
        LOGGER.info("New %s found; adding it", vehicle.info.log_name)
        # Unreadable or not: its entities exist (unavailable) and it retries by itself.
        await vehicle.coordinator.async_refresh()
        data.async_vehicle_added(vehicle)
    _remove_stale_devices(hass, entry)
    _update_pairing_issues(hass, entry, data)


def _pairing_issue_id(entry: EvCloudConfigEntry, info: VehicleInfo) -> str:
    return f"key_not_paired_{entry.entry_id}_{log_hash(info.key)}"


def _update_pairing_issues(
    hass: HomeAssistant, entry: EvCloudConfigEntry, data: EvCloudData
) -> None:
    """A repair issue per car that takes only signed commands and does not carry our key yet.

    Its readings work; its commands cannot until the owner pairs the key, so say how.
    """
    if not isinstance(data.client, KeyPairingProvider):
        return
    client = data.client
    domain = entry.data.get(CONF_APP_DOMAIN) or "<your app's domain>"
    for info in data.fleet.data:
        issue_id = _pairing_issue_id(entry, info)
        if info.key_paired is False and device_key(data.spec, info) in data.vehicles:
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="key_not_paired",
                translation_placeholders={
                    "vehicle": info.display_name,
                    "public_key": client.public_key_pem or "",
                    "url": client.public_key_url(domain),
                    "pairing_link": client.pairing_link(domain),
                },
            )
        else:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def _remove_stale_devices(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    keep = _device_keys(entry)
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not any(ident[0] == DOMAIN and ident[1] in keep for ident in device.identifiers):
            registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)
