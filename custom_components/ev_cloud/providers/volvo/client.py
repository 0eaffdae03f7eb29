"""Volvo Cars API client on aiohttp: Connected Vehicle v2, Energy v2, Location v1. No Home Assistant.

Every request carries the user's access token (fetched from `ClientConfig.access_token` before
each one, so Home Assistant can refresh it) and the application's `vcc-api-key`.

Volvo allows 100 requests a minute per user and application, and 10 commands. The client spends
them sparingly: a poll is at most four GETs (energy state, doors, odometer, location), three
without the location scope or for a car without the Energy API; the fleet is one GET plus three
per car (details, commands, energy capabilities), made once per fleet refresh.

Commands block at Volvo until the car answers, up to 150 s. The client starts the POST as a task
of its own, waits `answer_wait` seconds for the answer and otherwise answers PENDING; the task's
outcome is then read through `async_get_command_execution`. A call that ends without a verdict (a
time-out once the request was sent, a dropped connection, a gateway error, RUNNING/WAITING/UNKNOWN)
is not a failure: the car may still carry the command out. A lock command is then confirmed by the
doors' `centralLock` until its deadline; climatisation has no read-back, so it is reported executed
with the code `UNCONFIRMED` (or Volvo's word) rather than failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import logging
from typing import Any
import uuid

import aiohttp
import jwt

from ...model import (
    Command,
    CommandExecution,
    CommandStatus,
    CommandType,
    VehicleInfo,
    VehicleState,
    command_shown,
    log_hash,
)
from ..base import AccountIdentity, ClientConfig
from ..errors import (
    ApiKeyRejectedError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TransientError,
)
from ..tokens import TOKEN_REFUSED, RefusedTokenRetry
from . import parse
from .const import (
    ANSWER_WAIT,
    API_KEY_HEADER,
    COMMAND_HTTP_TIMEOUT,
    COMMAND_PATHS,
    COMMAND_TIMEOUT,
    CONNECT_TIMEOUT,
    ENERGY_PATH,
    EXTRA_SCOPE,
    LOCATION_PATH,
    LOCK_READBACK,
    REQUEST_TIMEOUT,
    VEHICLES_PATH,
)
from .errors import OutcomeUnknownError, error_from_response
from .failures import NO_VERDICT, SUCCESS

_LOGGER = logging.getLogger(__name__)

# Errors that concern the whole account, not one car or one read: a poll stops at them (and at
# a refused token, a `TransientError` with the code `token_refused`).
ACCOUNT_ERRORS = (ApiKeyRejectedError, AuthenticationError, RateLimitedError)
# Settled executions are kept this long past their deadline, for a late follow-up.
KEEP_SETTLED = 600.0
_MALFORMED: Any = object()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError, RecursionError:
        # Not JSON, not UTF-8 (UnicodeDecodeError is a ValueError) or nested beyond reason.
        return _MALFORMED


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a finished task's exception as seen, for the case nobody follows it up."""
    if not task.cancelled():
        task.exception()


@dataclass(kw_only=True)
class _Execution:
    """A command the client sent; its POST runs in `task` until Volvo answers."""

    id: str
    vin: str
    type: CommandType
    task: asyncio.Task[str]
    # Event-loop time after which an unanswered command is given up.
    deadline: float
    result: CommandExecution | None = None


class VolvoClient:
    """Reads Volvo cars and sends their climatisation and lock commands."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: ClientConfig,
        api_key: str,
        *,
        now: Callable[[], datetime] = _utcnow,
        answer_wait: float = ANSWER_WAIT,
        request_timeout: float = REQUEST_TIMEOUT,
        command_http_timeout: float = COMMAND_HTTP_TIMEOUT,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        """Use the caller's session; API paths go to `config.base_url`.

        `api_key` is the application's VCC API key (`ClientConfig.extra["api_key"]` through the
        provider spec). `config.extra["scope"]`, when given, names the scopes the token was
        granted; without it they are read from the token's `scope` or `scp` claim.
        """
        if config.access_token is None:
            raise ValueError("Volvo needs an OAuth access token")
        self._token: Callable[[], Awaitable[str]] = config.access_token
        self._tokens = RefusedTokenRetry(config.access_token, config.refresh_access_token)
        self._session = session
        self._base_url = config.base_url.rstrip("/")
        self._api_key = api_key
        self._granted = (config.extra or {}).get(EXTRA_SCOPE)
        self._now = now
        self._answer_wait = answer_wait
        self._read_timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._command_http_timeout = aiohttp.ClientTimeout(
            total=command_http_timeout, connect=min(CONNECT_TIMEOUT, command_http_timeout)
        )
        self._command_timeout = command_timeout
        self._scopes: frozenset[str] | None = None
        self._vehicles: dict[str, parse.VolvoVehicle] = {}
        # Last good parse of each car's details, commands and energy capabilities.
        self._parts: dict[tuple[str, str], Any] = {}
        # Cars whose location Volvo refused: not asked again until the next fleet refresh.
        self._location_refused: set[str] = set()
        self._executions: dict[str, _Execution] = {}
        self.request_count = 0

    # --- identity and scopes ------------------------------------------------------------------

    async def _claims(self) -> dict[str, Any]:
        token = await self._token()
        try:
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as err:
            raise AuthenticationError("The Volvo access token is not a JWT") from err
        return claims

    async def async_identify(self) -> AccountIdentity:
        """The Volvo ID the token belongs to: its `sub`, read without verifying the signature."""
        subject = (await self._claims()).get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("The Volvo access token names no account")
        return AccountIdentity(unique_id=subject, title=f"Volvo account {log_hash(subject)}")

    async def _async_scopes(self) -> frozenset[str] | None:
        """The scopes granted, from the entry or the token; None when neither says."""
        if self._granted is not None:
            return frozenset(self._granted.split())
        try:
            claims = await self._claims()
        except AuthenticationError:
            return None
        scope = claims.get("scope", claims.get("scp"))
        if isinstance(scope, str):
            return frozenset(scope.split())
        if isinstance(scope, list):
            return frozenset(item for item in scope if isinstance(item, str))
        return None

    # --- vehicles -----------------------------------------------------------------------------

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        """Every car on the account, each with the capabilities its commands and scopes allow."""
        return [vehicle.info for vehicle in await self.async_get_volvo_vehicles()]

    async def async_get_volvo_vehicles(self) -> list[parse.VolvoVehicle]:
        """The cars with what only Volvo tells: supported fields, Energy API or not.

        Only the list call can fail the whole: a car whose details, commands or capabilities
        cannot be read keeps what was last known of them (or defaults) and is still listed.
        """
        vins = parse.vehicle_list(await self._async_get(VEHICLES_PATH))
        self._scopes = await self._async_scopes()
        self._location_refused.clear()
        vehicles = await asyncio.gather(*(self._async_vehicle(vin) for vin in vins))
        self._vehicles = {vehicle.info.key: vehicle for vehicle in vehicles}
        return list(vehicles)

    async def _async_vehicle(self, vin: str) -> parse.VolvoVehicle:
        details, commands, energy = await asyncio.gather(
            self._async_part(vin, "details", f"{VEHICLES_PATH}/{vin}", parse.vehicle_details),
            self._async_part(
                vin, "commands", f"{VEHICLES_PATH}/{vin}/commands", parse.command_names
            ),
            self._async_part(
                vin, "energy", f"{ENERGY_PATH}/{vin}/capabilities", parse.energy_capabilities
            ),
        )
        return parse.vehicle(vin, details, commands, energy, scopes=self._scopes)

    async def _async_part[T](
        self, vin: str, part: str, path: str, read: Callable[[Any], T]
    ) -> T | None:
        try:
            value = read(await self._async_get(path))
        except ProviderError as err:
            _LOGGER.debug("Could not read the %s of vehicle %s: %s", part, log_hash(vin), err)
            cached: T | None = self._parts.get((vin, part))
            return cached
        self._parts[vin, part] = value
        return value

    def supported_fields(self, vehicle: VehicleInfo) -> frozenset[str] | None:
        """The `VehicleState` fields the car can report; None before the fleet was read."""
        known = self._vehicles.get(vehicle.key)
        return known.supported_fields if known else None

    # --- state --------------------------------------------------------------------------------

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        """The car's latest readings; see `async_read` for what is read and what fails."""
        return (await self.async_read(vehicle)).state

    async def async_read(self, vehicle: VehicleInfo) -> parse.Reading:
        """Energy state (cars with the Energy API), doors, odometer and location (with its scope).

        At most four requests, made together. A read that fails leaves its fields `None` and lists
        them in `errored`; the poll fails only when every read failed, or at once for a refused API
        key or token and for the rate limit, which concern the whole account.
        """
        vin = vehicle.key
        known = self._vehicles.get(vin)
        paths: dict[str, str] = {}
        if known is None or known.energy_api:
            paths["energy"] = f"{ENERGY_PATH}/{vin}/state"
        paths["doors"] = f"{VEHICLES_PATH}/{vin}/doors"
        paths["odometer"] = f"{VEHICLES_PATH}/{vin}/odometer"
        location = known is None or known.supported_fields >= parse.LOCATION_FIELDS
        if location and vin not in self._location_refused:
            paths["location"] = f"{LOCATION_PATH}/{vin}/location"
        results = await asyncio.gather(
            *(self._async_get(path) for path in paths.values()), return_exceptions=True
        )
        bodies: dict[str, Any] = {}
        errors: list[ProviderError] = []
        for part, result in zip(paths, results, strict=True):
            if isinstance(result, ProviderError):
                errors.append(result)
                bodies[part] = None
                if part == "location" and isinstance(result, PermissionDeniedError):
                    self._location_refused.add(vin)
            elif isinstance(result, BaseException):
                raise result
            else:
                bodies[part] = result
        for error in errors:
            if isinstance(error, ACCOUNT_ERRORS) or error.code == TOKEN_REFUSED:
                raise error
        if location and "location" not in paths:
            bodies["location"] = None  # refused before: still unavailable, not asked again
        reading = parse.vehicle_state(self._now(), **bodies)
        if paths.keys() <= reading.failed_parts:
            if errors:
                raise errors[0]
            raise TransientError("Malformed Volvo answers: no reading could be parsed")
        return reading

    # --- commands -----------------------------------------------------------------------------

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        """Send climatisation or lock commands; PENDING if Volvo has not answered in time."""
        path = COMMAND_PATHS.get(command.type)
        if path is None:
            raise InvalidInputError(f"Volvo has no {command.type} command")
        self._prune()
        loop = asyncio.get_running_loop()
        vin = vehicle.key
        task = loop.create_task(
            self._async_invoke(f"{VEHICLES_PATH}/{vin}/commands/{path}"),
            name=f"Volvo {path} for {vehicle.log_name}",
        )
        task.add_done_callback(_retrieve)
        execution = _Execution(
            id=uuid.uuid4().hex,
            vin=vin,
            type=command.type,
            task=task,
            deadline=loop.time() + self._command_timeout,
        )
        self._executions[execution.id] = execution
        await asyncio.wait({task}, timeout=self._answer_wait)
        if task.done() and not task.cancelled():
            error = task.exception()
            if isinstance(error, NotFoundError):
                # Volvo answers 404 to a command the car does not support.
                del self._executions[execution.id]
                return self._settled(execution, CommandStatus.FAILED, "NOT_SUPPORTED")
            if error is not None and not isinstance(error, OutcomeUnknownError):
                # Refused before it reached the car (key, token, quota, access): nothing done.
                del self._executions[execution.id]
                raise error
        return await self._async_progress(execution)

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        """Where a command sent by this client stands."""
        sent = self._executions.get(execution.id or "")
        if sent is None:
            raise NotFoundError("No such Volvo command execution", code="not_found")
        return await self._async_progress(sent)

    async def _async_invoke(self, path: str) -> str:
        """POST a command; Volvo's `invokeStatus`, or "" when the answer has none."""
        body = await self._async_request("POST", path, command=True)
        data = body.get("data") if isinstance(body, dict) else None
        status = data.get("invokeStatus") if isinstance(data, dict) else None
        return status.strip().upper() if isinstance(status, str) else ""

    async def _async_progress(self, execution: _Execution) -> CommandExecution:
        if execution.result is not None:
            return execution.result
        task, loop = execution.task, asyncio.get_running_loop()
        if not task.done():
            return self._pending(execution, loop.time())
        code: str
        if task.cancelled():
            code = "UNCONFIRMED"
        elif (error := task.exception()) is not None:
            if not isinstance(error, ProviderError):
                raise error
            if not isinstance(error, OutcomeUnknownError):
                # Refused before it reached the car, after `async_send_command` returned.
                code = "NOT_SUPPORTED" if isinstance(error, NotFoundError) else error.code or ""
                return self._settled(execution, CommandStatus.FAILED, code or "rejected")
            code = error.code or "UNCONFIRMED"
        else:
            status = task.result()
            if status in SUCCESS:
                return self._settled(
                    execution, CommandStatus.EXECUTED, None if status == "COMPLETED" else status
                )
            if status == "TIMEOUT" and await self._async_lock_confirmed(execution):
                # Volvo stopped waiting, but the car did it.
                return self._settled(execution, CommandStatus.EXECUTED, None)
            if status and status not in NO_VERDICT:
                return self._settled(execution, CommandStatus.FAILED, status)
            code = status or "UNCONFIRMED"
        return await self._async_no_verdict(execution, code)

    async def _async_no_verdict(self, execution: _Execution, code: str) -> CommandExecution:
        """The call ended without a verdict: confirm a lock by the doors, trust climatisation."""
        if execution.type not in LOCK_READBACK:
            # No read-back exists: the request went out and nothing says it failed.
            return self._settled(
                execution, CommandStatus.EXECUTED, code if code in NO_VERDICT else "UNCONFIRMED"
            )
        if await self._async_lock_confirmed(execution):
            return self._settled(execution, CommandStatus.EXECUTED, None)
        now = asyncio.get_running_loop().time()
        if now >= execution.deadline:
            # Past Volvo's own limit: the car will not act on it any more.
            return self._settled(execution, CommandStatus.FAILED, code)
        return self._pending(execution, now)

    async def _async_lock_confirmed(self, execution: _Execution) -> bool:
        """Whether the doors show what a lock command asked; False if unknown or not a lock."""
        if execution.type not in LOCK_READBACK:
            return False
        try:
            body = await self._async_get(f"{VEHICLES_PATH}/{execution.vin}/doors")
        except ProviderError as err:
            _LOGGER.debug("Could not read the doors to confirm a command: %s", err)
            return False
        reading = parse.vehicle_state(self._now(), doors=body)
        return command_shown(Command(type=execution.type), reading.state) is True

    def _pending(self, execution: _Execution, now: float) -> CommandExecution:
        return CommandExecution(
            id=execution.id,
            type=execution.type,
            status=CommandStatus.PENDING,
            timeout=max(0.0, execution.deadline - now),
        )

    def _settled(
        self, execution: _Execution, status: CommandStatus, code: str | None
    ) -> CommandExecution:
        execution.result = CommandExecution(
            id=execution.id, type=execution.type, status=status, failed_reason=code
        )
        _LOGGER.debug(
            "Volvo %s for vehicle %s: %s %s",
            execution.type,
            log_hash(execution.vin),
            status,
            code or "",
        )
        return execution.result

    def _prune(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, execution in list(self._executions.items()):
            if execution.task.done() and now > execution.deadline + KEEP_SETTLED:
                del self._executions[key]

    async def async_close(self) -> None:
        """Stop waiting for commands still in flight (the cars act on them regardless)."""
        tasks = [e.task for e in self._executions.values() if not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _async_get(self, path: str) -> Any:
        return await self._async_request("GET", path)

    async def _async_request(self, method: str, path: str, *, command: bool = False) -> Any:
        """One API call; a token Volvo refuses early is refreshed once and the call retried.

        A 401 means the gateway stopped before the car, so retrying a command is safe.
        """
        return await self._tokens.call(lambda: self._async_request_once(method, path, command))

    async def _async_request_once(self, method: str, path: str, command: bool) -> Any:
        """One API call; every failure becomes a shared error, never a raw aiohttp one.

        Not sent (no connection): `TransientError`. Sent but unanswered, or answered with a
        gateway's error page or garbage: `OutcomeUnknownError`, which a command treats as "may
        have happened".
        """
        token = await self._tokens.token()
        headers = {
            "Authorization": f"Bearer {token}",
            API_KEY_HEADER: self._api_key,
            "Accept": "application/json",
        }
        timeout = self._command_http_timeout if command else self._read_timeout
        self.request_count += 1
        try:
            async with self._session.request(
                method, f"{self._base_url}{path}", headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            raise TransientError(
                f"Volvo unreachable ({type(err).__name__})", code="unreachable"
            ) from err
        except TimeoutError as err:
            raise OutcomeUnknownError(
                f"Volvo did not answer {method} in time", code="timeout"
            ) from err
        except aiohttp.ClientError as err:
            raise OutcomeUnknownError(
                f"Volvo connection lost ({type(err).__name__})", code="connection_lost"
            ) from err
        body = _decode(raw)
        if status >= 400:
            raise error_from_response(
                status, None if body is _MALFORMED else body, retry_after, now=self._now()
            )
        if body is _MALFORMED or body is None:
            raise OutcomeUnknownError("Malformed Volvo answer: not JSON", code="malformed")
        return body
