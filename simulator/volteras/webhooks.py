"""Volteras webhooks from the simulator: Svix-signed deliveries of what changes in the fleet.

The payload shapes are the ones EV Cloud assumes (Volteras does not publish them; see the
docstring of `custom_components/ev_cloud/providers/volteras/webhooks.py`):

    {"type": "device.telemetry", "timestamp": "<ISO 8601>",
     "data": {"vehicleId": "...", "telemetry": <payloads.telemetry(vehicle)>}}
    {"type": "command.updated", "timestamp": ..., "data": <payloads.execution(execution)>}
    {"type": "device.connected" | "device.disconnected", "timestamp": ...,
     "data": {"vehicleId": "...", "accountId": "..."}}

Each delivery carries `svix-id` (`msg_<random>`), `svix-timestamp` (unix seconds from the
simulator's clock) and `svix-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
with the endpoint secret `whsec_<base64>`). There are no retries.

What changed is found by comparison, so the fleet needs no hooks: `pump()` brings the world up
to the clock (as any API request does) and sends, to the endpoints of the vehicle's organisation,
`command.updated` for every execution whose status moved since the last pump, `device.telemetry`
for every vehicle whose readings changed (timestamps alone do not count), and
`device.connected` / `device.disconnected` for vehicles that appeared or went away. Endpoints
registered through the admin endpoint pump every second by themselves (`"auto": false` turns that
off); tests on a virtual clock call `pump()` or `POST /_sim/webhooks/flush` instead.

`send_telemetry`, `send_command` and `send_connection` send one event on demand, in a `Mode`
that lets tests exercise the receiver's refusals: `forged` (signed with another secret), `late`
(timestamp ten minutes old), `malformed` (truncated, non-JSON body, correctly signed) and
`replayed` (the previous normal delivery to the endpoint again, headers and body unchanged).

Admin endpoints (`add_routes`):

    POST   /_sim/webhooks/endpoints   {"url", "secret", "organization_id"?, "auto"?, "interval"?}
    GET    /_sim/webhooks/endpoints   the endpoints (without secrets)
    DELETE /_sim/webhooks/endpoints   forget them all, stop pumping
    POST   /_sim/webhooks/send        {"event", "vehicle_id" | "execution_id", "account_id"?,
                                       "mode"?}; "mode": "replayed" needs no event
    POST   /_sim/webhooks/flush       pump now
    GET    /_sim/webhooks/deliveries  what was sent and how the endpoints answered
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
import hashlib
import hmac
import itertools
import json
import logging
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from . import payloads
from .fleet import DEFAULT_ORGANIZATION, VolterasCloud

_LOGGER = logging.getLogger(__name__)

TELEMETRY = "device.telemetry"
COMMAND_UPDATED = "command.updated"
DEVICE_CONNECTED = "device.connected"
DEVICE_DISCONNECTED = "device.disconnected"
EVENTS = (TELEMETRY, COMMAND_UPDATED, DEVICE_CONNECTED, DEVICE_DISCONNECTED)
LATE_BY = timedelta(minutes=10)
MAX_DELIVERIES = 1000  # the delivery log keeps the latest ones
SECRET_PREFIX = "whsec_"


class Mode(StrEnum):
    """How a delivery is made: properly, or wrong in one way for the receiver to catch."""

    NORMAL = "normal"
    FORGED = "forged"
    REPLAYED = "replayed"
    LATE = "late"
    MALFORMED = "malformed"


class NothingToReplayError(LookupError):
    """`replayed` for an endpoint that has not received a normal delivery yet."""


def secret_key(secret: str) -> bytes:
    """The HMAC key behind `whsec_<base64>` (or plain base64).

    Raises:
        ValueError: not base64, or empty.
    """
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as err:
        raise ValueError("the secret is not base64") from err
    if not key:
        raise ValueError("the secret is empty")
    return key


def new_secret() -> str:
    """A fresh endpoint secret in Svix's format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `svix-signature` header value for one delivery."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


@dataclass(kw_only=True)
class Endpoint:
    """A receiver registered for one organisation's events."""

    id: str
    url: str
    secret: str = field(repr=False)
    organization_id: str = DEFAULT_ORGANIZATION
    key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Decode the secret up front, so a bad one fails at registration."""
        self.key = secret_key(self.secret)

    def as_json(self) -> dict[str, Any]:
        """For the admin endpoint; no secret."""
        return {"id": self.id, "url": self.url, "organizationId": self.organization_id}


@dataclass(kw_only=True)
class Delivery:
    """One HTTP attempt to one endpoint, and its outcome."""

    endpoint_id: str
    url: str
    event: str
    mode: Mode
    message_id: str
    timestamp: int
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The endpoint answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        """For the admin endpoint."""
        return {
            "endpoint": self.endpoint_id,
            "url": self.url,
            "event": self.event,
            "mode": self.mode.value,
            "messageId": self.message_id,
            "timestamp": self.timestamp,
            "status": self.status,
            "error": self.error,
            "body": self.body.decode(errors="replace"),
        }


@dataclass(frozen=True, kw_only=True)
class Message:
    """An event to deliver: its type, whose it is, and its `data`."""

    event: str
    organization_id: str
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class _SeenVehicle:
    organization_id: str
    account_id: str
    readings: Any


def _readings(body: Any) -> Any:
    """A telemetry body without its timestamps: what the car reports, not when."""
    if isinstance(body, dict):
        return {k: _readings(v) for k, v in body.items() if k not in {"timestamp", "metadata"}}
    return body


def _connection_data(vehicle_id: str, account_id: str | None) -> dict[str, Any]:
    return {"vehicleId": vehicle_id} | ({"accountId": account_id} if account_id else {})


class WebhookSender:
    """Registered endpoints, the signed deliveries to them, and change detection."""

    def __init__(self, cloud: VolterasCloud, *, timeout: float = 5.0) -> None:
        """Send what happens in `cloud`; `timeout` bounds each HTTP attempt (seconds)."""
        self.cloud = cloud
        self.timeout = timeout
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: list[Delivery] = []
        self._last_normal: dict[str, Delivery] = {}  # endpoint id → what `replayed` resends
        self._vehicles: dict[str, _SeenVehicle] = {}
        self._statuses: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._auto: asyncio.Task[None] | None = None
        self.baseline()

    # --- endpoints ---------------------------------------------------------------------------

    def add_endpoint(
        self, url: str, secret: str, *, organization_id: str = DEFAULT_ORGANIZATION
    ) -> Endpoint:
        """Register a receiver; the first one hears of changes from now on, not of the past.

        Raises:
            ValueError: the secret is not `whsec_<base64>`.
        """
        endpoint = Endpoint(
            id=f"ep_{next(self._ids)}", url=url, secret=secret, organization_id=organization_id
        )
        if not self.endpoints:
            self.baseline()
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def clear_endpoints(self) -> None:
        """Forget every receiver."""
        self.endpoints.clear()
        self._last_normal.clear()

    # --- messages from the fleet ---------------------------------------------------------------

    def telemetry_message(self, vehicle_id: str) -> Message:
        """`device.telemetry` for a car, as it reads now.

        Raises:
            KeyError: unknown vehicle.
        """
        self.cloud.settle()
        vehicle = self.cloud.vehicles[vehicle_id]
        return Message(
            event=TELEMETRY,
            organization_id=vehicle.organization_id,
            data={"vehicleId": vehicle.id, "telemetry": payloads.telemetry(vehicle)},
        )

    def command_message(self, execution_id: str) -> Message:
        """`command.updated` for an execution, as it stands now.

        Raises:
            KeyError: unknown execution.
        """
        self.cloud.settle()
        execution = self.cloud.executions[execution_id]
        return Message(
            event=COMMAND_UPDATED,
            organization_id=self._organization_of(execution.vehicle_id),
            data=payloads.execution(execution),
        )

    def connection_message(
        self, vehicle_id: str, connected: bool, *, account_id: str | None = None
    ) -> Message:
        """`device.connected` or `device.disconnected`; a gone car is described as last seen.

        Raises:
            KeyError: `connected` for a vehicle the fleet does not have.
        """
        vehicle = self.cloud.vehicles.get(vehicle_id)
        seen = self._vehicles.get(vehicle_id)
        if vehicle is not None:
            organization, account = vehicle.organization_id, vehicle.account_id
        elif connected:
            raise KeyError(vehicle_id)
        elif seen is not None:
            organization, account = seen.organization_id, seen.account_id
        else:
            organization, account = DEFAULT_ORGANIZATION, None
        return Message(
            event=DEVICE_CONNECTED if connected else DEVICE_DISCONNECTED,
            organization_id=organization,
            data=_connection_data(vehicle_id, account_id or account),
        )

    def _organization_of(self, vehicle_id: str) -> str:
        vehicle = self.cloud.vehicles.get(vehicle_id)
        if vehicle is not None:
            return vehicle.organization_id
        seen = self._vehicles.get(vehicle_id)
        return seen.organization_id if seen is not None else DEFAULT_ORGANIZATION

    # --- change detection -----------------------------------------------------------------------

    def baseline(self) -> None:
        """Take the fleet as it is now as known: only later changes are sent."""
        self.cloud.settle()
        self._changes()

    def _changes(self) -> list[Message]:
        """What changed since the last look, oldest kind of news first; remembers the new state."""
        vehicles = self.cloud.vehicles
        gone = [
            Message(
                event=DEVICE_DISCONNECTED,
                organization_id=seen.organization_id,
                data=_connection_data(vehicle_id, seen.account_id),
            )
            for vehicle_id, seen in sorted(self._vehicles.items())
            if vehicle_id not in vehicles
        ]
        for message in gone:
            del self._vehicles[message.data["vehicleId"]]
        joined: list[Message] = []
        updated: list[Message] = []
        for vehicle_id, vehicle in sorted(vehicles.items()):
            telemetry = payloads.telemetry(vehicle)
            readings = _readings(telemetry)
            seen = self._vehicles.get(vehicle_id)
            if seen is None:
                joined.append(
                    Message(
                        event=DEVICE_CONNECTED,
                        organization_id=vehicle.organization_id,
                        data=_connection_data(vehicle_id, vehicle.account_id),
                    )
                )
            elif seen.readings != readings:
                updated.append(
                    Message(
                        event=TELEMETRY,
                        organization_id=vehicle.organization_id,
                        data={"vehicleId": vehicle_id, "telemetry": telemetry},
                    )
                )
            self._vehicles[vehicle_id] = _SeenVehicle(
                organization_id=vehicle.organization_id,
                account_id=vehicle.account_id,
                readings=readings,
            )
        commands: list[Message] = []
        for execution_id, execution in self.cloud.executions.items():
            # A new execution starts PENDING: creating it is not news, settling it is.
            if execution.status != self._statuses.get(execution_id, "PENDING"):
                commands.append(
                    Message(
                        event=COMMAND_UPDATED,
                        organization_id=self._organization_of(execution.vehicle_id),
                        data=payloads.execution(execution),
                    )
                )
            self._statuses[execution_id] = execution.status
        return gone + joined + commands + updated

    async def pump(self) -> list[Delivery]:
        """Bring the world up to the clock and send whatever changed, in order."""
        async with self._lock:
            self.cloud.settle()
            sent: list[Delivery] = []
            for message in self._changes():
                sent += await self.send(message)
            return sent

    def start_auto(self, interval: float = 1.0) -> None:
        """Pump every `interval` real seconds in the background (needs a running loop)."""
        if self._auto is not None:
            self._auto.cancel()
        self._auto = asyncio.get_running_loop().create_task(self._pump_forever(interval))

    @property
    def auto(self) -> bool:
        """Whether background pumping runs."""
        return self._auto is not None and not self._auto.done()

    async def _pump_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.pump()
            except Exception:
                _LOGGER.exception("Webhook pump failed")

    async def stop_auto(self) -> None:
        """Stop background pumping."""
        task, self._auto = self._auto, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Stop pumping and close the HTTP session."""
        await self.stop_auto()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- sending ---------------------------------------------------------------------------------

    async def send_telemetry(self, vehicle_id: str, *, mode: Mode = Mode.NORMAL) -> list[Delivery]:
        """Send a car's telemetry now (KeyError: unknown vehicle)."""
        return await self.send(self.telemetry_message(vehicle_id), mode=mode)

    async def send_command(self, execution_id: str, *, mode: Mode = Mode.NORMAL) -> list[Delivery]:
        """Send an execution's status now (KeyError: unknown execution)."""
        return await self.send(self.command_message(execution_id), mode=mode)

    async def send_connection(
        self,
        vehicle_id: str,
        connected: bool,
        *,
        account_id: str | None = None,
        mode: Mode = Mode.NORMAL,
    ) -> list[Delivery]:
        """Send that a car joined or left (KeyError: `connected` for an unknown vehicle)."""
        message = self.connection_message(vehicle_id, connected, account_id=account_id)
        return await self.send(message, mode=mode)

    async def replay(self, organization_id: str | None = None) -> list[Delivery]:
        """Resend each endpoint's previous normal delivery, headers and body unchanged.

        Raises:
            NothingToReplayError: an endpoint has received nothing to replay.
        """
        targets = [
            endpoint
            for endpoint in self.endpoints.values()
            if organization_id is None or endpoint.organization_id == organization_id
        ]
        missing = [endpoint.id for endpoint in targets if endpoint.id not in self._last_normal]
        if missing:
            raise NothingToReplayError(f"nothing to replay to {', '.join(missing)}")
        prepared = [self._again(self._last_normal[endpoint.id]) for endpoint in targets]
        return await self._deliver(prepared)

    async def send(self, message: Message, *, mode: Mode = Mode.NORMAL) -> list[Delivery]:
        """Deliver a message to the endpoints of its organisation, in `mode`."""
        if mode is Mode.REPLAYED:
            return await self.replay(message.organization_id)
        prepared = [
            self._prepare(endpoint, message, mode)
            for endpoint in self.endpoints.values()
            if endpoint.organization_id == message.organization_id
        ]
        return await self._deliver(prepared)

    def _prepare(self, endpoint: Endpoint, message: Message, mode: Mode) -> Delivery:
        moment = self.cloud.now() - (LATE_BY if mode is Mode.LATE else timedelta())
        timestamp = int(moment.timestamp())
        envelope = {"type": message.event, "timestamp": payloads.iso(moment), "data": message.data}
        body = json.dumps(envelope, separators=(",", ":")).encode()
        if mode is Mode.MALFORMED:
            body = body[: len(body) // 2]  # cut short: never a complete JSON object
        key = secrets.token_bytes(24) if mode is Mode.FORGED else endpoint.key
        message_id = f"msg_{secrets.token_urlsafe(18)}"
        return Delivery(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            event=message.event,
            mode=mode,
            message_id=message_id,
            timestamp=timestamp,
            headers={
                "svix-id": message_id,
                "svix-timestamp": str(timestamp),
                "svix-signature": sign(key, message_id, timestamp, body),
                "Content-Type": "application/json",
            },
            body=body,
        )

    @staticmethod
    def _again(previous: Delivery) -> Delivery:
        return Delivery(
            endpoint_id=previous.endpoint_id,
            url=previous.url,
            event=previous.event,
            mode=Mode.REPLAYED,
            message_id=previous.message_id,
            timestamp=previous.timestamp,
            headers=dict(previous.headers),
            body=previous.body,
        )

    async def _deliver(self, prepared: list[Delivery]) -> list[Delivery]:
        await asyncio.gather(*(self._post(delivery) for delivery in prepared))
        for delivery in prepared:
            if delivery.mode is Mode.NORMAL:
                self._last_normal[delivery.endpoint_id] = delivery
        self.deliveries.extend(prepared)
        del self.deliveries[:-MAX_DELIVERIES]
        return prepared

    async def _post(self, delivery: Delivery) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                delivery.url,
                data=delivery.body,
                headers=delivery.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                await response.read()
                delivery.status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            delivery.error = f"{type(err).__name__}: {err}"


# --- admin endpoints ---------------------------------------------------------------------------

SENDER: web.AppKey[WebhookSender] = web.AppKey("volteras_webhooks")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _deliveries(deliveries: list[Delivery]) -> web.Response:
    return web.json_response({"deliveries": [delivery.as_json() for delivery in deliveries]})


async def _register(request: web.Request) -> web.Response:
    sender = request.app[SENDER]
    body = await _body(request)
    url, secret = body.get("url"), body.get("secret")
    organization = body.get("organization_id", DEFAULT_ORGANIZATION)
    interval = body.get("interval", 1.0)
    if not all(isinstance(value, str) and value for value in (url, secret, organization)):
        raise web.HTTPBadRequest(text="url, secret (and organization_id) must be strings")
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise web.HTTPBadRequest(text="interval must be a positive number of seconds")
    try:
        endpoint = sender.add_endpoint(str(url), str(secret), organization_id=str(organization))
    except ValueError as err:
        raise web.HTTPBadRequest(text=f"bad secret: {err}") from None
    if body.get("auto", True):
        sender.start_auto(float(interval))
    return web.json_response({**endpoint.as_json(), "auto": sender.auto})


async def _list_endpoints(request: web.Request) -> web.Response:
    sender = request.app[SENDER]
    return web.json_response(
        {"endpoints": [endpoint.as_json() for endpoint in sender.endpoints.values()]}
    )


async def _clear_endpoints(request: web.Request) -> web.Response:
    sender = request.app[SENDER]
    await sender.stop_auto()
    sender.clear_endpoints()
    return web.json_response({"endpoints": []})


def _required_id(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"{key} must be a string")
    return value


async def _send(request: web.Request) -> web.Response:
    sender = request.app[SENDER]
    body = await _body(request)
    raw_mode = body.get("mode", Mode.NORMAL.value)
    if raw_mode not in {mode.value for mode in Mode}:
        raise web.HTTPBadRequest(text=f"mode must be one of {[m.value for m in Mode]}")
    mode = Mode(raw_mode)
    event = body.get("event")
    try:
        if mode is Mode.REPLAYED and event is None:
            return _deliveries(await sender.replay())
        match event:
            case "device.telemetry":
                message = sender.telemetry_message(_required_id(body, "vehicle_id"))
            case "command.updated":
                message = sender.command_message(_required_id(body, "execution_id"))
            case "device.connected" | "device.disconnected":
                account = body.get("account_id")
                message = sender.connection_message(
                    _required_id(body, "vehicle_id"),
                    event == DEVICE_CONNECTED,
                    account_id=account if isinstance(account, str) else None,
                )
            case _:
                raise web.HTTPBadRequest(text=f"event must be one of {list(EVENTS)}")
        return _deliveries(await sender.send(message, mode=mode))
    except NothingToReplayError as err:
        raise web.HTTPConflict(text=str(err)) from None
    except KeyError as err:
        raise web.HTTPNotFound(text=f"unknown {err}") from None


async def _flush(request: web.Request) -> web.Response:
    return _deliveries(await request.app[SENDER].pump())


async def _delivery_log(request: web.Request) -> web.Response:
    return _deliveries(request.app[SENDER].deliveries)


async def _close(app: web.Application) -> None:
    await app[SENDER].close()


def add_routes(app: web.Application, sender: WebhookSender) -> None:
    """Register the webhook admin endpoints; the sender closes with the application."""
    app[SENDER] = sender
    app.router.add_post("/_sim/webhooks/endpoints", _register)
    app.router.add_get("/_sim/webhooks/endpoints", _list_endpoints)
    app.router.add_delete("/_sim/webhooks/endpoints", _clear_endpoints)
    app.router.add_post("/_sim/webhooks/send", _send)
    app.router.add_post("/_sim/webhooks/flush", _flush)
    app.router.add_get("/_sim/webhooks/deliveries", _delivery_log)
    app.on_cleanup.append(_close)
