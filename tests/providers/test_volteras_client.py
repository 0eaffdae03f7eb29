"""The Volteras client against the simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest

from custom_components.ev_cloud.model import (
    Capability,
    ChargingState,
    Command,
    CommandStatus,
    CommandType,
    ConnectionStatus,
)
from custom_components.ev_cloud.providers.errors import (
    AuthenticationError,
    CommandFailedError,
    CommandInProgressError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TransientError,
)
from custom_components.ev_cloud.providers.volteras import VolterasClient
from custom_components.ev_cloud.providers.volteras.errors import (
    error_from_response,
    retry_after_seconds,
)
from simulator import Simulator

from .conftest import Clock

TOKEN = ("POST", "/v1/oauth2/token")


def token_requests(sim: Simulator) -> int:
    return sim.volteras.request_log.count(TOKEN)


async def vehicle(client: VolterasClient, make: str):
    return next(v for v in await client.async_get_vehicles() if v.make == make)


async def test_test_token_gives_organisation(client: VolterasClient) -> None:
    assert await client.async_test_token() == "sim-org"


async def test_token_is_reused(client: VolterasClient, simulator: Simulator) -> None:
    await client.async_test_token()
    await client.async_get_vehicles()
    assert token_requests(simulator) == 1
    assert client.request_count == 3


async def test_concurrent_callers_share_one_token_request(
    client: VolterasClient, simulator: Simulator
) -> None:
    await asyncio.gather(*(client.async_test_token() for _ in range(5)))
    assert token_requests(simulator) == 1


async def test_refresh_before_expiry(
    client: VolterasClient, simulator: Simulator, clock: Clock
) -> None:
    """Close to expiry the refresh token is used (once: Volteras's are single-use)."""
    await client.async_test_token()
    (first_refresh,) = simulator.volteras.refresh_tokens
    clock.advance(3600 - 30)
    await client.async_test_token()
    assert token_requests(simulator) == 2
    assert first_refresh not in simulator.volteras.refresh_tokens
    clock.advance(10)
    await client.async_test_token()
    assert token_requests(simulator) == 2


async def test_refused_refresh_falls_back_to_client_credentials(
    client: VolterasClient, simulator: Simulator, clock: Clock
) -> None:
    await client.async_test_token()
    simulator.volteras.revoke_tokens()
    clock.advance(3600)
    assert await client.async_test_token() == "sim-org"
    assert token_requests(simulator) == 3


async def test_revoked_token_is_renewed_once(client: VolterasClient, simulator: Simulator) -> None:
    await client.async_test_token()
    simulator.volteras.revoke_tokens()
    assert await client.async_test_token() == "sim-org"
    assert token_requests(simulator) == 2


async def test_second_401_at_a_resource_is_a_permission_error(
    client: VolterasClient, simulator: Simulator
) -> None:
    """The token endpoint granted a token, the resource still refuses it: not the credentials."""
    simulator.faults.set("unauthorized", path="/test-token")
    with pytest.raises(PermissionDeniedError):
        await client.async_test_token()
    assert simulator.volteras.request_log.count(("POST", "/v1/oauth2/test-token")) == 2


async def test_wrong_secret(
    session: aiohttp.ClientSession, simulator: Simulator, clock: Clock
) -> None:
    client = VolterasClient(
        session, client_id="sim-client", client_secret="wrong", base_url=simulator.url, now=clock
    )
    with pytest.raises(AuthenticationError) as err:
        await client.async_test_token()
    assert err.value.code == "AUTHENTICATION_ERROR"
    assert "wrong" not in str(err.value)


@pytest.mark.parametrize(
    ("kind", "params", "error", "code"),
    [
        ("internal_rate_limited", {"retry_after": 120}, RateLimitedError, "INTERNAL_RATE_LIMITED"),
        ("rate_limited", {"retry_after": 30}, RateLimitedError, "RATE_LIMITED"),
        ("server_error", {}, TransientError, "SERVER_ERROR"),
        ("malformed", {}, TransientError, None),
        ("not_found", {}, NotFoundError, "RESOURCE_NOT_FOUND"),
    ],
)
async def test_faults_map_to_errors(
    client: VolterasClient,
    simulator: Simulator,
    kind: str,
    params: dict[str, int],
    error: type[ProviderError],
    code: str | None,
) -> None:
    first = (await client.async_get_vehicles())[0]
    simulator.faults.set(kind, path="/telemetry", **params)
    with pytest.raises(error) as err:
        await client.async_get_state(first)
    assert err.value.code == code
    if isinstance(err.value, RateLimitedError):
        assert err.value.retry_after == params["retry_after"]


async def test_timeout(session: aiohttp.ClientSession, simulator: Simulator, clock: Clock) -> None:
    client = VolterasClient(
        session,
        client_id="sim-client",
        client_secret="sim-secret",
        base_url=simulator.url,
        now=clock,
        request_timeout=0.1,
    )
    simulator.faults.set("timeout", path="/test-token", delay=1.0)
    with pytest.raises(TransientError):
        await client.async_test_token()


async def test_unreachable(
    session: aiohttp.ClientSession, clock: Clock, socket_enabled: None
) -> None:
    client = VolterasClient(
        session, client_id="a", client_secret="b", base_url="http://127.0.0.1:9", now=clock
    )
    with pytest.raises(TransientError):
        await client.async_test_token()


async def test_token_endpoint_malformed(client: VolterasClient, simulator: Simulator) -> None:
    simulator.faults.set("malformed", path="/v1/oauth2/token")
    with pytest.raises(TransientError):
        await client.async_test_token()


async def test_pagination_and_account_filter(client: VolterasClient, simulator: Simulator) -> None:
    account = simulator.volteras.add_account(username="fleet@example.com")
    for index in range(150):
        simulator.volteras.add_vehicle(account_id=account, make="RENAULT", soc=float(index % 90))
    simulator.volteras.request_log.clear()
    vehicles = await client.async_get_vehicles()
    assert len(vehicles) == 153
    assert len({v.id for v in vehicles}) == 153
    assert simulator.volteras.request_log.count(("GET", "/v1/vehicles")) == 2

    only = await client.async_get_account_vehicles(account)
    assert len(only) == 150
    assert {v.account_id for v in only} == {account}


async def test_vehicle_info_and_capabilities(client: VolterasClient) -> None:
    tesla = await vehicle(client, "TESLA")
    assert tesla.model == "Model 3"
    assert tesla.account_id == "acc-sim-1"
    assert Capability.CHARGE_PORT_CONTROL in tesla.capabilities
    assert Capability.WAKE_UP not in tesla.capabilities
    volkswagen = await vehicle(client, "VOLKSWAGEN")
    assert Capability.CHARGE_PORT_CONTROL not in volkswagen.capabilities
    assert Capability.CHARGING_CONTROL in volkswagen.capabilities
    assert await client.async_get_vehicle(tesla.id) == tesla


async def test_state_while_charging(client: VolterasClient, clock: Clock) -> None:
    polestar = await vehicle(client, "POLESTAR")
    state = await client.async_get_state(polestar)
    assert state.charging is True
    assert state.plugged_in is True
    assert state.charging_state is ChargingState.CHARGING
    # Plugged in at 11 kW: AC or DC cannot be told, so the status is unknown (None), not a guess.
    assert state.connection_status is None
    assert state.battery_level == 52.0
    assert state.charge_limit == 80
    assert state.charging_power_kw == 11.0
    assert state.full_at is not None
    assert state.full_at > clock.now
    assert state.reported_at == clock.now
    assert state.fetched_at == clock.now


async def test_state_parked(client: VolterasClient) -> None:
    volkswagen = await vehicle(client, "VOLKSWAGEN")
    state = await client.async_get_state(volkswagen)
    assert state.plugged_in is False
    assert state.charging is False
    assert state.connection_status is ConnectionStatus.DISCONNECTED
    assert state.charging_power_kw == 0.0
    assert state.full_at is None
    assert state.locked is True
    assert state.latitude is not None


async def test_state_of_charge_rises_and_stops_at_limit(
    client: VolterasClient, clock: Clock
) -> None:
    polestar = await vehicle(client, "POLESTAR")
    before = (await client.async_get_state(polestar)).battery_level
    clock.advance(1800)
    middle = (await client.async_get_state(polestar)).battery_level
    assert before is not None
    assert middle is not None
    assert middle > before
    clock.advance(6 * 3600)
    state = await client.async_get_state(polestar)
    assert state.battery_level == 80
    assert state.charging_state is ChargingState.COMPLETE
    assert state.charging is False


@pytest.mark.parametrize(
    ("command", "endpoint", "body"),
    [
        (Command(type=CommandType.START_CHARGING), "start-charging", None),
        (Command(type=CommandType.STOP_CHARGING), "stop-charging", None),
        (Command(type=CommandType.OPEN_CHARGE_PORT), "open-charge-port", None),
        (Command(type=CommandType.CLOSE_CHARGE_PORT), "close-charge-port", None),
        (Command(type=CommandType.SET_CHARGE_LIMIT, value=85), "set-charge-limit", {"limit": 85}),
        (Command(type=CommandType.CLIMATE_ON), "climate-on", None),
        (Command(type=CommandType.CLIMATE_OFF), "climate-off", None),
        (
            Command(type=CommandType.SET_TEMPERATURE, value=21.5),
            "set-temperature",
            {"driverTemperature": 21.5, "passengerTemperature": 21.5},
        ),
        (Command(type=CommandType.LOCK_DOORS), "lock-doors", None),
        (Command(type=CommandType.UNLOCK_DOORS), "unlock-doors", None),
    ],
)
async def test_commands(
    client: VolterasClient,
    simulator: Simulator,
    command: Command,
    endpoint: str,
    body: dict[str, float] | None,
) -> None:
    """Each command hits its endpoint, goes PENDING, then EXECUTED."""
    tesla = await vehicle(client, "TESLA")
    execution = await client.async_send_command(tesla, command)
    assert execution.status is CommandStatus.PENDING
    assert execution.timeout == 300
    assert ("POST", f"/v1/vehicles/{{vehicle_id}}/command-execution:{endpoint}") in (
        simulator.volteras.request_log
    )
    stored = simulator.volteras.executions[execution.id or ""]
    assert stored.arguments == body
    settled = await client.async_get_command_execution(tesla, execution)
    assert settled.status is CommandStatus.EXECUTED
    assert settled.type is command.type


async def test_command_failed_reason(client: VolterasClient, simulator: Simulator) -> None:
    tesla = await vehicle(client, "TESLA")
    simulator.volteras.fail_next_command("OEM_VEHICLE_REMOTE_ACCESS_DISABLED")
    execution = await client.async_send_command(tesla, Command(type=CommandType.LOCK_DOORS))
    settled = await client.async_get_command_execution(tesla, execution)
    assert settled.status is CommandStatus.FAILED
    assert settled.failed_reason == "OEM_VEHICLE_REMOTE_ACCESS_DISABLED"


async def test_offline_vehicle_fails_command(client: VolterasClient, simulator: Simulator) -> None:
    tesla = await vehicle(client, "TESLA")
    simulator.volteras.vehicles[tesla.id].online = False
    execution = await client.async_send_command(tesla, Command(type=CommandType.CLIMATE_ON))
    settled = await client.async_get_command_execution(tesla, execution)
    assert settled.failed_reason == "OEM_VEHICLE_OFFLINE"


async def test_one_pending_command_per_type(client: VolterasClient, simulator: Simulator) -> None:
    simulator.command_delay = 60
    tesla = await vehicle(client, "TESLA")
    await client.async_send_command(tesla, Command(type=CommandType.START_CHARGING))
    with pytest.raises(CommandInProgressError) as err:
        await client.async_send_command(tesla, Command(type=CommandType.START_CHARGING))
    assert err.value.code == "COMMAND_ALREADY_IN_PROGRESS"
    # Another type is fine.
    await client.async_send_command(tesla, Command(type=CommandType.LOCK_DOORS))


async def test_pending_past_timeout_fails(
    client: VolterasClient, simulator: Simulator, clock: Clock
) -> None:
    simulator.command_delay = 10_000
    tesla = await vehicle(client, "TESLA")
    execution = await client.async_send_command(tesla, Command(type=CommandType.LOCK_DOORS))
    clock.advance(301)
    settled = await client.async_get_command_execution(tesla, execution)
    assert settled.failed_reason == "OEM_COMMAND_TIMEOUT"


@pytest.mark.parametrize(
    "command",
    [
        Command(type=CommandType.SET_CHARGE_LIMIT, value=30),
        Command(type=CommandType.SET_TEMPERATURE, value=40),
    ],
)
async def test_out_of_range_refused_by_api(client: VolterasClient, command: Command) -> None:
    tesla = await vehicle(client, "TESLA")
    with pytest.raises(InvalidInputError) as err:
        await client.async_send_command(tesla, command)
    assert err.value.code == "REQUEST_VALIDATION_ERROR"


@pytest.mark.parametrize(
    "command",
    [
        Command(type=CommandType.WAKE_UP),
        Command(type=CommandType.SET_CHARGE_LIMIT),
        Command(type=CommandType.SET_TEMPERATURE),
    ],
)
async def test_unsendable_commands(
    client: VolterasClient, simulator: Simulator, command: Command
) -> None:
    """Nothing is sent for a command Volteras lacks or one without its value."""
    tesla = await vehicle(client, "TESLA")
    simulator.volteras.request_log.clear()
    with pytest.raises(InvalidInputError):
        await client.async_send_command(tesla, command)
    assert simulator.volteras.request_log == []


async def test_unknown_vehicle(client: VolterasClient) -> None:
    tesla = await vehicle(client, "TESLA")
    with pytest.raises(NotFoundError):
        await client.async_get_vehicle("does-not-exist")
    gone = type(tesla)(id="does-not-exist", vin="X", make="TESLA")
    with pytest.raises(NotFoundError):
        await client.async_get_state(gone)


async def test_connect_account(client: VolterasClient, session: aiohttp.ClientSession) -> None:
    url = await client.async_connect_account("https://ha.example.com/cb?state=abc")
    async with session.get(f"{url}/approve", allow_redirects=False) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith("https://ha.example.com/cb?state=abc&result=success&accountId=")


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, {"error": "AUTHENTICATION_ERROR"}, AuthenticationError, "AUTHENTICATION_ERROR"),
        (403, {"error": "NOT_PERMITTED"}, CommandFailedError, "NOT_PERMITTED"),
        (400, {"error": "UNSUPPORTED_OEM"}, CommandFailedError, "UNSUPPORTED_OEM"),
        (400, {"error": "PAGE_SIZE_TOO_LARGE"}, InvalidInputError, "PAGE_SIZE_TOO_LARGE"),
        (409, {"error": "COMMAND_ALREADY_IN_PROGRESS"}, CommandInProgressError, None),
        (422, None, InvalidInputError, None),
        (502, "<html>bad gateway</html>", TransientError, None),
        (418, {"error": 7}, ProviderError, None),
    ],
)
def test_error_mapping(
    status: int, body: object, error: type[ProviderError], code: str | None
) -> None:
    mapped = error_from_response(status, body, None)
    assert type(mapped) is error
    if code:
        assert mapped.code == code
    assert "bad gateway" not in str(mapped)


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Tue, 24 Nov 2026 18:02:00 GMT", now) == 120
    assert retry_after_seconds("-5") == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
