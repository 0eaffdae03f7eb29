"""Volteras webhooks: checking a Svix delivery, and the events EV Cloud acts on.

Volteras delivers webhooks through Svix, i.e. the Standard Webhooks scheme:

* headers `svix-id` (the message id, the same on every retry of one message), `svix-timestamp`
  (unix seconds of this attempt) and `svix-signature` (space-separated `v1,<base64>` entries; any
  one matching is enough, other versions are ignored). The unbranded `webhook-id`,
  `webhook-timestamp` and `webhook-signature` are accepted too, when no `svix-id` is present;
* the signature is HMAC-SHA256 over `f"{svix_id}.{svix_timestamp}.{raw_body}"`, keyed with the
  base64-decoded part of the endpoint secret after `whsec_` (a secret without the prefix is read
  as raw base64).

ASSUMED payload shapes. Volteras's OpenAPI document has no webhooks section, so the bodies below
are our reading, kept as close as possible to the REST shapes so that the REST parsers
(`parse.vehicle_state`, `parse.command_execution`) read push payloads unchanged:

    envelope:            {"type": "<event>", "timestamp": "<ISO 8601>", "data": {...}}
    device.telemetry:    data = {"vehicleId": "...", "telemetry": <the VehicleTelemetry object
                                  GET /v1/vehicles/{id}/telemetry returns>}
    command.updated:     data = <the VehicleCommandExecution object the REST API returns:
                                  {"id", "vehicleId", "command", "status", "failedReason"?, ...}>
    device.connected /
    device.disconnected: data = {"vehicleId": "...", "accountId": "..." (optional)}

Only what the integration needs is checked strictly (ids, the object shapes, the status of a
command); everything else is left to the REST parsers, which tolerate missing and odd values. The
envelope `timestamp` is informational: when it is missing or unreadable the event still counts.

Refusals raise `WebhookRejected`, whose `reason` is a short stable code and whose text never
holds the secret, a signature or anything else taken from the request, so it is safe to log.
This module logs nothing and imports nothing from Home Assistant.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import hashlib
import hmac
import json
import time
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_TOLERANCE = 300.0  # seconds either side of our clock
MAX_BODY_BYTES = 1 << 20  # a telemetry object is a few kilobytes
MAX_ID_LENGTH = 256
MAX_REMEMBERED_IDS = 10_000
# Unix seconds fit in 11 digits until the year 5138; anything longer is not a timestamp.
_MAX_TIMESTAMP_DIGITS = 12


class EventType(StrEnum):
    """The Volteras webhook events EV Cloud handles."""

    TELEMETRY = "device.telemetry"
    COMMAND_UPDATED = "command.updated"
    DEVICE_CONNECTED = "device.connected"
    DEVICE_DISCONNECTED = "device.disconnected"


class RejectReason(StrEnum):
    """Why a delivery was refused; the values are stable codes for counters and logs."""

    MISSING_HEADERS = "missing_headers"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE = "stale"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"
    MALFORMED = "malformed"
    UNKNOWN_EVENT = "unknown_event"


class WebhookRejected(Exception):  # noqa: N818 - the name the integration was promised
    """A delivery that must not be acted on.

    `reason` is the stable code; `detail` a fixed, log-safe explanation. Neither ever contains
    the secret, a signature, a header value or part of the body.

    `unknown_event` and `replayed` deliveries are authentic (the signature matched): the receiver
    may answer them with a 2xx so that Svix stops retrying.
    """

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        """Keep the reason code and a fixed explanation."""
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class InvalidSecretError(ValueError):
    """The endpoint secret is not `whsec_<base64>` (nor plain base64)."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key behind an endpoint secret as Svix shows it (`whsec_<base64>`).

    Surrounding whitespace (a careless paste) is ignored, so is missing base64 padding.

    Raises:
        InvalidSecretError: not a usable secret; the message does not repeat it.
    """
    if not isinstance(secret, str):
        raise InvalidSecretError("The webhook secret must be text")
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    if not encoded or not encoded.isascii():
        raise InvalidSecretError("The webhook secret is empty or not base64")
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error, ValueError:
        raise InvalidSecretError("The webhook secret is not base64") from None
    return key  # not empty: only "" decodes to nothing


def is_valid_secret(secret: str) -> bool:
    """Whether `decode_secret` accepts the secret (for a config flow's validation)."""
    try:
        decode_secret(secret)
    except InvalidSecretError:
        return False
    return True


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TelemetryEvent:
    """New telemetry for a vehicle; `telemetry` is what `parse.vehicle_state` reads.

    Its `id` is always the vehicle id (filled in when the push left it out).
    """

    vehicle_id: str
    telemetry: Mapping[str, Any]
    occurred_at: datetime | None = None

    @property
    def type(self) -> EventType:
        """The event's type."""
        return EventType.TELEMETRY


@dataclass(frozen=True, kw_only=True)
class CommandEvent:
    """A command execution changed status; `execution` is what `parse.command_execution` reads."""

    vehicle_id: str
    execution_id: str
    status: str
    command: str | None
    execution: Mapping[str, Any]
    occurred_at: datetime | None = None

    @property
    def type(self) -> EventType:
        """The event's type."""
        return EventType.COMMAND_UPDATED


@dataclass(frozen=True, kw_only=True)
class ConnectionEvent:
    """A vehicle joined (`connected`) or left the organisation."""

    vehicle_id: str
    connected: bool
    account_id: str | None = None
    occurred_at: datetime | None = None

    @property
    def type(self) -> EventType:
        """The event's type."""
        return EventType.DEVICE_CONNECTED if self.connected else EventType.DEVICE_DISCONNECTED


type WebhookEvent = TelemetryEvent | CommandEvent | ConnectionEvent


def _malformed(detail: str) -> WebhookRejected:
    return WebhookRejected(RejectReason.MALFORMED, detail)


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise _malformed(f"{what} missing or not an id")
    return value


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _malformed(f"{what} is not an object")
    return value


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError, OverflowError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_event(payload: Mapping[str, Any]) -> WebhookEvent:
    """The event in a verified, decoded delivery body.

    Raises:
        WebhookRejected: `malformed` when the envelope or its data has the wrong shape,
            `unknown_event` for a well-formed event of a type EV Cloud does not handle.
    """
    envelope = _object(payload, "body")
    kind = envelope.get("type")
    if not isinstance(kind, str):
        raise _malformed("event type missing")
    try:
        event_type = EventType(kind)
    except ValueError:
        raise WebhookRejected(RejectReason.UNKNOWN_EVENT, "event type not handled") from None
    data = _object(envelope.get("data"), "data")
    occurred_at = _moment(envelope.get("timestamp"))
    match event_type:
        case EventType.TELEMETRY:
            vehicle_id = _identifier(data.get("vehicleId"), "vehicleId")
            telemetry = _object(data.get("telemetry"), "telemetry")
            claimed = telemetry.get("id")
            if claimed is not None and claimed != vehicle_id:
                raise _malformed("telemetry belongs to another vehicle")
            return TelemetryEvent(
                vehicle_id=vehicle_id,
                telemetry={**telemetry, "id": vehicle_id},
                occurred_at=occurred_at,
            )
        case EventType.COMMAND_UPDATED:
            status = data.get("status")
            if not isinstance(status, str) or not status:
                raise _malformed("command status missing")
            command = data.get("command")
            return CommandEvent(
                vehicle_id=_identifier(data.get("vehicleId"), "vehicleId"),
                execution_id=_identifier(data.get("id"), "execution id"),
                status=status,
                command=command if isinstance(command, str) else None,
                execution=data,
                occurred_at=occurred_at,
            )
        case EventType.DEVICE_CONNECTED | EventType.DEVICE_DISCONNECTED:
            account_id = data.get("accountId")
            if account_id is not None:
                account_id = _identifier(account_id, "accountId")
            return ConnectionEvent(
                vehicle_id=_identifier(data.get("vehicleId"), "vehicleId"),
                connected=event_type is EventType.DEVICE_CONNECTED,
                account_id=account_id,
                occurred_at=occurred_at,
            )


# --- verification ----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def _headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """The id, timestamp and signature headers, found whatever their case."""
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        if isinstance(key, str) and isinstance(value, str):
            lowered[key.lower()] = value
    prefix = "svix-" if "svix-id" in lowered else "webhook-"
    found = [lowered.get(f"{prefix}{name}", "") for name in ("id", "timestamp", "signature")]
    message_id, timestamp, signature = (value.strip() for value in found)
    if not (message_id and timestamp and signature):
        raise WebhookRejected(RejectReason.MISSING_HEADERS, "id, timestamp or signature missing")
    if len(message_id) > MAX_ID_LENGTH:
        raise WebhookRejected(RejectReason.MISSING_HEADERS, "message id too long")
    return message_id, timestamp, signature


class WebhookVerifier:
    """Checks Svix deliveries for one endpoint secret and remembers recent message ids.

    Not thread-safe; meant for one event loop. `counts` tallies `"accepted"` and each
    `RejectReason`, for diagnostics.
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        now: Callable[[], float] = time.time,
        max_remembered: int = MAX_REMEMBERED_IDS,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        """Decode the secret now, so that a bad one fails at setup, not at the first delivery.

        Raises:
            InvalidSecretError: the secret is not `whsec_<base64>` nor base64.
        """
        self._key = decode_secret(secret)
        self.tolerance = tolerance
        self._now = now
        self._max_remembered = max_remembered
        self._max_body = max_body
        # message id → until when a second delivery of it is a replay
        self._seen: OrderedDict[str, float] = OrderedDict()
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        """No secret in the representation."""
        return f"WebhookVerifier(tolerance={self.tolerance}, counts={dict(self.counts)})"

    @property
    def accepted(self) -> int:
        """Deliveries accepted so far."""
        return self.counts["accepted"]

    @property
    def refused(self) -> int:
        """Deliveries refused so far, whatever the reason."""
        return sum(count for key, count in self.counts.items() if key != "accepted")

    def verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The decoded body of an authentic, fresh, first-seen delivery of a known event.

        Raises:
            WebhookRejected: anything else; nothing else is ever raised.
        """
        return self._check(headers, body)[0]

    def verify_event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Like `verify`, but the parsed event."""
        return self._check(headers, body)[1]

    def _check(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], WebhookEvent]:
        try:
            result = self._verify(headers, body)
        except WebhookRejected as err:
            self.counts[err.reason.value] += 1
            raise
        self.counts["accepted"] += 1
        return result

    def _verify(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], WebhookEvent]:
        message_id, timestamp, signatures = _headers(headers)
        if not (
            timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS
        ):
            raise WebhookRejected(RejectReason.BAD_TIMESTAMP, "not unix seconds")
        now = self._now()
        if abs(now - int(timestamp)) > self.tolerance:
            raise WebhookRejected(RejectReason.STALE, "timestamp outside the tolerance")
        if not isinstance(body, bytes | bytearray | memoryview):
            raise _malformed("body is not bytes")
        raw = bytes(body)
        if len(raw) > self._max_body:
            raise _malformed("body too large")
        signed = f"{message_id}.{timestamp}.".encode("utf-8", "surrogatepass") + raw
        expected = base64.b64encode(hmac.new(self._key, signed, hashlib.sha256).digest())
        if not self._signature_matches(signatures, expected):
            raise WebhookRejected(RejectReason.BAD_SIGNATURE, "no matching v1 signature")
        self._forget_expired(now)
        if self._seen.get(message_id, now) > now:
            raise WebhookRejected(RejectReason.REPLAYED, "message id already seen")
        try:
            payload = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except ValueError, RecursionError:  # UnicodeDecodeError is a ValueError
            raise _malformed("body is not JSON") from None
        if not isinstance(payload, dict):
            raise _malformed("body is not an object")
        event = parse_event(payload)
        self._remember(message_id, now)
        return payload, event

    @staticmethod
    def _signature_matches(header: str, expected: bytes) -> bool:
        matched = False
        for entry in header.split():
            version, comma, value = entry.partition(",")
            if version == "v1" and comma:
                # Every entry is compared, so the time taken says nothing about which matched.
                matched |= hmac.compare_digest(value.encode("utf-8", "surrogatepass"), expected)
        return matched

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            oldest_id, until = next(iter(self._seen.items()))
            if until > now:
                return
            del self._seen[oldest_id]

    def _remember(self, message_id: str, now: float) -> None:
        # A delivery is fresh while |now - t| <= tolerance, and it was first seen no earlier than
        # t - tolerance: twice the tolerance from now covers every fresh replay, plus a margin.
        self._seen[message_id] = now + 2 * self.tolerance + 60
        self._seen.move_to_end(message_id)
        while len(self._seen) > self._max_remembered:
            self._seen.popitem(last=False)
