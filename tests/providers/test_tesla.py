"""The Tesla provider on its own: parsing, error mapping, region, waking, command outcomes.

The client talks HTTP to the simulator's Tesla surface with a token from its OAuth server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tesla_fleet_api import exceptions as tesla

from custom_components.ev_cloud.model import (
    ChargingState,
    Command,
    CommandStatus,
    CommandType,
    ConnectionStatus,
    FailureReason,
)
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.errors import (
    AuthenticationError,
    CommandFailedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    VehicleUnavailableError,
)
from custom_components.ev_cloud.providers.tesla import TeslaClient, parse
from custom_components.ev_cloud.providers.tesla.errors import (
    WrongRegionError,
    provider_call,
    translate,
)
from custom_components.ev_cloud.providers.tesla.failures import failure_reason
from simulator import Simulator

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
RED, BLUE = "5YJ3E7EB7KF000101", "7SAYGDEE5PF000202"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[Simulator]:
    """The simulator, cars waking quickly."""
    async with Simulator(command_delay=0.0) as simulator:
        for car in simulator.tesla.cars.values():
            car.wake_delay = 0.05
        register(simulator)
        yield simulator


def register(sim: Simulator, public_key: str = "04" + "11" * 64) -> None:
    """The app's partner registration, done once in Tesla's world before any owner's call."""
    sim.tesla.register_partner("sim-oauth-client", "ev.example.com", public_key)


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """The session a caller would inject."""
    async with aiohttp.ClientSession() as http:
        yield http


def client_for(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path, token: str | None = None
) -> TeslaClient:
    """A client with a simulator-issued token (or the given one)."""
    access = (
        token
        or sim.oauth.issue_tokens("sim-oauth-client", "openid vehicle_location")["access_token"]
    )

    async def access_token() -> str:
        return access

    return TeslaClient(
        session,
        ClientConfig(base_url=sim.url, client_id="c", client_secret="s", access_token=access_token),
        key_path=str(tmp_path / "keys" / "tesla.pem"),
        wake_timeout=1.0,
        wake_poll=0.05,
    )


async def test_reads_cars_and_location_with_the_scope(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    client = client_for(sim, session, tmp_path)
    identity = await client.async_identify()
    assert identity.unique_id == "sim-account"
    cars = {car.vin: car for car in await client.async_get_vehicles()}
    assert cars[RED].model == "Model 3"
    assert cars[BLUE].model == "Model Y"
    state = await client.async_get_state(cars[RED])
    assert state.latitude is not None
    assert state.charge_limit_range is not None
    assert (state.charge_limit_range.minimum, state.charge_limit_range.maximum) == (50, 100)
    assert client.public_key is not None  # the signing key was made for the signed car
    asleep = await client.async_get_state(cars[BLUE])
    assert asleep.asleep
    assert asleep.battery_level is None
    assert sim.tesla.meter == {"data": 1}


async def test_wake_up_command_and_time_out(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    client = client_for(sim, session, tmp_path)
    cars = {car.vin: car for car in await client.async_get_vehicles()}
    done = await client.async_send_command(cars[BLUE], Command(type=CommandType.WAKE_UP))
    assert done.status is CommandStatus.EXECUTED
    assert sim.tesla.cars[BLUE].online
    sim.tesla.cars[BLUE].online = False
    sim.tesla.cars[BLUE].wake_delay = 60
    with pytest.raises(VehicleUnavailableError) as err:
        await client.async_send_command(cars[BLUE], Command(type=CommandType.WAKE_UP))
    assert err.value.code == "wake_timeout"


async def test_command_arguments_and_outcomes(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    client = client_for(sim, session, tmp_path)
    cars = {car.vin: car for car in await client.async_get_vehicles()}
    blue = cars[BLUE]
    with pytest.raises(InvalidInputError):
        await client.async_send_command(blue, Command(type=CommandType.SET_CHARGE_LIMIT))
    with pytest.raises(InvalidInputError):
        await client.async_send_command(blue, Command(type=CommandType.SET_TEMPERATURE))
    temps = await client.async_send_command(
        blue, Command(type=CommandType.SET_TEMPERATURE, value=22.5)
    )
    assert temps.status is CommandStatus.EXECUTED
    assert sim.tesla.cars[BLUE].driver_temp_setting == 22.5
    same = await client.async_send_command(
        blue, Command(type=CommandType.SET_CHARGE_LIMIT, value=80)
    )
    assert (same.status, same.failed_reason) == (CommandStatus.EXECUTED, "already_set")
    refused = await client.async_send_command(blue, Command(type=CommandType.START_CHARGING))
    assert (refused.status, refused.failed_reason) == (CommandStatus.FAILED, "disconnected")
    assert await client.async_get_command_execution(blue, refused) is refused


async def test_tokens_that_name_no_account(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(AuthenticationError):
        await client_for(sim, session, tmp_path, token="not-a-jwt").async_identify()
    import jwt

    nobody = jwt.encode({"scp": []}, "k" * 32, algorithm="HS256")
    with pytest.raises(AuthenticationError):
        await client_for(sim, session, tmp_path, token=nobody).async_identify()


async def test_production_server_follows_the_token_region(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """On Tesla's own servers the token's `ou_code` picks the regional server."""
    import jwt

    token = jwt.encode({"sub": "x", "ou_code": "EU", "scp": []}, "k" * 32, algorithm="HS256")

    async def access_token() -> str:
        return token

    client = TeslaClient(
        session,
        ClientConfig(
            base_url="https://fleet-api.prd.na.vn.cloud.tesla.com",
            client_id="c",
            client_secret="s",
            access_token=access_token,
        ),
    )
    await client.async_identify()
    assert client._api.server == "https://fleet-api.prd.eu.vn.cloud.tesla.com"


def test_client_needs_a_token() -> None:
    with pytest.raises(ValueError, match="OAuth"):
        TeslaClient(
            None,  # type: ignore[arg-type]
            ClientConfig(base_url="http://x", client_id="c", client_secret="s"),
        )


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (tesla.VehicleOffline(), VehicleUnavailableError, "vehicle_asleep"),
        (tesla.RateLimited({"reset": "42", "after": None}), RateLimitedError, "rate_limited"),
        (tesla.LoginRequired(), AuthenticationError, "login_required"),
        (tesla.OAuthExpired(), TransientError, "token_refused"),
        (tesla.Forbidden(), PermissionDeniedError, "Forbidden"),
        (tesla.MobileAccessDisabled(), PermissionDeniedError, "MobileAccessDisabled"),
        (tesla.NotOnWhitelistFault(), CommandFailedError, "key_not_paired"),
        (tesla.InvalidRegion(), WrongRegionError, "invalid_region"),
        (tesla.NotFound(), NotFoundError, "not_found"),
        (tesla.InvalidCommand(), InvalidInputError, "InvalidCommand"),
        (tesla.InternalServerError(), TransientError, "InternalServerError"),
    ],
)
def test_library_errors_become_provider_errors(
    error: tesla.TeslaFleetError, expected: type[Exception], code: str
) -> None:
    translated = translate(error)
    assert type(translated) is expected
    assert translated.code == code


def test_rate_limit_reset_is_the_fallback() -> None:
    translated = translate(tesla.RateLimited({"reset": "42", "after": None}))
    assert isinstance(translated, RateLimitedError)
    assert translated.retry_after == 42
    assert translate(tesla.RateLimited("x")).retry_after is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "raised",
    [
        tesla.LibraryError(),
        TimeoutError(),
        aiohttp.ClientConnectionError(),
        FileNotFoundError(),
    ],
)
async def test_provider_call_wraps_everything_else(raised: BaseException) -> None:
    async def fail() -> None:
        raise raised

    with pytest.raises(TransientError):
        await provider_call(fail())


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("already_set", FailureReason.ALREADY_IN_STATE),
        ("disconnected", FailureReason.NOT_PLUGGED_IN),
        ("GENERICERROR_CLOSURES_OPEN", FailureReason.REJECTED),
        ("something new", FailureReason.REJECTED),
        (None, FailureReason.UNKNOWN),
    ],
)
def test_failure_reasons(code: str | None, reason: FailureReason) -> None:
    assert failure_reason(code) is reason


def charge(**fields: Any) -> dict[str, Any]:
    """A vehicle_data answer with this charge_state."""
    return {"response": {"charge_state": fields}}


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"charging_state": "Disconnected"}, ConnectionStatus.DISCONNECTED),
        (
            {
                "charging_state": "Charging",
                "fast_charger_present": True,
                "fast_charger_type": "Combo",
            },
            ConnectionStatus.CONNECTED_DC,
        ),
        (
            {
                "charging_state": "Charging",
                "fast_charger_present": True,
                "fast_charger_type": "ACSingleWireCAN",
            },
            ConnectionStatus.CONNECTED_AC,
        ),
        (
            {"charging_state": "Stopped", "fast_charger_present": False},
            ConnectionStatus.CONNECTED_AC,
        ),
        ({"charging_state": "Stopped"}, None),
        ({"conn_charge_cable": "<invalid>"}, None),
    ],
)
def test_connection_status(fields: dict[str, Any], status: ConnectionStatus | None) -> None:
    assert parse.vehicle_state(charge(**fields), NOW).connection_status is status


def test_odd_values_become_none() -> None:
    state = parse.vehicle_state(
        charge(
            charging_state="Charging",
            battery_level=float("inf"),
            charge_energy_added=10**400,
            time_to_full_charge=1.5,
            charge_limit_soc_min=100,
            charge_limit_soc_max=50,
            charge_port_door_open="yes",
        ),
        NOW,
    )
    assert state.charging_state is ChargingState.CHARGING
    assert state.battery_level is None
    assert state.energy_added_kwh is None
    assert state.full_at is not None
    assert state.charge_limit_range is None
    assert state.charge_port_open is None


@pytest.mark.parametrize("body", [None, [], {"response": None}, {"response": []}])
def test_malformed_vehicle_data(body: Any) -> None:
    with pytest.raises(TransientError):
        parse.vehicle_state(body, NOW)


def test_products() -> None:
    with pytest.raises(TransientError):
        parse.product_response({"response": {}})
    assert parse.vehicle_info({"vin": "short"}) is None
    assert parse.vehicle_info({"energy_site_id": 1}) is None
    info, signed = parse.vehicle_info({"vin": RED, "id": None, "display_name": ""}) or (None, None)
    assert info is not None
    assert (info.id, info.name, signed) == (RED, None, False)
    assert not parse.vehicle_online({"response": {"state": "offline"}})
    assert not parse.vehicle_online("garbage")


async def test_expired_signature_is_signed_again_once(
    socket_enabled: None, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The car's clock runs ahead: the first signature is refused as expired, the retry works."""
    now = [datetime.now(UTC)]
    async with Simulator(command_delay=0.0, now=lambda: now[0]) as sim:
        register(sim)
        client = client_for(sim, session, tmp_path)
        red = next(car for car in await client.async_get_vehicles() if car.vin == RED)
        assert red.key_paired is False
        assert client.public_key is not None
        register(sim, client.public_key)
        sim.pair_tesla_key(RED, "ev.example.com")
        first = await client.async_send_command(red, Command(type=CommandType.CLIMATE_ON))
        assert first.status is CommandStatus.EXECUTED
        now[0] += timedelta(minutes=1)
        again = await client.async_send_command(
            red, Command(type=CommandType.SET_CHARGE_LIMIT, value=85)
        )
        assert again.status is CommandStatus.EXECUTED
        assert sim.tesla.cars[RED].charge_limit_soc == 85
        assert (await client.async_get_vehicles())[0].key_paired is True


async def test_pairing_check_failing_does_not_hide_the_cars(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """`fleet_status` is advisory: when it fails, the cars are listed, pairing unknown."""
    sim.faults.set("server_error", path="/fleet_status")
    cars = await client_for(sim, session, tmp_path).async_get_vehicles()
    assert {car.vin for car in cars} == {RED, BLUE}
    assert all(car.key_paired is None for car in cars)


async def test_malformed_answers_are_passing_errors(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A body the library cannot parse becomes a provider error, never another exception."""
    sim.faults.set("malformed", path="/products")
    with pytest.raises(TransientError):
        await client_for(sim, session, tmp_path).async_get_vehicles()


async def test_two_commands_to_a_sleeping_car_wake_it_once(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Climate and lock at the same moment: one wake-up billed, both commands carried out."""
    client = client_for(sim, session, tmp_path)
    blue = next(car for car in await client.async_get_vehicles() if car.vin == BLUE)
    sim.tesla.cars[BLUE].wake_delay = 0.2
    results = await asyncio.gather(
        client.async_send_command(blue, Command(type=CommandType.CLIMATE_ON)),
        client.async_send_command(blue, Command(type=CommandType.LOCK_DOORS)),
    )
    assert all(result.status is CommandStatus.EXECUTED for result in results)
    assert sim.tesla.meter["wake"] == 1
    assert sim.tesla.cars[BLUE].climate_on


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"scheduled_charging_start_time": 1_764_007_200}, True),
        (
            {"scheduled_charging_start_time": 1_764_007_200, "scheduled_charging_pending": False},
            False,
        ),
        ({"scheduled_charging_start_time": 1_600_000_000}, False),
        ({"scheduled_charging_start_time": "soon"}, False),
        ({"scheduled_charging_start_time": 10**20}, False),
        ({}, False),
    ],
)
def test_scheduled_charging_start(fields: dict[str, Any], expected: bool) -> None:
    """A start ahead (within a day) is a charging window; anything else is none."""
    fetched = datetime.fromtimestamp(1_764_007_200 - 3600, UTC)
    state = parse.vehicle_state(charge(**fields), fetched)
    assert (state.scheduled_charge_at is not None) is expected
