"""Running commands: send, follow while pending, and turn every outcome into success or a translated error.

Users of the incumbent integrations complained that a failed command looked like success. Here a
service call returns only once the provider confirmed the command, and raises a translated
`HomeAssistantError` naming the reason otherwise. Commands that undo each other share a slot; while
one is in flight, newer requests for the slot replace each other, so dragging a slider sends one
command for the value the user let go at, not one per step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import time

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN, LOGGER
from .model import Command, CommandExecution, CommandStatus, VehicleInfo
from .providers import VehicleProvider
from .providers.errors import (
    AuthenticationError,
    CommandFailedError,
    CommandInProgressError,
    InvalidInputError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    VehicleUnavailableError,
)

# The provider's own timeout for a pending command (Volteras: 5 minutes) plus a margin; past it we
# stop waiting and say so rather than hang a service call forever.
DEFAULT_COMMAND_TIMEOUT = 300.0
TIMEOUT_MARGIN = 30.0
# First poll soon (most commands confirm within seconds), then back off to spare the rate limit.
POLL_DELAYS = (1.0, 2.0, 3.0, 5.0, 10.0)

# Every `failedReason` the Volteras OpenAPI document lists, and the API error codes that refuse a
# command outright; each has a translated message.
KNOWN_FAILED_REASONS = frozenset(
    {
        "OEM_UNKNOWN_ERROR",
        "OEM_TIMEOUT",
        "OEM_UNAVAILABLE",
        "OEM_NETWORK_ERROR",
        "OEM_INCORRECT_REGION",
        "OEM_APP_REQUIRED_UPDATE",
        "OEM_USER_ACCOUNT_LOCKED",
        "OEM_OAUTH_TOKEN_EXPIRED",
        "OEM_VEHICLE_OFFLINE",
        "OEM_VEHICLE_REMOTE_ACCESS_DISABLED",
        "OEM_VEHICLE_LOCATION_SHARING_DISABLED",
        "OEM_AUTH_DRIVER_IS_NOT_PRIMARY_USER",
        "OEM_DEVICE_NOT_FOUND",
        "OEM_COMMAND_TIMEOUT",
        "OEM_COMMAND_FAILED",
        "OEM_RATE_LIMITED",
        "OEM_ACCOUNT_RATE_LIMITED",
        "OEM_DEVICE_RATE_LIMITED",
        "OEM_STOP_CHARGE_RATE_LIMITED",
        "OEM_COMMANDS_RATE_LIMITED",
        "OEM_VEHICLE_LOCATION_UNKNOWN",
        "OEM_VEHICLE_NOT_IN_AUTHORIZED_LOCATION",
        "OEM_VEHICLE_CHARGING_NOT_FINISHED",
        "OEM_VEHICLE_CHARGING_NOT_STOPPED",
        "OEM_VEHICLE_CHARGING_NOT_STARTED",
        "OEM_VEHICLE_CHARGING_NOT_PAUSED",
        "OEM_VEHICLE_CHARGING_REFUSED_PLAY_PROTECTION",
        "OEM_COMMAND_REFUSED_OTHER_SERVICE_RUNNING",
        "OEM_COMMAND_REFUSED_VEHICLE_AWAKE_IN_STAND_STILL_AND_RESTING_STATE",
        "OEM_COMMAND_REFUSED_VEHICLE_AWAKE_IN_STAND_STILL_AND_ACTIVE_STATE",
        "OEM_COMMAND_REFUSED_VEHICLE_AWAKE_IN_DRIVING_OR_READY_TO_DRIVE",
        "OEM_COMMAND_REFUSED_VEHICLE_AWAKE_IN_DIAGNOSTICS_MODE",
        "SERVER_ERROR",
        "INTERNAL_RATE_LIMITED",
        "AUTHENTICATION_ERROR",
        "NOT_PERMITTED",
        # Error codes of the API itself that refuse a command for good.
        "UNSUPPORTED_OEM",
        "DEVICE_LIMIT_REACHED",
    }
)


@dataclass(frozen=True, kw_only=True)
class CommandOutcome:
    """What the last command of a vehicle came to, for the `last_command` sensor."""

    command: Command
    status: CommandStatus
    reason: str | None = None
    finished_at: float = field(default_factory=time.time)


def failed_command_error(reason: str | None, vehicle_name: str) -> HomeAssistantError:
    """A translated error for a command the provider reported FAILED."""
    if reason in KNOWN_FAILED_REASONS:
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"command_failed_{reason.lower()}",
            translation_placeholders={"vehicle": vehicle_name},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="command_failed_other",
        translation_placeholders={"vehicle": vehicle_name, "reason": reason or "unknown"},
    )


def provider_error_to_ha(err: ProviderError, vehicle_name: str) -> HomeAssistantError:
    """Map an error raised while sending or following a command to a translated HA error."""
    placeholders = {"vehicle": vehicle_name}
    key: str
    error_type: type[HomeAssistantError] = HomeAssistantError
    match err:
        case CommandFailedError():
            return failed_command_error(err.code, vehicle_name)
        case AuthenticationError():
            key = "command_auth_failed"
        case RateLimitedError():
            key = "command_rate_limited"
            placeholders["retry_after"] = str(round(err.retry_after or 60))
        case CommandInProgressError():
            key = "command_in_progress"
        case VehicleUnavailableError():
            key = "command_failed_oem_vehicle_offline"
        case NotFoundError():
            key = "command_vehicle_not_found"
        case InvalidInputError():
            key = "command_invalid_input"
            error_type = ServiceValidationError
        case _:
            key = "command_cloud_unavailable"
    return error_type(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


@dataclass
class _Slot:
    """One in-flight command per slot, plus the newest request waiting behind it."""

    running: bool = False
    queued: Command | None = None
    queued_result: asyncio.Future[Command] | None = None


class CommandRunner:
    """Sends one vehicle's commands and follows them until the provider settles them."""

    def __init__(
        self,
        provider: VehicleProvider,
        vehicle: VehicleInfo,
        *,
        on_outcome: Callable[[CommandOutcome], None],
        on_auth_failed: Callable[[], None],
    ) -> None:
        """Keep what is needed to send and report."""
        self._provider = provider
        self._vehicle = vehicle
        self._on_outcome = on_outcome
        self._on_auth_failed = on_auth_failed
        self._slots: dict[str, _Slot] = {}
        self.poll_delays: tuple[float, ...] = POLL_DELAYS
        self.last_outcome: CommandOutcome | None = None

    async def async_execute(self, command: Command) -> Command:
        """Run `command`; return the command that was confirmed, raise a translated error if none.

        While a command of the same slot is in flight, the newest request replaces any waiting
        one, and every waiter gets the outcome of that newest request: the returned command is
        then not the one the caller passed.
        """
        slot = self._slots.setdefault(command.type.slot, _Slot())
        if slot.running:
            slot.queued = command
            if slot.queued_result is None:
                slot.queued_result = asyncio.get_running_loop().create_future()
            return await asyncio.shield(slot.queued_result)

        slot.running = True
        try:
            await self._async_run(command)
        finally:
            slot.running = False
            if slot.queued is not None and slot.queued_result is not None:
                queued, future = slot.queued, slot.queued_result
                slot.queued, slot.queued_result = None, None
                asyncio.get_running_loop().create_task(self._async_run_queued(queued, future))
        return command

    async def _async_run_queued(self, command: Command, future: asyncio.Future[Command]) -> None:
        try:
            future.set_result(await self.async_execute(command))
        except HomeAssistantError as err:
            future.set_exception(err)

    async def _async_run(self, command: Command) -> CommandExecution:
        name = self._vehicle.display_name
        self._report(CommandOutcome(command=command, status=CommandStatus.PENDING))
        try:
            execution = await self._async_send_and_follow(command)
        except ProviderError as err:
            if isinstance(err, AuthenticationError):
                self._on_auth_failed()
            reason = err.code or type(err).__name__
            self._report(
                CommandOutcome(command=command, status=CommandStatus.FAILED, reason=reason)
            )
            LOGGER.debug(
                "Command %s for vehicle %s failed: %s", command.type, self._vehicle.id, reason
            )
            raise provider_error_to_ha(err, name) from err
        self._report(
            CommandOutcome(command=command, status=execution.status, reason=execution.failed_reason)
        )
        if execution.status is CommandStatus.FAILED:
            LOGGER.debug(
                "Command %s for vehicle %s failed: %s",
                command.type,
                self._vehicle.id,
                execution.failed_reason,
            )
            raise failed_command_error(execution.failed_reason, name)
        return execution

    async def _async_send_and_follow(self, command: Command) -> CommandExecution:
        execution = await self._provider.async_send_command(self._vehicle, command)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (execution.timeout or DEFAULT_COMMAND_TIMEOUT) + TIMEOUT_MARGIN
        attempt = 0
        while execution.status is CommandStatus.PENDING:
            if loop.time() >= deadline:
                # The provider should have failed it by now; report it as the timeout it is.
                return CommandExecution(
                    id=execution.id,
                    type=execution.type,
                    status=CommandStatus.FAILED,
                    failed_reason="OEM_COMMAND_TIMEOUT",
                )
            await asyncio.sleep(self.poll_delays[min(attempt, len(self.poll_delays) - 1)])
            attempt += 1
            execution = await self._provider.async_get_command_execution(self._vehicle, execution)
        return execution

    def _report(self, outcome: CommandOutcome) -> None:
        self.last_outcome = outcome
        self._on_outcome(outcome)
