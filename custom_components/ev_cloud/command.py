"""Running commands: send, follow while pending, and turn every outcome into success or a translated error.

Users of the incumbent integrations complained that a failed command looked like success. Here a
service call returns only once the provider confirmed the command, and raises a translated
`HomeAssistantError` naming the reason otherwise.

Commands that undo each other share a slot. One command per slot is in flight; behind it waits at
most one request, the newest: a request replaced by a newer one fails with "superseded" (never a
false success), and requests are sent in the order they were made, so start, stop, start ends with
the car charging. Dragging a slider therefore sends the value the user let go at, not every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import time
from typing import Any

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .model import (
    Capability,
    Command,
    CommandExecution,
    CommandStatus,
    FailureReason,
    VehicleInfo,
    VehicleState,
    command_shown,
    shows_in_a_reading,
)
from .providers import ProviderSpec, VehicleProvider
from .providers.errors import (
    ApiKeyRejectedError,
    AuthenticationError,
    CommandFailedError,
    CommandInProgressError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TimedOutError,
    TransientError,
    VehicleUnavailableError,
)

# Past the provider's own timeout we stop waiting and say so rather than hang a service call.
TIMEOUT_MARGIN = 30.0
MIN_TIMEOUT = 30.0
# First look soon (most commands confirm within seconds), then back off to spare the rate limit.
POLL_DELAYS = (1.0, 2.0, 3.0, 5.0, 10.0)
# While the provider pushes command results, reads are only a fallback for a lost delivery.
PUSH_POLL_DELAYS = (30.0, 60.0)
# Pushed results kept for executions nobody waits on yet (the push can beat the send's answer).
PUSHED_KEPT = 32
# A send that got no answer may still have reached the car: this long, reading the car may show
# it did (each read may be billed, so the window is short).
CONFIRM_WINDOW = 30.0
# A car's clock and ours may differ this much: a reading stamped this long before the send
# still counts as after it (the state must also have changed since the send).
CLOCK_SKEW = timedelta(seconds=30)

type TaskStarter = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class CommandSupersededError(HomeAssistantError):
    """A newer request for the same control replaced this one before it was sent."""


@dataclass(frozen=True, kw_only=True)
class CommandOutcome:
    """What a vehicle's last command came to, for the `last_command` sensor."""

    command: Command
    status: CommandStatus
    reason: FailureReason | None = None
    # The provider's own code, verbatim.
    code: str | None = None
    message: str | None = None
    finished_at: float = field(default_factory=time.time)


def command_error(
    reason: FailureReason, code: str | None, vehicle_name: str, *, retry_after: float | None = None
) -> HomeAssistantError:
    """A translated error naming the neutral reason and the provider's code."""
    error_type = (
        ServiceValidationError if reason is FailureReason.INVALID_VALUE else HomeAssistantError
    )
    if reason is FailureReason.SUPERSEDED:
        error_type = CommandSupersededError
    return error_type(
        translation_domain=DOMAIN,
        translation_key=f"command_failed_{reason.value}",
        translation_placeholders={
            "vehicle": vehicle_name,
            "code": code or reason.value.upper(),
            "retry_after": str(round(retry_after or 60)),
        },
    )


def classify(err: ProviderError, spec: ProviderSpec) -> FailureReason:
    """The neutral reason for an error raised while sending or following a command."""
    match err:
        case CommandFailedError():
            return spec.map_failure(err.code)
        case AuthenticationError() | PermissionDeniedError():
            return FailureReason.NOT_PERMITTED
        case ApiKeyRejectedError():
            return FailureReason.ACCOUNT_ACTION_REQUIRED
        case RateLimitedError():
            return FailureReason.RATE_LIMITED
        case CommandInProgressError():
            return FailureReason.BUSY
        case VehicleUnavailableError():
            return FailureReason.OFFLINE
        case NotFoundError():
            return FailureReason.CONSENT_EXPIRED
        case InvalidInputError():
            return FailureReason.INVALID_VALUE
    return FailureReason.CLOUD_ERROR


@dataclass(kw_only=True)
class _Request:
    command: Command
    future: asyncio.Future[None]


@dataclass
class _Slot:
    waiting: _Request | None = None
    # The task sending this slot's requests; done (or None) when nothing waits.
    worker: asyncio.Task[None] | None = None


class _FollowTimeoutError(Exception):
    """The provider kept the command pending past its own deadline."""


class CommandRunner:
    """Sends one vehicle's commands and follows them until the provider settles them."""

    def __init__(
        self,
        provider: VehicleProvider,
        spec: ProviderSpec,
        vehicle: VehicleInfo,
        *,
        start_task: TaskStarter,
        on_outcome: Callable[[CommandOutcome], None],
        on_auth_failed: Callable[[], None],
        is_asleep: Callable[[], bool] = lambda: False,
        current_state: Callable[[], VehicleState | None] = lambda: None,
    ) -> None:
        """Keep what is needed to send and report; `start_task` ties workers to the entry."""
        self._provider = provider
        self._spec = spec
        self._vehicle = vehicle
        self._start_task = start_task
        self._on_outcome = on_outcome
        self._on_auth_failed = on_auth_failed
        self._is_asleep = is_asleep
        self._current_state = current_state
        self._slots: dict[str, _Slot] = {}
        self.poll_delays: tuple[float, ...] = POLL_DELAYS
        self.last_outcome: CommandOutcome | None = None
        # Whether the entry's push channel delivers (set when pushes are configured).
        self.push_alive: Callable[[], bool] = lambda: False
        self._pushed: dict[str, tuple[CommandStatus, str | None]] = {}
        self._push_waiters: dict[str, asyncio.Event] = {}

    def pushed(self, execution_id: str, status: CommandStatus, failed_reason: str | None) -> None:
        """The provider pushed an execution's new status."""
        if status is CommandStatus.PENDING:
            return
        self._pushed[execution_id] = (status, failed_reason)
        while len(self._pushed) > PUSHED_KEPT:
            del self._pushed[next(iter(self._pushed))]
        if (waiter := self._push_waiters.get(execution_id)) is not None:
            waiter.set()

    async def _async_wait_pushed(
        self, execution: CommandExecution, delay: float
    ) -> CommandExecution | None:
        """The pushed outcome of `execution` if it arrives within `delay` seconds."""
        if execution.id is None:
            await asyncio.sleep(delay)
            return None
        if execution.id not in self._pushed:
            waiter = self._push_waiters.setdefault(execution.id, asyncio.Event())
            try:
                async with asyncio.timeout(delay):
                    await waiter.wait()
            except TimeoutError:
                return None
            finally:
                self._push_waiters.pop(execution.id, None)
        status, reason = self._pushed.pop(execution.id)
        return replace(execution, status=status, failed_reason=reason)

    async def async_execute(self, command: Command) -> None:
        """Run `command`; return once the provider confirmed it, raise a translated error if not."""
        slot = self._slots.setdefault(command.type.slot, _Slot())
        request = _Request(command=command, future=asyncio.get_running_loop().create_future())
        # A caller cancelled meanwhile never reads its error; do not let asyncio log it as lost.
        request.future.add_done_callback(_consume_error)
        if (replaced := slot.waiting) is not None and not replaced.future.done():
            replaced.future.set_exception(
                command_error(FailureReason.SUPERSEDED, None, self._vehicle.display_name)
            )
        slot.waiting = request
        # A worker started eagerly may already have finished before it was stored: check `done`.
        if slot.worker is None or slot.worker.done():
            slot.worker = self._start_task(
                self._async_work(slot), f"ev_cloud {command.type.slot} commands"
            )
        # A caller that gives up (a cancelled script) does not recall a command already sent.
        await asyncio.shield(request.future)

    async def _async_work(self, slot: _Slot) -> None:
        """Send the slot's requests one after the other until none waits."""
        request: _Request | None = None
        try:
            while (request := slot.waiting) is not None:
                slot.waiting = None
                try:
                    await self._async_run(request.command)
                except HomeAssistantError as err:
                    _settle(request, err)
                except Exception:  # noqa: BLE001 - a waiter must never hang
                    LOGGER.exception("Unexpected error running a command")
                    error = command_error(
                        FailureReason.UNKNOWN, "UNEXPECTED", self._vehicle.display_name
                    )
                    self._report(
                        CommandOutcome(
                            command=request.command,
                            status=CommandStatus.FAILED,
                            reason=FailureReason.UNKNOWN,
                            code="UNEXPECTED",
                            message=str(error),
                        )
                    )
                    _settle(request, error)
                else:
                    _settle(request, None)
        except asyncio.CancelledError:
            # The entry is unloading: everyone still waiting learns the command did not finish.
            for pending in (request, slot.waiting):
                if pending is not None:
                    _settle(
                        pending,
                        command_error(
                            FailureReason.CLOUD_ERROR, "CANCELLED", self._vehicle.display_name
                        ),
                    )
            slot.waiting = None
            raise

    async def _async_run(self, command: Command) -> None:
        name = self._vehicle.display_name
        # A sleeping car is woken first (it can take a minute): say so rather than "pending".
        waking = self._is_asleep() and Capability.WAKE_UP in self._vehicle.capabilities
        status = CommandStatus.WAKING if waking else CommandStatus.PENDING
        self._report(CommandOutcome(command=command, status=status))
        try:
            execution = await self._async_send_and_follow(command)
        except _FollowTimeoutError:
            reason, code, retry_after = FailureReason.TIMEOUT, None, None
        except ProviderError as err:
            if isinstance(err, AuthenticationError):
                self._on_auth_failed()
            reason, code = classify(err, self._spec), err.code
            retry_after = err.retry_after if isinstance(err, RateLimitedError) else None
        else:
            code = execution.failed_reason
            reason, retry_after = self._spec.map_failure(code), None
            if execution.status is not CommandStatus.FAILED:
                reason = FailureReason.ALREADY_IN_STATE
        if reason is FailureReason.ALREADY_IN_STATE:
            # The car is already as asked: that is what the user wanted.
            self._report(CommandOutcome(command=command, status=CommandStatus.EXECUTED, code=code))
            return
        error = command_error(reason, code, name, retry_after=retry_after)
        self._report(
            CommandOutcome(
                command=command,
                status=CommandStatus.FAILED,
                reason=reason,
                code=code,
                message=str(error),
            )
        )
        LOGGER.debug("Command %s for %s failed: %s", command.type, self._vehicle.log_name, code)
        raise error

    async def _async_send_and_follow(self, command: Command) -> CommandExecution:
        """Send, then follow a pending command until it settles or its deadline passes.

        Only a refused send or an execution the provider reports FAILED is a failure: a server
        error, time-out, rate limit or refused read while following says nothing about the car,
        so the command is followed on until its own deadline.
        """
        before, sent_at = self._current_state(), dt_util.utcnow()
        try:
            execution = await self._provider.async_send_command(self._vehicle, command)
        except TimedOutError:
            return await self._async_confirm_by_reading(command, before, sent_at)
        loop = asyncio.get_running_loop()
        # The provider's own time-out, within sane bounds: its unit is not documented.
        timeout = min(
            max(execution.timeout or self._spec.command_timeout, MIN_TIMEOUT),
            2 * self._spec.command_timeout,
        )
        deadline = loop.time() + timeout + TIMEOUT_MARGIN
        attempt = 0
        while execution.status is CommandStatus.PENDING:
            delays = PUSH_POLL_DELAYS if self.push_alive() else self.poll_delays
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            if loop.time() + delay >= deadline:
                raise _FollowTimeoutError
            if (pushed := await self._async_wait_pushed(execution, delay)) is not None:
                execution = pushed
                continue
            try:
                execution = await self._provider.async_get_command_execution(
                    self._vehicle, execution
                )
            except RateLimitedError as err:
                wait = err.retry_after or delay
                if loop.time() + wait >= deadline:
                    raise _FollowTimeoutError from err
                await asyncio.sleep(wait)
            except AuthenticationError:
                # No token can be had any more: following is over, and the user must act.
                raise
            except ProviderError as err:
                # A server error, time-out, malformed answer or a refused read of the execution
                # says nothing about whether the car carries the command out: keep following.
                LOGGER.debug(
                    "Still following a command for %s after: %s", self._vehicle.log_name, err
                )
        return execution

    async def _async_confirm_by_reading(
        self, command: Command, before: VehicleState | None, sent_at: datetime
    ) -> CommandExecution:
        """The send got no answer: read the car until it shows the command done, for a while.

        Only news counts: a reading older than the send, or a car that already looked done before
        it, proves nothing (a lock reported hours ago is no confirmation). Where no reading can
        show the command (no climate read-back), or the provider stops answering reads, the
        time-out stands.
        """
        if not shows_in_a_reading(self._vehicle, command.type) or (
            before is not None and command_shown(command, before)
        ):
            raise _FollowTimeoutError
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONFIRM_WINDOW
        attempt = 0
        while True:
            delay = self.poll_delays[min(attempt, len(self.poll_delays) - 1)]
            attempt += 1
            if loop.time() + delay >= deadline:
                raise _FollowTimeoutError
            await asyncio.sleep(delay)
            try:
                state = await self._provider.async_get_state(self._vehicle)
            except RateLimitedError as err:
                wait = err.retry_after or delay
                if loop.time() + wait >= deadline:
                    raise _FollowTimeoutError from err
                await asyncio.sleep(wait)
                continue
            except (TransientError, VehicleUnavailableError) as err:
                LOGGER.debug("Reading %s to confirm a command: %s", self._vehicle.log_name, err)
                continue
            except AuthenticationError:
                raise
            except ProviderError as err:
                # Refused (access, key, car gone): no reading will come to confirm it.
                raise _FollowTimeoutError from err
            fresh = state.reported_at is None or state.reported_at >= sent_at - CLOCK_SKEW
            if fresh and command_shown(command, state):
                LOGGER.debug(
                    "%s for %s: no answer, but the car shows it done",
                    command.type,
                    self._vehicle.log_name,
                )
                return CommandExecution(id=None, type=command.type, status=CommandStatus.EXECUTED)

    def _report(self, outcome: CommandOutcome) -> None:
        self.last_outcome = outcome
        self._on_outcome(outcome)


def _consume_error(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(request: _Request, error: HomeAssistantError | None) -> None:
    if request.future.done():
        return
    if error is None:
        request.future.set_result(None)
    else:
        request.future.set_exception(error)
