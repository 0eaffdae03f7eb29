"""Provider pushes (Volteras webhooks) through Home Assistant's webhook integration.

A verified delivery updates its car at once and pushes the next poll out; a command's pushed
result settles it without follow-up reads. While deliveries keep coming, each car is only read
for consistency every few hours; when they stop, the regular polling takes over by itself.
Refused deliveries are counted by reason and logged at debug level, never raised. When the last
delivery came is kept over a restart: a parked car may push nothing for hours, and a channel
that worked before the restart is trusted as it was until its silence says otherwise.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
import hashlib

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import CONF_WEBHOOK_SECRET, DOMAIN, LOGGER
from .providers import PushedCommand, PushedConnection, PushedState, PushEvent, PushReceiver
from .providers.errors import PushRejectedError
from .runtime import EvCloudConfigEntry

# Without an accepted delivery for this long, the push channel counts as silent. A parked car
# may send nothing for hours, so this is longer than the consistency reads' interval: those
# keep the data at most a few hours old even if the webhook broke.
PUSH_SILENCE = timedelta(hours=24)
STORAGE_VERSION = 1
# Deliveries may come every minute; when the last one came is written at most this often.
SAVE_DELAY = 300


def push_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, str]]:
    """Where an entry's channel keeps when it last accepted a delivery."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.push.{entry_id}")


class PushChannel:
    """One entry's webhook: its receiver and when it last heard from the provider."""

    def __init__(
        self,
        receiver: PushReceiver,
        store: Store[dict[str, str]],
        setting: str,
    ) -> None:
        """Nothing heard yet; `setting` names the webhook and secret the record is valid for."""
        self.receiver = receiver
        self.last_accepted: datetime | None = None
        self._store = store
        self._setting = setting
        self._closed = False

    async def async_restore(self) -> None:
        """When the last delivery came, if it came to this same webhook with this same secret.

        A changed secret may be a wrong one: then nothing proves deliveries arrive.
        """
        stored = await self._store.async_load() or {}
        when = dt_util.parse_datetime(str(stored.get("last_accepted", "")))
        if stored.get("setting") == self._setting and when is not None and when.tzinfo:
            self.last_accepted = when

    @callback
    def accepted(self) -> None:
        """A delivery was verified now."""
        if self._closed:
            # Arrived while the entry unloaded: nothing is written any more.
            return
        self.last_accepted = dt_util.utcnow()
        self._store.async_delay_save(self._stored, SAVE_DELAY)

    async def async_close(self) -> None:
        """The entry unloads: write when the last delivery came, and take no more."""
        self._closed = True
        if self.last_accepted is not None:
            await self._store.async_save(self._stored())

    def _stored(self) -> dict[str, str]:
        if self.last_accepted is None:
            return {}
        return {"last_accepted": self.last_accepted.isoformat(), "setting": self._setting}

    @property
    def counts(self) -> Counter[str]:
        """Accepted and refused deliveries, by reason."""
        return self.receiver.counts

    def alive(self) -> bool:
        """Whether deliveries arrive: then polling is only a consistency check."""
        return (
            self.last_accepted is not None and dt_util.utcnow() - self.last_accepted < PUSH_SILENCE
        )


async def async_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """The address to paste into the provider's portal: a cloudhook with Home Assistant Cloud."""
    if "cloud" in hass.config.components:
        from homeassistant.components import cloud  # noqa: PLC0415 - only with Cloud

        if cloud.async_active_subscription(hass) and cloud.async_is_connected(hass):
            return await cloud.async_get_or_create_cloudhook(hass, webhook_id)
    try:
        return webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        return None


async def async_setup_push(hass: HomeAssistant, entry: EvCloudConfigEntry) -> PushChannel | None:
    """Listen on the entry's webhook when the provider pushes and a signing secret is set."""
    spec = entry.runtime_data.spec
    secret = entry.options.get(CONF_WEBHOOK_SECRET)
    webhook_id = entry.data.get(CONF_WEBHOOK_ID)
    if spec.push_receiver is None or not secret or not webhook_id:
        return None
    try:
        receiver = spec.push_receiver(secret)
    except ValueError:
        LOGGER.warning("The webhook signing secret of %s is not valid; polling only", entry.title)
        return None
    setting = hashlib.sha256(f"{webhook_id}\n{secret}".encode()).hexdigest()[:16]
    channel = PushChannel(receiver, push_store(hass, entry.entry_id), setting)
    await channel.async_restore()
    entry.async_on_unload(channel.async_close)

    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = receiver.receive(request.headers, body)
        except PushRejectedError as err:
            LOGGER.debug("Refused a webhook delivery for %s: %s", entry.title, err.code)
            # Svix retries anything but 2xx; a genuine but useless delivery is acknowledged.
            return web.Response(status=200 if err.acknowledge else 401)
        channel.accepted()
        _dispatch(hass, entry, event)
        return web.Response(status=200)

    webhook.async_register(
        hass, DOMAIN, f"EV Cloud {entry.title}", webhook_id, handle, allowed_methods=["POST"]
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, webhook_id))
    return channel


@callback
def _dispatch(hass: HomeAssistant, entry: EvCloudConfigEntry, event: PushEvent) -> None:
    data = entry.runtime_data
    if isinstance(event, PushedConnection):
        # A car joined or left: the vehicle list is read now instead of within six hours.
        entry.async_create_background_task(
            hass, data.fleet.async_request_refresh(), "ev_cloud vehicle list after a push"
        )
        return
    vehicle = next((v for v in data.vehicles.values() if v.info.id == event.vehicle_id), None)
    if vehicle is None:
        LOGGER.debug("A webhook delivery for a car EV Cloud does not show was ignored")
        return
    if isinstance(event, PushedState):
        vehicle.coordinator.async_push_state(event.state)
    elif isinstance(event, PushedCommand):
        vehicle.commands.pushed(event.execution_id, event.status, event.failed_reason)
