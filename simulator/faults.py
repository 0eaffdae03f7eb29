"""Faults that can be switched on while the simulator runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """What can go wrong, as users meet it."""

    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INTERNAL_RATE_LIMITED = "internal_rate_limited"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    COMMAND_IN_PROGRESS = "command_in_progress"
    NOT_FOUND = "not_found"
    # Tesla's 421: the account lives on another regional server.
    WRONG_REGION = "wrong_region"


# Faults without an explicit path leave the token endpoint alone, so a test can fail data
# calls while authentication keeps working.
TOKEN_PATH = "/v1/oauth2/token"


@dataclass(kw_only=True)
class Fault:
    """One active fault: its kind, where it applies, how many more times, its parameters."""

    kind: FaultKind
    path: str | None = None
    remaining: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, method: str, path: str) -> bool:
        """Whether a request is hit by this fault."""
        if self.kind is FaultKind.COMMAND_IN_PROGRESS and not (
            method == "POST" and "command-execution:" in path
        ):
            return False
        if self.path is None:
            return path != TOKEN_PATH
        return self.path in path

    def as_dict(self) -> dict[str, Any]:
        """For the admin state dump."""
        return {"kind": self.kind.value, "path": self.path, "count": self.remaining, **self.params}


class FaultInjector:
    """The active faults; the first that matches a request is used (and counted down)."""

    def __init__(self) -> None:
        """No faults."""
        self._faults: list[Fault] = []

    def set(
        self, kind: str, *, count: int | None = None, path: str | None = None, **params: Any
    ) -> None:
        """Switch a fault on; `count=None` keeps it until cleared."""
        self._faults.append(
            Fault(kind=FaultKind(kind), path=path, remaining=count, params=dict(params))
        )

    def clear(self) -> None:
        """Switch every fault off."""
        self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any, counting it down."""
        for fault in self._faults:
            if fault.applies_to(method, path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def as_list(self) -> list[dict[str, Any]]:
        """For the admin state dump."""
        return [fault.as_dict() for fault in self._faults]
