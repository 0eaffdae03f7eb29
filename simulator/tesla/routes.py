"""HTTP handlers for the Tesla Fleet API endpoints EV Cloud uses.

Every call needs a bearer token the simulator's OAuth server issued. Calls Tesla bills are metered:
`vehicle_data` (data), commands (REST and signed), `wake_up` (wake). A sleeping car answers 408
to data calls and commands, and `GET /vehicles/{vin}` (free) tells its state without waking it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from ..oauth import OAUTH
from .fleet import COMMAND_NAMES, TeslaAccount, TeslaCar
from .signed import SignedCommands

ACCOUNT: web.AppKey[TeslaAccount] = web.AppKey("tesla_account")
SIGNED: web.AppKey[SignedCommands] = web.AppKey("tesla_signed")
PREFIX = "/api/1/"

ASLEEP_BODY = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}


def _error(status: int, error: str) -> web.Response:
    return web.json_response(
        {"response": None, "error": error, "error_description": ""}, status=status
    )


def _account(request: web.Request) -> TeslaAccount:
    """The account behind the bearer token, brought up to the clock; 401 without a valid one."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if request.app[OAUTH].account_for(token) is None:
        raise web.HTTPUnauthorized(
            text='{"error": "token expired (401)"}', content_type="application/json"
        )
    account = request.app[ACCOUNT]
    resource = request.match_info.route.resource
    account.request_log.append((request.method, resource.canonical if resource else request.path))
    account.settle()
    return account


def _car(request: web.Request, account: TeslaAccount) -> TeslaCar:
    car = account.cars.get(request.match_info["vin"])
    if car is None:
        raise web.HTTPNotFound(
            text='{"response": null, "error": "not_found"}', content_type="application/json"
        )
    return car


def _response(body: Any) -> web.Response:
    return web.json_response({"response": body})


async def products(request: web.Request) -> web.Response:
    """GET /api/1/products: the owner's cars (energy sites: none)."""
    account = _account(request)
    items = [car.product() for car in account.cars.values()]
    return web.json_response({"response": items, "count": len(items)})


async def vehicle(request: web.Request) -> web.Response:
    """GET /api/1/vehicles/{vin}: state without waking the car (free)."""
    account = _account(request)
    return _response(_car(request, account).product())


async def vehicle_data(request: web.Request) -> web.Response:
    """GET …/vehicle_data?endpoints=a;b: live data, billed; 408 while the car sleeps."""
    account = _account(request)
    car = _car(request, account)
    account.bill("data")
    if car.asleep:
        return web.json_response(ASLEEP_BODY, status=408)
    endpoints = {e for e in request.query.get("endpoints", "").split(";") if e}
    # Reading live data keeps a car awake, as owners of polled Teslas know.
    car.touch(account.now())
    return _response(car.vehicle_data(endpoints))


async def wake_up(request: web.Request) -> web.Response:
    """POST …/wake_up: billed; the car comes online after its wake delay."""
    account = _account(request)
    car = _car(request, account)
    account.bill("wake")
    if car.asleep and car.waking_until is None:
        car.waking_until = account.now() + timedelta(seconds=car.wake_delay)
    return _response(car.product())


async def command(request: web.Request) -> web.Response:
    """POST …/command/{name}: unsigned REST command, refused where signing is required."""
    account = _account(request)
    car = _car(request, account)
    name = request.match_info["name"]
    account.bill("command")
    if car.asleep:
        return web.json_response(ASLEEP_BODY, status=408)
    if name not in COMMAND_NAMES:
        return _error(400, "invalid_command")
    if car.command_signing == "required":
        return _response({"result": False, "reason": "vehicle_command_protocol_required"})
    args: dict[str, Any] = await request.json() if request.can_read_body else {}
    car.touch(account.now())
    reason = car.run_command(name, args or {})
    return _response({"result": reason is None, "reason": reason or ""})


async def signed_command(request: web.Request) -> web.Response:
    """POST …/signed_command: the car verifies and runs a signed command."""
    account = _account(request)
    car = _car(request, account)
    account.bill("command")
    if not car.asleep:
        car.touch(account.now())
    response: web.Response = await request.app[SIGNED].handle(request, car.vin, car)
    return response


async def fleet_status(request: web.Request) -> web.Response:
    """POST /api/1/vehicles/fleet_status: which cars carry a paired key of the partner."""
    account = _account(request)
    body = await request.json()
    signed = request.app[SIGNED]
    vins = [vin for vin in body.get("vins", []) if vin in account.cars]
    paired = [vin for vin in vins if signed.has_paired_key(vin)]
    return _response(
        {
            "key_paired_vins": paired,
            "unpaired_vins": [vin for vin in vins if vin not in paired],
            "vehicle_info": {
                vin: {
                    "firmware_version": "2026.38.2",
                    "vehicle_command_protocol_required": account.cars[vin].command_signing
                    == "required",
                }
                for vin in vins
            },
        }
    )


async def region(request: web.Request) -> web.Response:
    """GET /api/1/users/region: the account's region and its server."""
    _account(request)
    base = f"{request.scheme}://{request.host}"
    return _response({"region": "eu", "fleet_api_base_url": base})


def add_routes(app: web.Application, account: TeslaAccount, signed: SignedCommands) -> None:
    """Register the Fleet API surface."""
    app[ACCOUNT] = account
    app[SIGNED] = signed
    app.router.add_get("/api/1/products", products)
    app.router.add_get("/api/1/users/region", region)
    app.router.add_post("/api/1/vehicles/fleet_status", fleet_status)
    app.router.add_get("/api/1/vehicles/{vin}", vehicle)
    app.router.add_get("/api/1/vehicles/{vin}/vehicle_data", vehicle_data)
    app.router.add_post("/api/1/vehicles/{vin}/wake_up", wake_up)
    app.router.add_post("/api/1/vehicles/{vin}/command/{name}", command)
    app.router.add_post("/api/1/vehicles/{vin}/signed_command", signed_command)
