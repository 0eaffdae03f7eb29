"""Tesla Fleet API client on `tesla-fleet-api`. No Home Assistant imports.

Reading never wakes a car: the free `GET /vehicles/{vin}` tells its state first, and the billed
`vehicle_data` is called only while it is online. A command the user asks for on a sleeping car
wakes it first (that wake was asked for), then sends; cars that require the vehicle command
protocol get signed commands (`VehicleSigned`, signed by the library), others plain REST.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
import logging
import os
from typing import Any

import aiohttp
import jwt
from tesla_fleet_api import TeslaFleetApi
from tesla_fleet_api.const import SERVERS
from tesla_fleet_api.tesla.vehicle.fleet import VehicleFleet
from tesla_fleet_api.tesla.vehicle.signed import VehicleSigned

from ...model import (
    Command,
    CommandExecution,
    CommandStatus,
    CommandType,
    VehicleInfo,
    VehicleState,
    log_hash,
)
from ..base import AccountIdentity, ClientConfig
from ..errors import (
    AuthenticationError,
    InvalidInputError,
    ProviderError,
    TimedOutError,
    TransientError,
    VehicleUnavailableError,
)
from ..tokens import RefusedTokenRetry
from . import parse, partner
from .const import (
    ALREADY_SO,
    AUTH_HOST,
    COMMAND_METHODS,
    DATA_ENDPOINTS,
    LOCATION_SCOPE,
    TOKEN_PATH,
    WAKE_POLL,
    WAKE_TIMEOUT,
)
from .errors import WrongRegionError, provider_call

_LOGGER = logging.getLogger(__name__)

type TeslaVehicle = VehicleFleet[Any] | VehicleSigned[Any]

# Signed-command faults the library does not retry itself, though a re-signed retry succeeds.
RESIGN_FAULTS = frozenset({"TeslaFleetMessageFaultTimeExpired"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TeslaClient:
    """Reads Tesla cars without waking them and sends their commands."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: ClientConfig,
        *,
        key_path: str | None = None,
        now: Callable[[], datetime] = _utcnow,
        wake_timeout: float = WAKE_TIMEOUT,
        wake_poll: float = WAKE_POLL,
    ) -> None:
        """Point the library at `config.base_url`; tokens come from `config.access_token`."""
        if config.access_token is None:
            raise ValueError("Tesla needs an OAuth access token")
        self._token: Callable[[], Awaitable[str]] = config.access_token
        self._tokens = RefusedTokenRetry(config.access_token, config.refresh_access_token)
        self._session = session
        self._config = config
        self._api = TeslaFleetApi(session, access_token=self._tokens.token, server=config.base_url)
        # Only Tesla's own servers are regional; a custom URL (the simulator) serves everything.
        self._regional = config.base_url in SERVERS.values()
        self._key_path = key_path
        self._now = now
        self._wake_timeout = wake_timeout
        self._wake_poll = wake_poll
        self._signing: dict[str, bool] = {}
        self._vehicles: dict[str, TeslaVehicle] = {}
        # One wake-up per car at a time: two commands to a sleeping car must not pay twice.
        self._wake_locks: dict[str, asyncio.Lock] = {}
        self._scopes: list[str] | None = None

    async def _call[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """One Fleet API call; a token Tesla refuses early is refreshed and the call retried."""
        return await self._tokens.call(lambda: provider_call(request()))

    async def _claims(self) -> dict[str, Any]:
        token = await self._token()
        try:
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as err:
            raise AuthenticationError("The Tesla access token is not a JWT") from err
        scopes = claims.get("scp")
        self._scopes = [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []
        region = claims.get("ou_code")
        servers: dict[str, str] = {str(key): url for key, url in SERVERS.items()}
        if self._regional and isinstance(region, str) and region.lower() in servers:
            self._api.server = servers[region.lower()]
        return claims

    async def _async_find_region(self) -> None:
        """After a 421 (wrong region): ask Tesla which server holds the account."""
        if not self._regional:
            return
        server = self._api.server
        try:
            await provider_call(self._api.find_server())
        except ProviderError:
            # The search leaves the last server it tried; keep the one we had.
            self._api.server = server
            raise

    async def async_identify(self) -> AccountIdentity:
        """The Tesla account the token belongs to (the token's `sub`)."""
        subject = (await self._claims()).get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("The Tesla access token names no account")
        return AccountIdentity(unique_id=subject, title=f"Tesla account {log_hash(subject)}")

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        """Every car on the account; energy products are left out."""
        if self._scopes is None:
            await self._claims()
        try:
            products = await self._call(self._api.products)
        except WrongRegionError:
            await self._async_find_region()
            products = await self._call(self._api.products)
        items = parse.product_response(products)
        vehicles = []
        for item in items:
            if (parsed := parse.vehicle_info(item)) is None:
                continue
            info, signed = parsed
            if self._signing.get(info.key, signed) != signed:
                # Tesla moved the car to signed commands (or back): rebuild its object.
                self._vehicles.pop(info.key, None)
            self._signing[info.key] = signed
            vehicles.append(info)
        return await self._async_with_pairing(vehicles)

    async def _async_with_pairing(self, vehicles: list[VehicleInfo]) -> list[VehicleInfo]:
        """Mark which signed-command cars carry our key (`fleet_status`, not billed per car)."""
        signed = [info for info in vehicles if self._signing.get(info.key)]
        if not signed:
            return vehicles
        try:
            await self._async_load_key()
            status = await provider_call(
                self._api.vehicles.createFleet(signed[0].key).fleet_status([i.key for i in signed])
            )
        except ProviderError as err:
            # Advisory only: the cars and their readings do not depend on it.
            _LOGGER.debug("Could not check key pairing: %s", err)
            return vehicles
        paired = parse.paired_vins(status)
        return [
            replace(info, key_paired=info.key in paired) if info in signed else info
            for info in vehicles
        ]

    async def _async_load_key(self) -> None:
        if self._api.has_private_key:
            return
        if self._key_path is None:
            raise TransientError("No key for signed Tesla commands")
        # The library creates the key (mode 0600) when the file does not exist yet.
        await provider_call(
            asyncio.to_thread(os.makedirs, os.path.dirname(self._key_path) or ".", exist_ok=True)
        )
        await provider_call(self._api.get_private_key(self._key_path))

    @property
    def public_key_pem(self) -> str | None:
        """The public key to host on the app's domain and pair with the cars."""
        return self._api.public_pem if self._api.has_private_key else None

    async def async_load_public_key(self) -> str:
        """Create the key pair on first use (a file outside the entry); the public key, PEM."""
        await self._async_load_key()
        return self._api.public_pem

    def public_key_url(self, domain: str) -> str:
        """Where Tesla fetches the key; a custom environment (the simulator) speaks its scheme."""
        scheme = "https" if self._regional else self._config.base_url.split("://", 1)[0]
        return f"{scheme}://{domain}{partner.PUBLIC_KEY_PATH}"

    def pairing_link(self, domain: str) -> str:
        """The virtual-key link the owner opens on the phone with the Tesla app."""
        return partner.PAIRING_LINK.format(domain=domain)

    async def async_check_public_key(self, domain: str) -> None:
        """Our public key is reachable where Tesla will fetch it."""
        our_point = (await self._async_public_point()).lower()
        await partner.check_hosted_key(self._session, self.public_key_url(domain), our_point)

    async def async_register_partner(self, domain: str) -> None:
        """Register the app's domain in the region the account lives in (from its token)."""
        our_point = (await self._async_public_point()).lower()
        await self._claims()
        token_host = AUTH_HOST if self._regional else self._config.base_url
        token = await partner.partner_token(
            self._session,
            f"{token_host}{TOKEN_PATH}",
            self._config.client_id,
            self._config.client_secret,
            audience=self._api.server or self._config.base_url,
        )
        api = TeslaFleetApi(self._session, access_token=token, server=self._api.server)
        await partner.register(api, domain, our_point)

    async def _async_public_point(self) -> str:
        await self._async_load_key()
        return self._api.public_uncompressed_point

    async def _vehicle(self, info: VehicleInfo) -> TeslaVehicle:
        vin = info.key
        if (vehicle := self._vehicles.get(vin)) is not None:
            return vehicle
        if self._signing.get(vin):
            await self._async_load_key()
            vehicle = self._api.vehicles.createSigned(vin)
        else:
            vehicle = self._api.vehicles.createFleet(vin)
        self._vehicles[vin] = vehicle
        return vehicle

    @property
    def public_key(self) -> str | None:
        """The public key to pair with cars (65-byte point, hex), once the key is loaded."""
        if not self._api.has_private_key:
            return None
        return self._api.public_uncompressed_point

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        """Live data while the car is online; a sleeping car says so and is not woken."""
        car = await self._vehicle(vehicle)
        if not parse.vehicle_online(await self._call(car.vehicle)):
            return VehicleState(fetched_at=self._now(), asleep=True)
        if self._scopes is None:
            await self._claims()
        endpoints: list[str] = list(DATA_ENDPOINTS)
        if LOCATION_SCOPE in (self._scopes or []):
            endpoints.append("location_data")
        try:
            body = await self._call(lambda: car.vehicle_data(endpoints=list(endpoints)))
        except VehicleUnavailableError:
            # Fell asleep between the two calls.
            return VehicleState(fetched_at=self._now(), asleep=True)
        return parse.vehicle_state(body, self._now())

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        """Send one command, waking the car first if it sleeps; Tesla answers at once."""
        car = await self._vehicle(vehicle)
        if command.type is CommandType.WAKE_UP:
            await self._async_wake(car)
            return CommandExecution(id=None, type=command.type, status=CommandStatus.EXECUTED)
        method = COMMAND_METHODS.get(command.type)
        if method is None:
            raise InvalidInputError(f"Tesla has no {command.type} command")
        arguments = _arguments(command)
        # Waking checks the (free) state first: a command to a sleeping car is billed for its 408.
        await self._async_wake_before_sending(car)

        def send() -> Awaitable[Any]:
            return getattr(car, method)(*arguments)  # type: ignore[no-any-return]

        try:
            answer = await self._call(send)
        except VehicleUnavailableError:
            # Fell asleep in between.
            await self._async_wake_before_sending(car)
            answer = await self._call(send)
        except TransientError as err:
            if err.code not in RESIGN_FAULTS:
                raise
            # The car refused a signature as expired (clocks drifted); the library took the car's
            # fresh session info with the refusal, so one more try is signed right.
            answer = await self._call(send)
        return _execution(command, answer)

    async def _async_wake_before_sending(self, car: TeslaVehicle) -> None:
        """Wake the car for a command; a time-out here means the command was never sent."""
        try:
            await self._async_wake(car)
        except TimedOutError as err:
            raise TransientError(str(err)) from err

    async def _async_wake(self, car: TeslaVehicle) -> None:
        """Wake the car and wait until it is online, or give up after the time-out."""
        async with self._wake_locks.setdefault(car.vin, asyncio.Lock()):
            # Another command may have woken it while this one waited.
            if parse.vehicle_online(await self._call(car.vehicle)):
                return
            await self._async_wake_now(car)

    async def _async_wake_now(self, car: TeslaVehicle) -> None:
        await self._call(car.wake_up)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wake_timeout
        while loop.time() < deadline:
            await asyncio.sleep(self._wake_poll)
            if parse.vehicle_online(await self._call(car.vehicle)):
                return
        raise VehicleUnavailableError("The car did not wake up in time", code="wake_timeout")

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        """Tesla commands settle when sent; there is nothing to follow."""
        return execution


def _arguments(command: Command) -> tuple[Any, ...]:
    if command.type in (CommandType.SET_CHARGE_LIMIT, CommandType.SET_CHARGING_CURRENT):
        if command.value is None:
            raise InvalidInputError(f"{command.type} needs a value")
        return (round(command.value),)
    if command.type is CommandType.SET_TEMPERATURE:
        if command.value is None:
            raise InvalidInputError("A temperature needs a value")
        return (command.value, command.value)
    return ()


def _execution(command: Command, answer: Any) -> CommandExecution:
    """Tesla's `{"response": {"result": …, "reason": …}}` as a settled execution."""
    response = answer.get("response") if isinstance(answer, dict) else None
    if not isinstance(response, dict):
        raise TransientError("Malformed Tesla command answer")
    reason = response.get("reason")
    reason = reason if isinstance(reason, str) and reason else None
    if response.get("result") is True or reason in ALREADY_SO:
        return CommandExecution(
            id=None, type=command.type, status=CommandStatus.EXECUTED, failed_reason=reason
        )
    return CommandExecution(
        id=None,
        type=command.type,
        status=CommandStatus.FAILED,
        failed_reason=reason or "rejected",
    )
