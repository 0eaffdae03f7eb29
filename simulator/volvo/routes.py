"""HTTP handlers for Volvo's Connected Vehicle v2, Energy v2 and Location v1 APIs.

Each call is checked as Volvo's gateway does: the `vcc-api-key` first (Azure APIM rejects a call
without a valid subscription key before anything else looks at it), then the bearer token, then
the per-minute quota of the token's (account, client id). Commands block for the car's command
delay and then answer their outcome; the car acts on a command even when the caller hung up.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ..faults import Fault, FaultKind
from ..oauth import OAUTH, VOLVO_PREFIX
from .fleet import APPLIED_STATUSES, COMMAND_NAMES, VolvoAccount, VolvoCar

ACCOUNT: web.AppKey[VolvoAccount] = web.AppKey("volvo_account")
CONNECTED_VEHICLE = "/connected-vehicle/v2/vehicles"
ENERGY = "/energy/v2/vehicles"
LOCATION = "/location/v1/vehicles"
# Paths the fault injector reaches: the three APIs and Volvo ID's sign-in.
PREFIXES = ("/connected-vehicle/", "/energy/", "/location/", VOLVO_PREFIX)
API_KEY_HEADER = "vcc-api-key"

APIM_UNAUTHORIZED = {
    "statusCode": 401,
    "message": (
        "Access denied due to invalid subscription key. "
        "Make sure to provide a valid key for an active subscription."
    ),
}
# Why a forced outcome did not complete, in the `message` of the command answer.
INVOKE_MESSAGES = {
    "COMPLETED": "",
    "DELIVERED": "",
    "RUNNING": "Command is running",
    "WAITING": "Command is waiting to be sent to the vehicle",
    "REJECTED": "Command was rejected by the vehicle",
    "UNKNOWN": "Command status is unknown",
    "TIMEOUT": "Vehicle did not respond in time",
    "CONNECTION_FAILURE": "Could not connect to the vehicle",
    "VEHICLE_IN_SLEEP": "Vehicle is in sleep mode",
    "CAR_ERROR": "Vehicle reported an error",
    "NOT_ALLOWED_PRIVACY_ENABLED": "Not allowed: privacy mode is enabled in the vehicle",
    "NOT_ALLOWED_WRONG_USAGE_MODE": "Not allowed in the vehicle's current usage mode",
}


def error_body(message: str, description: str) -> dict[str, Any]:
    """Volvo's error envelope."""
    return {"error": {"message": message, "description": description}}


def _json_error(
    cls: type[web.HTTPError], body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.HTTPError:
    return cls(text=json.dumps(body), content_type="application/json", headers=headers)


def _token_invalid() -> web.HTTPError:
    return _json_error(
        web.HTTPUnauthorized,
        error_body("Unauthorized", "The access token is invalid or has expired"),
    )


def _too_many(retry_after: int) -> web.HTTPError:
    return _json_error(
        web.HTTPTooManyRequests,
        error_body("Too Many Requests", "Rate limit is exceeded"),
        {"Retry-After": str(retry_after)},
    )


def _account(request: web.Request, *, command: bool = False) -> VolvoAccount:
    """The account behind the call, brought up to the clock, once key, token and quota allow it.

    401 (APIM's body) without a valid API key, 401 without a valid token, 429 over the quota.
    """
    account = request.app[ACCOUNT]
    resource = request.match_info.route.resource
    template = resource.canonical if resource else request.path
    # Commands spelled out: a test counts lock and unlock calls apart.
    template = template.replace("{command}", request.match_info.get("command", "{command}"))
    account.request_log.append((request.method, template))
    if request.headers.get(API_KEY_HEADER) not in account.api_keys:
        raise _json_error(web.HTTPUnauthorized, APIM_UNAUTHORIZED)
    oauth = request.app[OAUTH]
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    owner, client_id = oauth.account_for(token), oauth.client_for(token)
    if owner is None or client_id is None:
        raise _token_invalid()
    if (retry_after := account.admit(owner, client_id, command=command)) is not None:
        raise _too_many(retry_after)
    account.settle()
    return account


def _car(request: web.Request, account: VolvoAccount) -> VolvoCar:
    car = account.cars.get(request.match_info["vin"])
    if car is None:
        raise _json_error(web.HTTPNotFound, error_body("Not Found", "Vehicle not found"))
    return car


def _data(body: Any) -> web.Response:
    return web.json_response({"data": body})


async def vehicles(request: web.Request) -> web.Response:
    """GET /connected-vehicle/v2/vehicles: the VINs on the account."""
    account = _account(request)
    return _data([{"vin": vin} for vin in account.cars])


async def vehicle(request: web.Request) -> web.Response:
    """GET …/vehicles/{vin}: model, year, fuel type, battery capacity, images."""
    account = _account(request)
    return _data(_car(request, account).details())


async def doors(request: web.Request) -> web.Response:
    """GET …/vehicles/{vin}/doors: the central lock and what is open."""
    account = _account(request)
    return _data(_car(request, account).doors())


async def odometer(request: web.Request) -> web.Response:
    """GET …/vehicles/{vin}/odometer."""
    account = _account(request)
    return _data(_car(request, account).odometer(account.now()))


async def commands(request: web.Request) -> web.Response:
    """GET …/vehicles/{vin}/commands: the commands this car takes."""
    account = _account(request)
    return _data(_car(request, account).command_list())


async def command_accessibility(request: web.Request) -> web.Response:
    """GET …/vehicles/{vin}/command-accessibility: can the car take commands now, and if not why."""
    account = _account(request)
    return _data(_car(request, account).accessibility(account.now()))


async def location(request: web.Request) -> web.Response:
    """GET /location/v1/vehicles/{vin}/location."""
    account = _account(request)
    return _data(_car(request, account).location(account.now()))


async def energy_state(request: web.Request) -> web.Response:
    """GET /energy/v2/vehicles/{vin}/state: the map of resources, without a `data` wrapper."""
    account = _account(request)
    return web.json_response(_car(request, account).energy_state(account.now()))


async def energy_capabilities(request: web.Request) -> web.Response:
    """GET /energy/v2/vehicles/{vin}/capabilities, without a `data` wrapper."""
    account = _account(request)
    return web.json_response(_car(request, account).energy_capabilities())


async def _run_command(car: VolvoCar, command: str, status: str) -> dict[str, Any]:
    """Wait for the car, then let it act: the outcome the call answers."""
    await asyncio.sleep(car.command_delay)
    if status in APPLIED_STATUSES:
        car.apply(command)
    return {"vin": car.vin, "invokeStatus": status, "message": INVOKE_MESSAGES[status]}


async def command(request: web.Request) -> web.Response:
    """POST …/vehicles/{vin}/commands/{command}: blocks for the car's delay, then the outcome.

    The car's part runs in its own task, shielded from the handler: a client that times out and
    hangs up does not stop the lock or the climate from changing, as with the real cars.
    """
    account = _account(request, command=True)
    car = _car(request, account)
    name = COMMAND_NAMES.get(request.match_info["command"])
    if name is None or name not in car.commands:
        raise _json_error(
            web.HTTPNotFound,
            error_body("Not Found", "The command is not supported by this vehicle"),
        )
    status = car.take_invoke_status()
    account.command_log.append((car.vin, name, status))
    task = asyncio.create_task(_run_command(car, name, status))
    account.running.add(task)
    task.add_done_callback(account.running.discard)
    return _data(await asyncio.shield(task))


# The other faults' status and error; a kind not listed answers 500.
_FAULT_ERRORS = {
    FaultKind.FORBIDDEN: (403, "Forbidden", "Access to the resource is not allowed"),
    FaultKind.NOT_FOUND: (404, "Not Found", "Vehicle not found"),
    FaultKind.COMMAND_IN_PROGRESS: (409, "Conflict", "A command is already running"),
    FaultKind.TIMEOUT: (504, "Gateway Timeout", "The vehicle did not answer in time"),
}


def fault_response(fault: Fault) -> web.Response:
    """What an injected fault looks like on a Volvo path, in Volvo's envelopes."""
    retry_after = str(int(fault.params.get("retry_after", 60)))
    match fault.kind:
        case FaultKind.MALFORMED:
            return web.Response(
                status=200, text='{"data": {"vin": ', content_type="application/json"
            )
        case FaultKind.RATE_LIMITED | FaultKind.INTERNAL_RATE_LIMITED:
            body = error_body("Too Many Requests", "Rate limit is exceeded")
            return web.json_response(body, status=429, headers={"Retry-After": retry_after})
        case FaultKind.UNAUTHORIZED:
            body = error_body("Unauthorized", "The access token is invalid or has expired")
            return web.json_response(body, status=401)
        case _:
            status, message, description = _FAULT_ERRORS.get(
                fault.kind, (500, "Internal Server Error", "Something went wrong")
            )
            return web.json_response(error_body(message, description), status=status)


async def admin_state(request: web.Request) -> web.Response:
    """GET /_sim/volvo/state: every car's settable fields and derived charging state."""
    return web.json_response(request.app[ACCOUNT].state())


async def admin_patch_vehicle(request: web.Request) -> web.Response:
    """POST /_sim/volvo/vehicles/{vin}: set car fields from a JSON object (develop, scripts)."""
    account = request.app[ACCOUNT]
    car = account.cars.get(request.match_info["vin"])
    if car is None:
        raise web.HTTPNotFound(text="unknown vehicle")
    try:
        car.update(await request.json(), account.now())
    except KeyError as err:
        raise web.HTTPBadRequest(text=f"unknown field {err}") from None
    except (TypeError, ValueError) as err:
        raise web.HTTPBadRequest(text=str(err)) from None
    return web.json_response(car.state())


def add_routes(app: web.Application, account: VolvoAccount) -> None:
    """Register the three APIs and the Volvo admin endpoints."""
    app[ACCOUNT] = account
    car = CONNECTED_VEHICLE + "/{vin}"
    app.router.add_get(CONNECTED_VEHICLE, vehicles)
    app.router.add_get(car, vehicle)
    app.router.add_get(car + "/doors", doors)
    app.router.add_get(car + "/odometer", odometer)
    app.router.add_get(car + "/commands", commands)
    app.router.add_get(car + "/command-accessibility", command_accessibility)
    app.router.add_post(car + "/commands/{command}", command)
    app.router.add_get(LOCATION + "/{vin}/location", location)
    app.router.add_get(ENERGY + "/{vin}/state", energy_state)
    app.router.add_get(ENERGY + "/{vin}/capabilities", energy_capabilities)
    app.router.add_get("/_sim/volvo/state", admin_state)
    app.router.add_post("/_sim/volvo/vehicles/{vin}", admin_patch_vehicle)
