"""HTTP handlers for the Tesla Fleet API endpoints EV Cloud uses.

Every call needs a bearer token the simulator's OAuth server issued. Calls Tesla bills are metered:
`vehicle_data` (data), commands (REST and signed), `wake_up` (wake). A sleeping car answers 408
to data calls and commands, and `GET /vehicles/{vin}` (free) tells its state without waking it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from ..oauth import OAUTH
from .fleet import COMMAND_NAMES, TeslaAccount, TeslaCar
from .signed import SignedCommands

ACCOUNT: web.AppKey[TeslaAccount] = web.AppKey("tesla_account")
SIGNED: web.AppKey[SignedCommands] = web.AppKey("tesla_signed")
PREFIX = "/api/1/"
PUBLIC_KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
UNREGISTERED = "Account must be registered in the current region"

ASLEEP_BODY = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}


def _error(status: int, error: str) -> web.Response:
    return web.json_response(
        {"response": None, "error": error, "error_description": ""}, status=status
    )


def _bearer(request: web.Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def _unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text='{"error": "token expired (401)"}', content_type="application/json"
    )


def _account(request: web.Request) -> TeslaAccount:
    """The account behind the bearer token, brought up to the clock.

    401 without a valid owner's token; 412, as Tesla answers, when the token's developer app never
    registered as a partner.
    """
    token = _bearer(request)
    oauth = request.app[OAUTH]
    if oauth.account_for(token) is None:
        raise _unauthorized()
    account = request.app[ACCOUNT]
    if account.partner_key(oauth.client_for(token)) is None:
        raise web.HTTPPreconditionFailed(
            text=f'{{"response": null, "error": "{UNREGISTERED}"}}',
            content_type="application/json",
        )
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
    # "Paired" means: carries the key of the app asking (the one its domain registered).
    key = account.partner_key(request.app[OAUTH].client_for(_bearer(request)))
    vins = [vin for vin in body.get("vins", []) if vin in account.cars]
    paired = [vin for vin in vins if key and signed.is_paired(vin, bytes.fromhex(key))]
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


def _partner(request: web.Request) -> str:
    """The developer app behind a partner (client-credentials) token; 401 without one."""
    client_id = request.app[OAUTH].partner_for(_bearer(request))
    if client_id is None:
        raise _unauthorized()
    request.app[ACCOUNT].request_log.append((request.method, request.path))
    return client_id


def _point_hex(pem: str) -> str | None:
    """A PEM public key as Tesla lists it: the uncompressed P-256 point, hex; None if not one."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return None
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()


async def _download_public_key(domain: str) -> str | None:
    """Fetch the domain's key file as Tesla does (plain HTTP here: local servers have no TLS)."""
    url = f"http://{domain}{PUBLIC_KEY_PATH}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url) as answer,
        ):
            if answer.status != 200:
                return None
            return await answer.text()
    except aiohttp.ClientError, TimeoutError, UnicodeDecodeError:
        return None


async def register_partner(request: web.Request) -> web.Response:
    """POST /api/1/partner_accounts {domain}: fetch the domain's public key and register it."""
    client_id = _partner(request)
    account = request.app[ACCOUNT]
    domain = str((await request.json()).get("domain", "")).strip().lower()
    if not domain:
        return _error(400, "domain is required")
    allowed = account.allowed_origins.get(client_id)
    if allowed is not None and allowed != domain:
        return _error(412, f"Root domain {domain} must match registered allowed origin {allowed}")
    pem = await _download_public_key(domain)
    if pem is None:
        return _error(424, f"Public key download failed for url https://{domain}{PUBLIC_KEY_PATH}")
    if (public_key := _point_hex(pem)) is None:
        return _error(422, "Public key is not a P-256 (prime256v1) key")
    account.register_partner(client_id, domain, public_key)
    return _response(
        {
            "client_id": client_id,
            "domain": domain,
            "public_key": public_key,
            "account_id": client_id,
        }
    )


async def partner_public_key(request: web.Request) -> web.Response:
    """GET /api/1/partner_accounts/public_key?domain=: the key registered for a domain."""
    _partner(request)
    public_key = request.app[ACCOUNT].domain_key(request.query.get("domain", "").lower())
    if public_key is None:
        return _error(404, "not_found")
    return _response({"public_key": public_key})


async def hosted_public_key(request: web.Request) -> web.Response:
    """The simulator playing the developer app's web site: its hosted public key file."""
    pem = request.app[ACCOUNT].hosted_public_key
    if pem is None:
        raise web.HTTPNotFound(text="no key hosted")
    return web.Response(text=pem, content_type="application/x-pem-file")


def add_routes(app: web.Application, account: TeslaAccount, signed: SignedCommands) -> None:
    """Register the Fleet API surface."""
    app[ACCOUNT] = account
    app[SIGNED] = signed
    app.router.add_post("/api/1/partner_accounts", register_partner)
    app.router.add_get("/api/1/partner_accounts/public_key", partner_public_key)
    app.router.add_get(PUBLIC_KEY_PATH, hosted_public_key)
    app.router.add_get("/api/1/products", products)
    app.router.add_get("/api/1/users/region", region)
    app.router.add_post("/api/1/vehicles/fleet_status", fleet_status)
    app.router.add_get("/api/1/vehicles/{vin}", vehicle)
    app.router.add_get("/api/1/vehicles/{vin}/vehicle_data", vehicle_data)
    app.router.add_post("/api/1/vehicles/{vin}/wake_up", wake_up)
    app.router.add_post("/api/1/vehicles/{vin}/command/{name}", command)
    app.router.add_post("/api/1/vehicles/{vin}/signed_command", signed_command)
