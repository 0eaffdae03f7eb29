"""The simulator's own behaviour: sleep, consent pages, admin endpoints and the CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from simulator import Simulator
from simulator.__main__ import main

from .conftest import Api


async def test_sleeping_car_is_not_woken_by_reads(socket_enabled: None) -> None:
    """Idle past sleep_after, readings stop advancing; reading does not wake; a command does."""
    now = [datetime(2026, 11, 24, 12, tzinfo=UTC)]
    async with Simulator(command_delay=0.0, now=lambda: now[0]) as sim:
        cloud = sim.volteras
        car = cloud.vehicles["veh-vw-id4"]
        now[0] += timedelta(minutes=10)
        cloud.settle()
        assert car.reported_at == now[0]
        now[0] += timedelta(hours=2)
        cloud.settle()
        assert car.asleep(now[0])
        slept_at = car.reported_at
        now[0] += timedelta(hours=1)
        cloud.settle()
        assert car.reported_at == slept_at
        execution = cloud.create_execution(car.id, "CLIMATE_ON", None)
        cloud.settle()
        assert execution.status == "EXECUTED"
        assert car.reported_at == now[0]
        assert car.climate_on


async def test_consent_page_and_replay(api: Api) -> None:
    async with api.session.post(
        api.url("/v1/accounts:connect"),
        headers=api.headers,
        json={
            "returnUrl": "https://ha.example.com/cb",
            "scopes": ["vehicle:all"],
            "deviceTypes": ["VEHICLE"],
        },
    ) as response:
        link = (await response.json())["authenticationUrl"]
    async with api.session.get(link) as response:
        assert "Approve" in await response.text()
    async with api.session.get(f"{link}/deny", allow_redirects=False) as response:
        assert response.headers["Location"] == "https://ha.example.com/cb?result=failure"
    async with api.session.get(f"{link}/approve", allow_redirects=False) as response:
        assert response.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"returnUrl": "not a url", "scopes": ["vehicle:all"], "deviceTypes": ["VEHICLE"]},
        {"returnUrl": "https://x.example", "scopes": [], "deviceTypes": ["VEHICLE"]},
        ["not", "an", "object"],
    ],
)
async def test_consent_request_validation(api: Api, body: object) -> None:
    async with api.session.post(
        api.url("/v1/accounts:connect"), headers=api.headers, json=body
    ) as response:
        assert response.status == 422
        assert (await response.json())["error"] == "REQUEST_VALIDATION_ERROR"


async def test_missing_token_is_401_envelope(api: Api) -> None:
    async with api.session.get(api.url("/v1/vehicles")) as response:
        assert response.status == 401
        body = await response.json()
    assert set(body) == {"requestId", "timestamp", "error", "message", "data"}
    assert body["error"] == "AUTHENTICATION_ERROR"


async def test_fault_counts_down(api: Api) -> None:
    api.sim.faults.set("server_error", count=2, path="/v1/vehicles")
    statuses = []
    for _ in range(3):
        async with api.session.get(api.url("/v1/vehicles"), headers=api.headers) as response:
            statuses.append(response.status)
    assert statuses == [500, 500, 200]


async def test_admin_endpoints(api: Api) -> None:
    async with api.session.post(
        api.url("/_sim/vehicles/veh-vw-id4"), json={"plugged_in": True}
    ) as response:
        assert (await response.json())["plugged_in"] is True
    async with api.session.post(
        api.url("/_sim/vehicles/veh-vw-id4"), json={"warp_drive": True}
    ) as response:
        assert response.status == 400
    async with api.session.post(api.url("/_sim/faults"), json={"kind": "nope"}) as response:
        assert response.status == 400
    async with api.session.post(
        api.url("/_sim/faults"), json={"kind": "internal_rate_limited", "retry_after": 5}
    ) as response:
        assert (await response.json())["faults"][0]["retry_after"] == 5
    async with api.session.get(api.url("/v1/vehicles"), headers=api.headers) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "5"
    async with api.session.delete(api.url("/_sim/faults")) as response:
        assert (await response.json())["faults"] == []
    async with api.session.get(api.url("/_sim/state")) as response:
        state = await response.json()
    assert state["vehicles"]["veh-vw-id4"]["plugged_in"] is True


async def test_cli_steers_a_running_simulator(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's admin commands reach the running server."""
    loop = asyncio.get_running_loop()
    url = ["--url", api.sim.url]
    await loop.run_in_executor(None, main, [*url, "fault", "server_error", "--count", "1"])
    assert api.sim.faults.as_list()[0]["kind"] == "server_error"
    await loop.run_in_executor(None, main, [*url, "clear-faults"])
    assert api.sim.faults.as_list() == []
    await loop.run_in_executor(
        None, main, [*url, "set", "veh-vw-id4", "soc=12.5", "model=ID.4 Pro"]
    )
    assert api.sim.volteras.vehicles["veh-vw-id4"].soc == 12.5
    assert api.sim.volteras.vehicles["veh-vw-id4"].model == "ID.4 Pro"
    await loop.run_in_executor(
        None, main, [*url, "fail-next-command", "veh-vw-id4", "OEM_VEHICLE_OFFLINE"]
    )
    await loop.run_in_executor(None, main, [*url, "revoke-tokens"])
    assert api.sim.volteras.access_tokens == {}
    await loop.run_in_executor(None, main, [*url, "state"])
    assert '"veh-vw-id4"' in capsys.readouterr().out
    execution = api.sim.volteras.create_execution("veh-vw-id4", "CLIMATE_ON", None)
    api.sim.volteras.settle()
    assert execution.failed_reason == "OEM_VEHICLE_OFFLINE"


async def test_unplugging_stops_charging(socket_enabled: None) -> None:
    async with Simulator() as sim, aiohttp.ClientSession() as session:
        async with session.post(
            f"{sim.url}/_sim/vehicles/veh-polestar-2", json={"plugged_in": False}
        ) as response:
            assert response.status == 200
        assert sim.volteras.vehicles["veh-polestar-2"].charging is False
