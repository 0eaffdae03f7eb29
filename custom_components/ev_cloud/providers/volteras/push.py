"""Volteras's signed webhooks as the integration's neutral push events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
import time

from ..base import PushedCommand, PushedConnection, PushedState, PushEvent
from ..errors import PushRejectedError, TransientError
from . import parse
from .webhooks import (
    CommandEvent,
    ConnectionEvent,
    RejectReason,
    TelemetryEvent,
    WebhookRejected,
    WebhookVerifier,
)

# Genuine deliveries that carry nothing to act on: answered with success so Svix stops retrying.
ACKNOWLEDGED = frozenset({RejectReason.REPLAYED, RejectReason.UNKNOWN_EVENT})


class VolterasPushReceiver:
    """Verifies each delivery with the endpoint's signing secret and reads its event."""

    def __init__(self, secret: str, *, now: Callable[[], float] = time.time) -> None:
        """Raises ValueError (InvalidSecretError) for a secret that is not `whsec_<base64>`."""
        self._verifier = WebhookVerifier(secret, now=now)
        self.counts = self._verifier.counts

    def receive(self, headers: Mapping[str, str], body: bytes) -> PushEvent:
        """The delivery's event, or `PushRejectedError` naming why it is refused."""
        try:
            event = self._verifier.verify_event(headers, body)
        except WebhookRejected as err:
            raise PushRejectedError(
                err.reason.value, acknowledge=err.reason in ACKNOWLEDGED
            ) from err
        match event:
            case TelemetryEvent():
                try:
                    state = parse.vehicle_state(event.telemetry, datetime.now(UTC))
                except TransientError as err:
                    self.counts["malformed"] += 1
                    raise PushRejectedError("malformed") from err
                return PushedState(vehicle_id=event.vehicle_id, state=state)
            case CommandEvent():
                try:
                    status, reason = parse.execution_status(event.execution)
                except TransientError as err:
                    self.counts["malformed"] += 1
                    raise PushRejectedError("malformed") from err
                return PushedCommand(
                    vehicle_id=event.vehicle_id,
                    execution_id=event.execution_id,
                    status=status,
                    failed_reason=reason,
                )
            case ConnectionEvent():
                return PushedConnection(vehicle_id=event.vehicle_id, connected=event.connected)
