"""Volvo's HTTP refusals → the shared provider errors.

Two bodies answer a 401, and they need opposite fixes. Azure API Management, in front of every
Volvo API, checks the application's `vcc-api-key` first and answers
`{"statusCode": 401, "message": "Access denied due to invalid subscription key. …"}`: only a new
key helps (`ApiKeyRejectedError`). Volvo's own `{"error": {"message": "Unauthorized", …}}` refuses
the access token. The Home Assistant side refreshes the token before each call, so that refusal is
of a token that was just found valid, and only the token endpoint decides that the user must
sign in again (a refused refresh token is an `AuthenticationError` there). As for Tesla, a refused
access token is therefore a `TransientError` (code `token_refused`): the next poll gets a fresh
token, and a revoked grant shows up at the next refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import math
import re
from typing import Any

from ..errors import (
    ApiKeyRejectedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TransientError,
)
from ..tokens import TOKEN_REFUSED

# A Retry-After beyond this is not a rate-limit window (Volvo's are a minute).
MAX_RETRY_AFTER = 3600.0
_SAFE_WORDS = re.compile(r"[A-Za-z][A-Za-z_ ]{0,39}")
_TRY_AGAIN = re.compile(r"try again in (\d{1,5}) seconds?", re.IGNORECASE)
_REPLENISHED = re.compile(r"replenished in (\d{1,2}):(\d{2}):(\d{2})", re.IGNORECASE)


class OutcomeUnknownError(TransientError):
    """The request went out, but no answer says what became of it.

    A time-out after the request was sent, a dropped connection, a gateway's error page or a
    garbled answer. For a read it is just a transient failure; for a command it means the car may
    still carry it out, so it is not a failure yet.
    """


def _seconds(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    return min(max(0.0, value), MAX_RETRY_AFTER)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not header:
        return None
    try:
        return _seconds(float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except TypeError, ValueError, IndexError, OverflowError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        delta = (when - (now or datetime.now(UTC))).total_seconds()
    except OverflowError:  # pragma: no cover - aware datetimes subtract within range
        return None
    return _seconds(delta)


def _apim_message(body: Any) -> str | None:
    """The message of an API Management error (`{"statusCode": …, "message": …}`)."""
    if isinstance(body, dict) and "statusCode" in body and isinstance(body.get("message"), str):
        return str(body["message"])
    return None


def _volvo_error(body: Any) -> dict[str, Any] | None:
    """Volvo's own error envelope, `{"error": {"message": …, "description": …}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _label(body: Any) -> str:
    """Volvo's short error word for the message, when it is one (never a description)."""
    error = _volvo_error(body)
    word = error.get("message") if error else None
    # Letters and spaces only ("Not Found", "INTERNAL_SERVER_ERROR"): no token fits.
    if isinstance(word, str) and _SAFE_WORDS.fullmatch(word) and "bearer" not in word.lower():
        return f" ({word})"
    return ""


def _rate_limit(
    message: str, code: str, header: str | None, apim: str | None, now: datetime | None
) -> RateLimitedError:
    retry_after = retry_after_seconds(header, now)
    if retry_after is None and apim:
        if match := _TRY_AGAIN.search(apim):
            retry_after = _seconds(float(match.group(1)))
        elif match := _REPLENISHED.search(apim):
            hours, minutes, seconds = (int(part) for part in match.groups())
            retry_after = _seconds(hours * 3600.0 + minutes * 60.0 + seconds)
    return RateLimitedError(message, code=code, retry_after=retry_after)


def error_from_response(
    status: int, body: Any, retry_after: str | None = None, *, now: datetime | None = None
) -> ProviderError:
    """The shared error for a non-2xx answer; the message never echoes the body."""
    message = f"Volvo answered HTTP {status}{_label(body)}"
    apim = _apim_message(body)
    if status == 401:
        if apim and "subscription key" in apim.lower():
            return ApiKeyRejectedError(
                "Volvo refused the application's API key", code="invalid_api_key"
            )
        return TransientError("Volvo refused the access token", code=TOKEN_REFUSED)
    if status == 403:
        if apim and "quota" in apim.lower():
            # API Management's quota policy: the key's call volume is spent for now.
            return _rate_limit(message, "quota_exceeded", retry_after, apim, now)
        return PermissionDeniedError(message, code="forbidden")
    if status == 404:
        return NotFoundError(message, code="not_found")
    if status == 429:
        return _rate_limit(message, "rate_limited", retry_after, apim, now)
    if status in (400, 422):
        return InvalidInputError(message, code="invalid_request")
    if status >= 500:
        if _volvo_error(body) is not None:
            # Volvo's own service answered (e.g. "Error returned from car"): a verdict.
            return TransientError(message, code="server_error")
        # A gateway's page (502, 504): the request may have reached the car or not.
        return OutcomeUnknownError(message, code="server_error")
    return TransientError(message, code="http_error")
