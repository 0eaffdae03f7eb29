"""Every answer the simulator gives validates against Volteras's official OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from simulator.volteras.routes import COMMAND_ACTIONS

from .conftest import Api

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "volteras-openapi.json").read_text()
)
BASE = "urn:volteras-openapi"
REGISTRY = Registry().with_resource(BASE, DRAFT202012.create_resource(SPEC))


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def response_validator(method: str, path: str) -> Draft202012Validator:
    """The validator for the 200 answer of an operation of the document."""
    pointer = _pointer(
        "paths", path, method.lower(), "responses", "200", "content", "application/json", "schema"
    )
    return Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=REGISTRY)


def schema_validator(name: str) -> Draft202012Validator:
    """The validator for a component schema."""
    return Draft202012Validator({"$ref": f"{BASE}#/components/schemas/{name}"}, registry=REGISTRY)


def assert_valid(validator: Draft202012Validator, body: Any) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


async def call(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    async with api.session.request(
        method, api.url(path), headers=api.headers, **kwargs
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_every_command_endpoint_is_served() -> None:
    """The simulator serves each command endpoint the document defines, and no other."""
    prefix = "/v1/vehicles/{vehicle_id}/command-execution:"
    documented = {path.removeprefix(prefix) for path in SPEC["paths"] if path.startswith(prefix)}
    assert documented == set(COMMAND_ACTIONS)


async def test_token_answers(api: Api) -> None:
    async with api.session.post(
        api.url("/v1/oauth2/token"),
        data={"grant_type": "client_credentials"},
        headers={"Authorization": aiohttp.encode_basic_auth("sim-client", "sim-secret")},
    ) as response:
        body = await response.json()
    assert_valid(response_validator("POST", "/v1/oauth2/token"), body)
    async with api.session.post(
        api.url("/v1/oauth2/token"),
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
    ) as response:
        assert_valid(response_validator("POST", "/v1/oauth2/token"), await response.json())
    assert_valid(
        response_validator("POST", "/v1/oauth2/test-token"),
        await call(api, "POST", "/v1/oauth2/test-token"),
    )


async def test_account_answers(api: Api) -> None:
    payload = {
        "returnUrl": "https://ha.example.com/callback?state=x",
        "scopes": ["vehicle:all"],
        "deviceTypes": ["VEHICLE"],
    }
    assert_valid(schema_validator("AccountConnectPayload"), payload)
    assert_valid(
        response_validator("POST", "/v1/accounts:connect"),
        await call(api, "POST", "/v1/accounts:connect", json=payload),
    )
    accounts = await call(api, "GET", "/v1/accounts")
    assert_valid(response_validator("GET", "/v1/accounts"), accounts)
    account_id = accounts["results"][0]["id"]
    assert_valid(
        response_validator("GET", "/v1/accounts/{account_id}"),
        await call(api, "GET", f"/v1/accounts/{account_id}"),
    )


async def test_vehicle_answers(api: Api) -> None:
    page = await call(api, "GET", "/v1/vehicles", params={"maxPageSize": "2"})
    assert_valid(response_validator("GET", "/v1/vehicles"), page)
    assert page["nextPageToken"]
    for vehicle_id, vehicle in api.sim.volteras.vehicles.items():
        assert_valid(
            response_validator("GET", "/v1/vehicles/{vehicle_id}"),
            await call(api, "GET", f"/v1/vehicles/{vehicle_id}"),
        )
        for plugged_in, charging in ((False, False), (True, False), (True, True)):
            vehicle.plugged_in, vehicle.charging = plugged_in, charging
            assert_valid(
                response_validator("GET", "/v1/vehicles/{vehicle_id}/telemetry"),
                await call(api, "GET", f"/v1/vehicles/{vehicle_id}/telemetry"),
            )


@pytest.mark.parametrize("action", sorted(COMMAND_ACTIONS))
async def test_command_answers(api: Api, action: str) -> None:
    vehicle_id = "veh-tesla-m3"
    path = f"/v1/vehicles/{{vehicle_id}}/command-execution:{action}"
    request_body = None
    body_schema = SPEC["paths"][path]["post"].get("requestBody")
    if action == "set-charge-limit":
        request_body = {"limit": 85}
    elif action == "set-temperature":
        request_body = {"driverTemperature": 21.5, "passengerTemperature": 21.0}
    if body_schema:
        assert request_body is not None
        ref = body_schema["content"]["application/json"]["schema"]["$ref"]
        assert_valid(
            Draft202012Validator({"$ref": f"{BASE}{ref}"}, registry=REGISTRY), request_body
        )
    created = await call(
        api, "POST", f"/v1/vehicles/{vehicle_id}/command-execution:{action}", json=request_body
    )
    assert_valid(response_validator("POST", path), created)
    assert created["status"] == "PENDING"
    settled = await call(
        api, "GET", f"/v1/vehicles/{vehicle_id}/command-executions/{created['id']}"
    )
    assert_valid(
        response_validator(
            "GET", "/v1/vehicles/{vehicle_id}/command-executions/{vehicle_command_execution_id}"
        ),
        settled,
    )
    assert settled["status"] == "EXECUTED"


async def test_failed_execution_and_list(api: Api) -> None:
    api.sim.volteras.fail_next_command("OEM_VEHICLE_OFFLINE")
    created = await call(api, "POST", "/v1/vehicles/veh-vw-id4/command-execution:climate-on")
    settled = await call(api, "GET", f"/v1/vehicles/veh-vw-id4/command-executions/{created['id']}")
    assert settled["failedReason"] == "OEM_VEHICLE_OFFLINE"
    validator = response_validator(
        "GET", "/v1/vehicles/{vehicle_id}/command-executions/{vehicle_command_execution_id}"
    )
    assert_valid(validator, settled)
    listing = await call(api, "GET", "/v1/vehicles/veh-vw-id4/command-executions")
    assert_valid(response_validator("GET", "/v1/vehicles/{vehicle_id}/command-executions"), listing)
    assert listing["totalResults"] == 1
