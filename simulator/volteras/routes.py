"""HTTP handlers for the Volteras endpoints EV Cloud uses, plus the consent pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from . import payloads
from .fleet import EFFECTS, SimVehicle, VolterasCloud

CLOUD: web.AppKey[VolterasCloud] = web.AppKey("volteras_cloud")

# Path action → VehicleCommandEnum, for every command endpoint of the OpenAPI document.
COMMAND_ACTIONS = {
    "start-charging": "START_CHARGING",
    "stop-charging": "STOP_CHARGING",
    "open-charge-port": "OPEN_CHARGE_PORT",
    "close-charge-port": "CLOSE_CHARGE_PORT",
    "set-charge-limit": "SET_CHARGE_LIMIT",
    "climate-on": "CLIMATE_ON",
    "climate-off": "CLIMATE_OFF",
    "start-hvac-system": "START_HVAC_SYSTEM",
    "set-temperature": "SET_TEMPERATURE",
    "lock-doors": "LOCK_DOORS",
    "unlock-doors": "UNLOCK_DOORS",
    "actuate-front-trunk": "ACTUATE_FRONT_TRUNK",
    "actuate-rear-trunk": "ACTUATE_REAR_TRUNK",
}
assert set(COMMAND_ACTIONS.values()) <= set(EFFECTS)

STATUS_FOR_CODE = {
    "AUTHENTICATION_ERROR": 401,
    "NOT_PERMITTED": 403,
    "DEVICE_LIMIT_REACHED": 403,
    "RESOURCE_NOT_FOUND": 404,
    "COMMAND_ALREADY_IN_PROGRESS": 409,
    "REQUEST_VALIDATION_ERROR": 422,
    "INTERNAL_RATE_LIMITED": 429,
    "SERVER_ERROR": 500,
}


class ApiError(Exception):
    """An error answered in Volteras's envelope."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        """Keep the code; the HTTP status follows from it."""
        super().__init__(message)
        self.code = code
        self.status = STATUS_FOR_CODE[code]
        self.headers = headers or {}


def cloud_of(request: web.Request) -> VolterasCloud:
    """The Volteras world serving this request, brought up to the clock."""
    cloud = request.app[CLOUD]
    cloud.settle()
    return cloud


def _organization(request: web.Request, cloud: VolterasCloud) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    organization = cloud.organization_for_token(token) if scheme.lower() == "bearer" else None
    if organization is None:
        raise ApiError("AUTHENTICATION_ERROR", "Invalid or expired access token.")
    return organization


def _vehicle(request: web.Request, cloud: VolterasCloud) -> SimVehicle:
    organization = _organization(request, cloud)
    vehicle = cloud.vehicles.get(request.match_info["vehicle_id"])
    if vehicle is None or vehicle.organization_id != organization:
        raise ApiError("RESOURCE_NOT_FOUND", "Vehicle not found.")
    return vehicle


def _basic_credentials(request: web.Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except binascii.Error, UnicodeDecodeError:
        return None, None
    return user, password


async def token(request: web.Request) -> web.Response:
    """POST /v1/oauth2/token: client credentials (HTTP Basic or form) or a refresh token."""
    cloud = cloud_of(request)
    form = await request.post()
    grant = form.get("grant_type")
    if grant == "client_credentials":
        client_id, secret = _basic_credentials(request)
        if client_id is None:
            client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if not cloud.check_client(client_id, secret):
            raise ApiError("AUTHENTICATION_ERROR", "Invalid client credentials.")
        return web.json_response(cloud.issue_token(str(client_id)))
    if grant == "refresh_token":
        client = cloud.redeem_refresh_token(str(form.get("refresh_token", "")))
        if client is None or client not in cloud.clients:
            raise ApiError("AUTHENTICATION_ERROR", "Invalid refresh token.")
        return web.json_response(cloud.issue_token(client))
    raise ApiError("REQUEST_VALIDATION_ERROR", "Unsupported grant_type.")


async def test_token(request: web.Request) -> web.Response:
    """POST /v1/oauth2/test-token → APIAccess."""
    cloud = cloud_of(request)
    organization = _organization(request, cloud)
    token_value = request.headers["Authorization"].partition(" ")[2]
    client_id = cloud.access_tokens[token_value][0]
    return web.json_response({"clientId": client_id, "organizationId": organization})


async def list_accounts(request: web.Request) -> web.Response:
    """GET /v1/accounts → Page[OEMAccount]."""
    cloud = cloud_of(request)
    organization = _organization(request, cloud)
    results = [
        {"id": account_id, "username": username}
        for account_id, (org, username) in sorted(cloud.accounts.items())
        if org == organization
    ]
    return web.json_response(payloads.page(results, None, len(results)))


async def get_account(request: web.Request) -> web.Response:
    """GET /v1/accounts/{account_id} → OEMAccount."""
    cloud = cloud_of(request)
    organization = _organization(request, cloud)
    account = cloud.accounts.get(request.match_info["account_id"])
    if account is None or account[0] != organization:
        raise ApiError("RESOURCE_NOT_FOUND", "Account not found.")
    return web.json_response({"id": request.match_info["account_id"], "username": account[1]})


async def connect_account(request: web.Request) -> web.Response:
    """POST /v1/accounts:connect → AccountConnect with a consent link on this simulator."""
    cloud = cloud_of(request)
    organization = _organization(request, cloud)
    try:
        body = await request.json()
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise ApiError("REQUEST_VALIDATION_ERROR", "Body must be a JSON object.")
    return_url = body.get("returnUrl")
    if not isinstance(return_url, str) or not urlsplit(return_url).scheme:
        raise ApiError("REQUEST_VALIDATION_ERROR", "returnUrl must be a URL.")
    for required in ("scopes", "deviceTypes"):
        if not isinstance(body.get(required), list) or not body[required]:
            raise ApiError("REQUEST_VALIDATION_ERROR", f"{required} must be a non-empty list.")
    if cloud.device_limit is not None and cloud.device_count(organization) >= cloud.device_limit:
        raise ApiError("DEVICE_LIMIT_REACHED", "The organisation's plan has no room for a car.")
    consent_token = cloud.create_consent(organization, return_url)
    origin = f"{request.scheme}://{request.host}"
    return web.json_response({"authenticationUrl": f"{origin}/consent/{consent_token}"})


def _filter(request: web.Request) -> dict[str, Any]:
    raw = request.query.get("filter")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ApiError("REQUEST_VALIDATION_ERROR", "filter must be JSON.") from err
    if not isinstance(parsed, dict):
        raise ApiError("REQUEST_VALIDATION_ERROR", "filter must be a JSON object.")
    return parsed


def _matches(vehicle: SimVehicle, criteria: dict[str, Any]) -> bool:
    fields = {
        "metadata.accountId": vehicle.account_id,
        "make": vehicle.make,
        "vin": vehicle.vin,
        "id": vehicle.id,
    }
    return all(fields.get(key) == value for key, value in criteria.items())


async def list_vehicles(request: web.Request) -> web.Response:
    """GET /v1/vehicles → Page[Vehicle], cursor-paginated, filterable."""
    cloud = cloud_of(request)
    organization = _organization(request, cloud)
    criteria = _filter(request)
    try:
        size = int(request.query.get("maxPageSize", "50"))
        offset = int(request.query.get("pageToken", "p0").removeprefix("p"))
    except ValueError as err:
        raise ApiError("REQUEST_VALIDATION_ERROR", "Bad page size or token.") from err
    if not 1 <= size <= 100:
        raise ApiError("REQUEST_VALIDATION_ERROR", "maxPageSize must be 1-100.")
    vehicles = [v for v in cloud.vehicles_of(organization) if _matches(v, criteria)]
    chunk = vehicles[offset : offset + size]
    next_token = f"p{offset + size}" if offset + size < len(vehicles) else None
    return web.json_response(
        payloads.page([payloads.vehicle(v) for v in chunk], next_token, len(vehicles))
    )


async def get_vehicle(request: web.Request) -> web.Response:
    """GET /v1/vehicles/{vehicle_id} → Vehicle."""
    cloud = cloud_of(request)
    return web.json_response(payloads.vehicle(_vehicle(request, cloud)))


async def get_telemetry(request: web.Request) -> web.Response:
    """GET /v1/vehicles/{vehicle_id}/telemetry: the car's last report; reading never wakes it."""
    cloud = cloud_of(request)
    return web.json_response(payloads.telemetry(_vehicle(request, cloud)))


async def _arguments(request: web.Request, command: str) -> dict[str, Any] | None:
    if command not in {"SET_CHARGE_LIMIT", "SET_TEMPERATURE"}:
        return None
    try:
        body = await request.json()
    except json.JSONDecodeError as err:
        raise ApiError("REQUEST_VALIDATION_ERROR", "Body must be JSON.") from err
    if not isinstance(body, dict):
        raise ApiError("REQUEST_VALIDATION_ERROR", "Body must be an object.")
    if command == "SET_CHARGE_LIMIT":
        limit = body.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 50 <= limit <= 100:
            raise ApiError("REQUEST_VALIDATION_ERROR", "limit must be an integer from 50 to 100.")
        return {"limit": limit}
    temperatures = {}
    for key in ("driverTemperature", "passengerTemperature"):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 15 <= value <= 28:
            raise ApiError("REQUEST_VALIDATION_ERROR", f"{key} must be from 15 to 28.")
        temperatures[key] = float(value)
    return temperatures


async def create_command(request: web.Request) -> web.Response:
    """POST /v1/vehicles/{vehicle_id}/command-execution:<action> → a PENDING execution."""
    cloud = cloud_of(request)
    vehicle = _vehicle(request, cloud)
    command = COMMAND_ACTIONS.get(request.match_info["action"])
    if command is None:
        raise ApiError("RESOURCE_NOT_FOUND", "Unknown command.")
    arguments = await _arguments(request, command)
    if cloud.pending(vehicle.id, command):
        raise ApiError("COMMAND_ALREADY_IN_PROGRESS", f"A {command} command is pending.")
    execution = cloud.create_execution(vehicle.id, command, arguments)
    return web.json_response(payloads.execution(execution))


async def get_command(request: web.Request) -> web.Response:
    """GET /v1/vehicles/{vehicle_id}/command-executions/{id}."""
    cloud = cloud_of(request)
    vehicle = _vehicle(request, cloud)
    execution = cloud.executions.get(request.match_info["execution_id"])
    if execution is None or execution.vehicle_id != vehicle.id:
        raise ApiError("RESOURCE_NOT_FOUND", "Command execution not found.")
    return web.json_response(payloads.execution(execution))


async def list_commands(request: web.Request) -> web.Response:
    """GET /v1/vehicles/{vehicle_id}/command-executions → Page[VehicleCommandExecution]."""
    cloud = cloud_of(request)
    vehicle = _vehicle(request, cloud)
    results = [
        payloads.execution(e) for e in cloud.executions.values() if e.vehicle_id == vehicle.id
    ]
    return web.json_response(payloads.page(results, None, len(results)))


CONSENT_PAGE = """<!DOCTYPE html>
<html><head><title>Volteras simulator: connect your car</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 4em auto">
<h1>Connect your car</h1>
<p>Organisation <b>{organization}</b> asks to read your car's data and send it commands.</p>
<p><a href="{token}/approve">Approve</a> &nbsp; <a href="{token}/deny">Deny</a></p>
<p><small>Simulated consent page: approving connects a new car-maker account with one car.</small></p>
</body></html>"""


def _consent(request: web.Request, *, redeem: bool) -> tuple[VolterasCloud, Any]:
    cloud = cloud_of(request)
    token_value = request.match_info["token"]
    consent = (cloud.consents.pop if redeem else cloud.consents.get)(token_value, None)
    if consent is None:
        raise web.HTTPNotFound(text="This consent link is invalid, expired or already used.")
    return cloud, consent


async def consent_page(request: web.Request) -> web.Response:
    """GET /consent/{token}: the page the owner sees."""
    _, consent = _consent(request, redeem=False)
    page = CONSENT_PAGE.format(
        organization=consent.organization_id, token=request.match_info["token"]
    )
    return web.Response(text=page, content_type="text/html")


def _back(return_url: str, result: str, account_id: str | None) -> web.HTTPFound:
    parts = urlsplit(return_url)
    extra = {"result": result} | ({"accountId": account_id} if account_id else {})
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return web.HTTPFound(urlunsplit(parts._replace(query=query)))


async def consent_approve(request: web.Request) -> web.Response:
    """GET /consent/{token}/approve: connect a car, send the browser back to returnUrl."""
    cloud, consent = _consent(request, redeem=True)
    account_id = cloud.approve_consent(consent)
    raise _back(consent.return_url, "success", account_id)


async def consent_deny(request: web.Request) -> web.Response:
    """GET /consent/{token}/deny: send the browser back with a failure."""
    _, consent = _consent(request, redeem=True)
    raise _back(consent.return_url, "failure", None)


def add_routes(app: web.Application) -> None:
    """Register the Volteras surface."""
    app.router.add_post("/v1/oauth2/token", token)
    app.router.add_post("/v1/oauth2/test-token", test_token)
    app.router.add_get("/v1/accounts", list_accounts)
    app.router.add_post("/v1/accounts:connect", connect_account)
    app.router.add_get("/v1/accounts/{account_id}", get_account)
    app.router.add_get("/v1/vehicles", list_vehicles)
    app.router.add_get("/v1/vehicles/{vehicle_id}", get_vehicle)
    app.router.add_get("/v1/vehicles/{vehicle_id}/telemetry", get_telemetry)
    app.router.add_get("/v1/vehicles/{vehicle_id}/command-executions", list_commands)
    app.router.add_get("/v1/vehicles/{vehicle_id}/command-executions/{execution_id}", get_command)
    app.router.add_post("/v1/vehicles/{vehicle_id}/command-execution:{action}", create_command)
    app.router.add_get("/consent/{token}", consent_page)
    app.router.add_get("/consent/{token}/approve", consent_approve)
    app.router.add_get("/consent/{token}/deny", consent_deny)
