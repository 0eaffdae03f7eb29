"""Async client for the Volteras API. No Home Assistant imports: it is a library in spirit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
import json
import logging
import re
from typing import Any

import aiohttp

from ...model import Command, CommandExecution, CommandType, VehicleInfo, VehicleState, log_hash
from ..base import AccountIdentity
from ..errors import (
    AuthenticationError,
    CommandFailedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TimedOutError,
    TransientError,
)
from . import parse
from .auth import TokenManager
from .const import (
    COMMAND_ACTIONS,
    CONNECT_PATH,
    PAGE_SIZE,
    PRODUCTION_URL,
    TEST_TOKEN_PATH,
    TOKEN_PATH,
    VEHICLES_PATH,
)
from .errors import error_from_response

_LOGGER = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class VolterasClient:
    """Reads vehicles and telemetry, sends commands, follows command executions."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        client_id: str,
        client_secret: str,
        base_url: str = PRODUCTION_URL,
        request_timeout: float = 30.0,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Use the caller's session; never create or close one."""
        self._session = session
        self._basic_auth = aiohttp.encode_basic_auth(client_id, client_secret)
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._now = now
        self._tokens = TokenManager(self._async_token_request, lambda: self._now().timestamp())
        # Vehicle-list items already reported as unusable: logged once, not at every refresh.
        self._skipped_items: set[str] = set()
        self.request_count = 0

    async def async_test_token(self) -> str:
        """Check the credentials; return the organisation they belong to."""
        body = await self._async_api("POST", TEST_TOKEN_PATH)
        organization_id = body.get("organizationId") if isinstance(body, dict) else None
        if not isinstance(organization_id, str) or not organization_id:
            raise TransientError("Malformed Volteras answer: no organizationId")
        return organization_id

    async def async_identify(self) -> AccountIdentity:
        """The organisation the credentials belong to; the API gives it an id but no name."""
        organization_id = await self.async_test_token()
        return AccountIdentity(
            unique_id=organization_id, title=f"Volteras organisation {organization_id[:8]}"
        )

    async def async_connect_account(self, return_url: str) -> str:
        """A consent link that brings the browser back to `return_url` with the result."""
        body = await self._async_api(
            "POST",
            CONNECT_PATH,
            json_body={
                "returnUrl": return_url,
                "scopes": ["vehicle:all"],
                # Only cars: skips the consent flow's device-type page.
                "deviceTypes": ["VEHICLE"],
            },
        )
        url = body.get("authenticationUrl") if isinstance(body, dict) else None
        if not isinstance(url, str):
            raise TransientError("Malformed Volteras answer: no authenticationUrl")
        return url

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        """Every vehicle of the organisation, all pages."""
        return await self._async_list_vehicles({})

    async def async_get_account_vehicles(self, account_id: str) -> list[VehicleInfo]:
        """The vehicles one connected car-maker account brought."""
        return await self._async_list_vehicles(
            {"filter": json.dumps({"metadata.accountId": account_id})}
        )

    async def _async_list_vehicles(self, query: dict[str, str]) -> list[VehicleInfo]:
        params = {"maxPageSize": str(PAGE_SIZE), **query}
        vehicles: list[VehicleInfo] = []
        while True:
            body = await self._async_api("GET", VEHICLES_PATH, params=params)
            page, skipped, next_token = parse.vehicle_page(body)
            vehicles.extend(page)
            self._log_skipped(skipped)
            if not next_token:
                return vehicles
            params["pageToken"] = next_token

    def _log_skipped(self, skipped: list[parse.SkippedItem]) -> None:
        for item in skipped:
            if item.fingerprint in self._skipped_items:
                continue
            self._skipped_items.add(item.fingerprint)
            _LOGGER.warning(
                "Skipping a vehicle Volteras listed without usable data (%s); item %s",
                item.problem,
                log_hash(item.fingerprint),
            )

    async def async_get_vehicle(self, vehicle_id: str) -> VehicleInfo:
        """One vehicle."""
        return parse.vehicle_info(await self._async_api("GET", f"{VEHICLES_PATH}/{vehicle_id}"))

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        """Latest telemetry; Volteras serves what the car last reported, so this never wakes it."""
        body = await self._async_api("GET", f"{VEHICLES_PATH}/{vehicle.id}/telemetry")
        return parse.vehicle_state(body, self._now())

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        """Create a command execution; Volteras answers PENDING and settles it later."""
        action = COMMAND_ACTIONS.get(command.type)
        if action is None:
            raise InvalidInputError(f"Volteras has no {command.type} command")
        body = await self._async_api(
            "POST",
            f"{VEHICLES_PATH}/{vehicle.id}/command-execution:{action}",
            json_body=_command_body(command),
        )
        return parse.command_execution(body, command.type)

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        """Where a command execution stands now."""
        if execution.id is None:
            raise TransientError("Volteras gave the command execution no id")
        body = await self._async_api(
            "GET", f"{VEHICLES_PATH}/{vehicle.id}/command-executions/{execution.id}"
        )
        return parse.command_execution(body, execution.type)

    async def _async_api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Any:
        """An authenticated call; a refused token is renewed and the call retried once.

        Only the token endpoint can say the credentials are bad (`AuthenticationError`). A resource
        that still refuses a freshly granted token, or answers 403 to a read, refuses this one
        vehicle or resource (`PermissionDeniedError`): re-entering the credentials cannot fix it.
        """
        for attempt in range(2):
            token = await self._tokens.async_access_token()
            try:
                return await self._async_request(
                    method,
                    path,
                    params=params,
                    json_body=json_body,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except AuthenticationError as err:
                self._tokens.invalidate(token)
                if attempt:
                    raise PermissionDeniedError(str(err), code=err.code) from err
            except CommandFailedError as err:
                # A refusal is a command's outcome only on a command; elsewhere it refuses access.
                if "command-execution:" not in path:
                    raise PermissionDeniedError(str(err), code=err.code) from err
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _async_token_request(self, form: dict[str, str]) -> Any:
        try:
            return await self._async_request(
                "POST", TOKEN_PATH, form=form, headers={"Authorization": self._basic_auth}
            )
        except TimedOutError as err:
            # No token, so nothing that needs one was sent.
            raise TransientError(str(err)) from err
        except TransientError, RateLimitedError:
            raise
        except NotFoundError as err:
            # No token endpoint here: a wrong URL or a proxy, not wrong credentials.
            raise TransientError(str(err), code=err.code) from err
        except ProviderError as err:
            # Any other refusal at the token endpoint is a refusal of the credentials.
            raise AuthenticationError(str(err), code=err.code) from err

    async def _async_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        self.request_count += 1
        try:
            async with self._session.request(
                method,
                f"{self._base_url}{path}",
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                body = _decode(await response.read())
                if response.status >= 400:
                    raise error_from_response(
                        response.status, body, response.headers.get("Retry-After")
                    )
        except ProviderError:
            raise
        except aiohttp.ConnectionTimeoutError as err:
            # Never connected: the request cannot have reached Volteras.
            raise TransientError(f"Volteras unreachable: {type(err).__name__}") from err
        except TimeoutError as err:
            raise TimedOutError(f"Volteras did not answer {method} in time") from err
        except aiohttp.ClientError as err:
            raise TransientError(f"Volteras unreachable: {type(err).__name__}") from err
        if body is _MALFORMED:
            _LOGGER.debug("Malformed JSON from Volteras for %s %s", method, _path_for_log(path))
            raise TransientError("Malformed Volteras answer: not JSON")
        return body


_MALFORMED = object()


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError, RecursionError:
        # Not JSON, not UTF-8 (UnicodeDecodeError is a ValueError) or nested beyond reason.
        return _MALFORMED


def _path_for_log(path: str) -> str:
    """The endpoint without the ids in it: vehicle and execution ids never reach a log."""
    path = path.split("?", 1)[0]
    path = re.sub(r"/vehicles/[^/:]+", "/vehicles/{id}", path)
    return re.sub(r"/command-executions/[^/]+", "/command-executions/{id}", path)


def _command_body(command: Command) -> dict[str, Any] | None:
    if command.type is CommandType.SET_CHARGE_LIMIT:
        if command.value is None:
            raise InvalidInputError("A charge limit needs a value")
        return {"limit": round(command.value)}
    if command.type is CommandType.SET_TEMPERATURE:
        if command.value is None:
            raise InvalidInputError("A temperature needs a value")
        return {"driverTemperature": command.value, "passengerTemperature": command.value}
    return None
