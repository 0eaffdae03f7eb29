"""The library's exceptions → the shared provider errors.

`tesla-fleet-api` derives its errors from `BaseException`, so `except Exception` never sees them:
every call goes through `provider_call`, which catches exactly what the library raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import aiohttp
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from tesla_fleet_api import exceptions as tesla

from ..errors import (
    APP_NOT_REGISTERED,
    AuthenticationError,
    CommandFailedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TimedOutError,
    TransientError,
    VehicleUnavailableError,
)
from ..tokens import TOKEN_REFUSED
from . import const


class WrongRegionError(TransientError):
    """HTTP 421: the account lives on another regional server."""


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value))
    except TypeError, ValueError:
        return None


def translate(err: tesla.TeslaFleetError) -> ProviderError:
    """The shared error for a library exception; messages never echo bodies or tokens."""
    name = type(err).__name__
    match err:
        case tesla.VehicleOffline():
            return VehicleUnavailableError("The car is asleep or offline", code="vehicle_asleep")
        case tesla.RateLimited():
            data = err.data if isinstance(err.data, dict) else {}
            retry = _seconds(data.get("after")) or _seconds(data.get("reset"))
            return RateLimitedError("Tesla rate limit", code="rate_limited", retry_after=retry)
        case tesla.LoginRequired():
            return AuthenticationError("Tesla asks to sign in again", code="login_required")
        case tesla.OAuthExpired() | tesla.OAuthInvalid() | tesla.InvalidToken():
            # The token was refreshed just before this call; a refusal now is passing.
            return TransientError("Tesla refused the access token", code=TOKEN_REFUSED)
        case tesla.PreconditionFailed():
            # 412: the app's domain is not registered (any more) in this region.
            return PermissionDeniedError("The app is not registered", code=APP_NOT_REGISTERED)
        case (
            tesla.Forbidden()
            | tesla.InvalidScope()
            | tesla.UnsupportedVehicle()
            | tesla.MobileAccessDisabled()
            | tesla.PaymentRequired()
        ):
            return PermissionDeniedError(f"Tesla refused access ({name})", code=name)
        case tesla.NotOnWhitelistFault() | tesla.TeslaFleetMessageFaultUnknownKeyId():
            return CommandFailedError("The key is not paired", code="key_not_paired")
        case tesla.InvalidRegion():
            return WrongRegionError("The account lives in another region", code="invalid_region")
        case tesla.NotFound():
            return NotFoundError("Tesla does not know this car", code="not_found")
        case tesla.InvalidCommand() | tesla.InvalidField() | tesla.InvalidRequest():
            return InvalidInputError(f"Tesla refused the request ({name})", code=name)
    return TransientError(f"Tesla call failed ({name})", code=name)


async def provider_call[T](call: Awaitable[T]) -> T:
    """Await a library call; every failure becomes a shared provider error.

    The library sets no time-out of its own: an unanswered call is given up after
    `REQUEST_TIMEOUT` instead of holding a coordinator for aiohttp's five minutes.
    """
    try:
        async with asyncio.timeout(const.REQUEST_TIMEOUT):
            return await call
    except tesla.TeslaFleetError as err:
        raise translate(err) from err
    except tesla.LibraryError as err:
        raise TransientError(f"Tesla library error ({type(err).__name__})") from err
    except aiohttp.ConnectionTimeoutError as err:
        # Never connected: the request cannot have reached Tesla.
        raise TransientError(f"Tesla unreachable ({type(err).__name__})") from err
    except TimeoutError as err:
        raise TimedOutError("Tesla did not answer in time") from err
    except aiohttp.ClientError as err:
        raise TransientError(f"Tesla unreachable ({type(err).__name__})") from err
    except OSError as err:
        # Reading or creating the signing key file.
        raise TransientError(f"Tesla signing key unavailable ({type(err).__name__})") from err
    except (ValueError, KeyError, IndexError, AttributeError, DecodeError) as err:
        # The library parses bodies (JSON, base64, protobuf) without guarding every shape.
        raise TransientError(f"Malformed Tesla answer ({type(err).__name__})") from err
