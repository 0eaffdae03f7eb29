"""Volvo's command outcomes (`invokeStatus`) and the client's own codes → the neutral reasons.

`invokeStatus` values are documented on the Connected Vehicle v2 climate page. The client's own
codes (lower case) name HTTP refusals of a command that was still in flight when
`async_send_command` returned, or why no answer came (`timeout`, `connection_lost`); and
`UNCONFIRMED` for a command Volvo never gave a verdict on.
"""

from __future__ import annotations

from typing import Final

from ...model import FailureReason as R

# The car did it (COMPLETED) or has it (DELIVERED). The Home Assistant side treats a code on an
# executed command as "already as asked", so success maps there, as Tesla's `ALREADY_SO` does.
SUCCESS: Final = frozenset({"COMPLETED", "DELIVERED"})
# No verdict: Volvo's call ended while the command was still on its way, or Volvo does not know.
NO_VERDICT: Final = frozenset({"RUNNING", "WAITING", "UNKNOWN"})

FAILURE_REASONS: Final[dict[str, R]] = {
    **dict.fromkeys(SUCCESS, R.ALREADY_IN_STATE),
    "VEHICLE_IN_SLEEP": R.ASLEEP,
    "CONNECTION_FAILURE": R.OFFLINE,
    "TIMEOUT": R.TIMEOUT,
    "REJECTED": R.REJECTED,
    # The car itself answered with an error: it refused, the cloud worked.
    "CAR_ERROR": R.REJECTED,
    "NOT_ALLOWED_PRIVACY_ENABLED": R.NOT_PERMITTED,
    "NOT_ALLOWED_WRONG_USAGE_MODE": R.IN_USE,
    "UNKNOWN": R.UNKNOWN,
    # Still on its way when the deadline passed.
    "RUNNING": R.TIMEOUT,
    "WAITING": R.TIMEOUT,
    "UNCONFIRMED": R.UNKNOWN,
    # No answer to the command's call (client codes, see `client.py`).
    "timeout": R.TIMEOUT,
    "connection_lost": R.CLOUD_ERROR,
    # HTTP refusals of a command (client codes, see `errors.py`).
    "NOT_SUPPORTED": R.UNSUPPORTED,
    "not_found": R.UNSUPPORTED,
    "forbidden": R.NOT_PERMITTED,
    "invalid_api_key": R.NOT_PERMITTED,
    "token_refused": R.NOT_PERMITTED,
    "rate_limited": R.RATE_LIMITED,
    "quota_exceeded": R.RATE_LIMITED,
    "invalid_request": R.REJECTED,
    "server_error": R.CLOUD_ERROR,
    "http_error": R.CLOUD_ERROR,
    "unreachable": R.CLOUD_ERROR,
    "malformed": R.CLOUD_ERROR,
}


def failure_reason(code: str | None) -> R:
    """The neutral reason for a Volvo command outcome; an unknown code is a refusal."""
    if not code:
        return R.UNKNOWN
    return FAILURE_REASONS.get(code, R.REJECTED)
