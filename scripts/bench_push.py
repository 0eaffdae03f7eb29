"""Push (webhooks) in the standard day: the simulator's signed deliveries reach Home Assistant.

The benchmark's Home Assistant binds no port (`bench_day.home_assistant` patches its web server
out, so that a Home Assistant already on 8123 cannot stop a run). A tiny aiohttp server on
127.0.0.1 stands in for it: `POST /api/webhook/{webhook_id}` goes to
`webhook.async_handle_webhook`, the function Home Assistant's own webhook view calls, so the
integration's registered handler, its Svix verification and its dispatch run unchanged over real
HTTP.

The simulator's sender is pumped once per virtual minute, after that minute's events (Volteras
pushes when the car reports), and every `COMMAND_PUMP` seconds of real time while a command is
outstanding: the virtual clock stands still during a command, and Volteras pushes
`command.updated` when the command settles, not a minute later.

The receiver's clock is moved onto the virtual one (`receiver_on_virtual_clock`): the simulator
signs each delivery with the virtual time, and a receiver on the real clock would refuse them
all as stale.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
import json
import time
from types import TracebackType
from typing import Any, Self
from unittest.mock import patch

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.providers.volteras.push import VolterasPushReceiver
from custom_components.ev_cloud.push import PUSH_SILENCE
from custom_components.ev_cloud.runtime import VehicleData
from simulator.volteras.webhooks import Delivery, WebhookSender

from .bench_day import DAY_END, DAY_START, EvCloudDriver, Event

# Real seconds between pumps while a command is outstanding.
COMMAND_PUMP = 0.05


@contextmanager
def receiver_on_virtual_clock() -> Iterator[None]:
    """Volteras's push receiver judges a delivery's age by the virtual clock.

    It takes `time.time` as a default argument, bound when it is imported: freezegun cannot
    reach that (as Home Assistant's `utcnow`, see `bench_day.virtual_clock`).
    """
    defaults = VolterasPushReceiver.__init__.__kwdefaults__
    if defaults is None or "now" not in defaults:
        raise RuntimeError("VolterasPushReceiver no longer takes its clock as `now`")
    with patch.dict(defaults, {"now": _virtual_time}):
        yield


def _virtual_time() -> float:
    """`time.time` looked up at each call: freezegun's while the clock is frozen."""
    return time.time()


class WebhookServer:
    """Home Assistant's webhook endpoint on a free loopback port, without its web server."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Not listening yet."""
        self.hass = hass
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def url(self, webhook_id: str) -> str:
        """The address to register at the provider, as Home Assistant would show it."""
        return f"{self.base_url}/api/webhook/{webhook_id}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        return await webhook.async_handle_webhook(
            self.hass, request.match_info["webhook_id"], request
        )

    async def __aenter__(self) -> Self:
        """Listen on 127.0.0.1, on a port the system picks."""
        app = web.Application()
        app.router.add_post("/api/webhook/{webhook_id}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Pusher:
    """The simulator's webhook sender, pumped by the day; every delivery kept for the notes."""

    def __init__(self, sender: WebhookSender) -> None:
        """Nothing sent yet."""
        self.sender = sender
        self.deliveries: list[Delivery] = []
        self.during_commands = 0

    async def pump(self) -> list[Delivery]:
        """Send what changed since the last pump."""
        sent = await self.sender.pump()
        self.deliveries += sent
        return sent

    async def around(self, command: Coroutine[Any, Any, None]) -> None:
        """Run `command`, pumping every `COMMAND_PUMP` real seconds until it returns."""
        task = asyncio.ensure_future(command)
        while not task.done():
            await asyncio.wait({task}, timeout=COMMAND_PUMP)
            if not task.done():
                self.during_commands += len(await self.pump())
        await task

    def counts(self, vehicle_id: str) -> Counter[str]:
        """Deliveries by event type ("other cars" for the fleet's other cars) and answer."""
        counts: Counter[str] = Counter()
        for delivery in self.deliveries:
            data = json.loads(delivery.body)["data"]
            ours = data.get("vehicleId") == vehicle_id
            counts[delivery.event if ours else "other cars"] += 1
            if not delivery.ok:
                counts[f"answered {delivery.status or delivery.error}"] += 1
        return counts

    def silences(self) -> list[tuple[datetime, datetime]]:
        """Spans of the day without a delivery for at least `PUSH_SILENCE` (its start included).

        The integration's channel counts as silent `PUSH_SILENCE` into such a span.
        """
        moments = sorted(
            datetime.fromtimestamp(delivery.timestamp, UTC)
            for delivery in self.deliveries
            if delivery.ok
        )
        spans = []
        for start, end in zip([DAY_START, *moments], [*moments, DAY_END], strict=True):
            if end - start >= PUSH_SILENCE:
                spans.append((start, end))
        return spans


class EvCloudPushDriver(EvCloudDriver):
    """The real integration with its webhook: pushes every minute, and during each command."""

    def __init__(
        self, hass: HomeAssistant, entry: MockConfigEntry, vehicle: VehicleData, pusher: Pusher
    ) -> None:
        """Follow the entry's one vehicle; `pusher` delivers to the entry's webhook."""
        super().__init__(hass, entry, vehicle)
        self.pusher = pusher

    async def every_minute(self, _now: datetime) -> None:
        """The provider's deliveries of this minute, handled before what is shown is noted."""
        await self.pusher.pump()
        await self.hass.async_block_till_done()

    async def command(self, event: Event) -> None:
        """Call the entity's service while the provider pushes what the command changes."""
        await self.pusher.around(super().command(event))
        await self.hass.async_block_till_done()


def silence_note(spans: list[tuple[datetime, datetime]]) -> str:
    """When the channel counted as silent, and why polling came back then."""
    if not spans:
        return "The push channel was never silent."
    text = "; ".join(
        f"{start:%H:%M} (counted silent from {start + PUSH_SILENCE:%H:%M}) to {end:%H:%M}"
        if start > DAY_START
        else f"the start of the day to {end:%H:%M} (the channel is alive only once a delivery "
        "has been accepted)"
        for start, end in spans
    )
    hours = PUSH_SILENCE / timedelta(hours=1)
    return (
        f"No delivery for {hours:g} h or more (the integration then counts the channel as silent "
        f"and reads at its regular pace): {text}."
    )
