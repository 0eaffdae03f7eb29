"""Volteras's error envelope → the shared provider errors.

Errors come as `{requestId, timestamp, error, message, data}` with an HTTP status. The code in
`error` decides; the status is the fallback when the body is not an envelope (a proxy's 502 page).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import (
    AuthenticationError,
    CommandFailedError,
    CommandInProgressError,
    InvalidInputError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    TransientError,
)

_BY_CODE: dict[str, type[ProviderError]] = {
    "AUTHENTICATION_ERROR": AuthenticationError,
    "INTERNAL_RATE_LIMITED": RateLimitedError,
    "RESOURCE_NOT_FOUND": NotFoundError,
    "REQUEST_VALIDATION_ERROR": InvalidInputError,
    "PAGE_SIZE_TOO_LARGE": InvalidInputError,
    "PAGINATED_QUERY_FILTER_CHANGED": InvalidInputError,
    "COMMAND_ALREADY_IN_PROGRESS": CommandInProgressError,
    # The plan or the car maker does not allow this action for this vehicle: retrying or
    # re-authenticating cannot help, so it is a refused command, not an auth problem.
    "NOT_PERMITTED": CommandFailedError,
    "UNSUPPORTED_OEM": CommandFailedError,
    "DEVICE_LIMIT_REACHED": CommandFailedError,
    "SERVER_ERROR": TransientError,
}

_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: CommandFailedError,
    404: NotFoundError,
    409: CommandInProgressError,
    422: InvalidInputError,
    429: RateLimitedError,
}


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header, which may be a number or an HTTP date."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except TypeError, ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_from_response(status: int, body: Any, retry_after: str | None) -> ProviderError:
    """The shared error for a non-2xx answer; the message never echoes the body."""
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) else None
    error_type = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if error_type is None:
        error_type = TransientError if status >= 500 else ProviderError
    message = f"Volteras answered HTTP {status}" + (f" {code}" if code else "")
    if error_type is RateLimitedError:
        return RateLimitedError(
            message, code=code or "RATE_LIMITED", retry_after=retry_after_seconds(retry_after)
        )
    return error_type(message, code=code)
