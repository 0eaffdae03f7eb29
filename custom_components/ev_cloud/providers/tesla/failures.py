"""Tesla's refusal reasons → the neutral failure vocabulary.

Tesla enumerates none; these are the strings cars and the library are known to send. Anything
else maps to `rejected`, and the car's own words stay beside the neutral message.
"""

from __future__ import annotations

from typing import Final

from ...model import FailureReason as R
from .const import ALREADY_SO

FAILURE_REASONS: Final[dict[str, R]] = {
    **dict.fromkeys(ALREADY_SO, R.ALREADY_IN_STATE),
    "already_standard": R.ALREADY_IN_STATE,
    "disconnected": R.NOT_PLUGGED_IN,
    "could_not_wake_buses": R.BUSY,
    "Too many retries": R.BUSY,
    "vehicle_command_protocol_required": R.NOT_PERMITTED,
    "key_not_paired": R.NOT_PERMITTED,
    "vehicle_asleep": R.ASLEEP,
    "wake_timeout": R.ASLEEP,
    "invalid_charge_limit": R.INVALID_VALUE,
    "invalid_charging_amps": R.INVALID_VALUE,
    "OPERATIONSTATUS_ERROR": R.REJECTED,
}


def failure_reason(code: str | None) -> R:
    """The neutral reason for a Tesla refusal."""
    if code and code.startswith("GENERICERROR_"):
        return R.REJECTED
    return FAILURE_REASONS.get(code or "", R.REJECTED if code else R.UNKNOWN)
