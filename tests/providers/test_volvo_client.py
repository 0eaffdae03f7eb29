"""The Volvo client against the simulator's Volvo surface, over real HTTP on 127.0.0.1.

Tokens come from the simulator's OAuth server for the Volvo app (`sim-volvo-client`); the API key
is the simulator's. The simulator plays the four cars of docs volvo-contract.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
import socket
from typing import Any

import aiohttp
import jwt
import pytest

from custom_components.ev_cloud.model import (
    Capability,
    ChargingState,
    Command,
    CommandExecution,
    CommandStatus,
    CommandType,
    ConnectionStatus,
    VehicleInfo,
    log_hash,
)
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.errors import (
    ApiKeyRejectedError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from custom_components.ev_cloud.providers.volvo import SPEC, VolvoClient, parse
from custom_components.ev_cloud.providers.volvo.const import SCOPES
from custom_components.ev_cloud.providers.volvo.errors import OutcomeUnknownError
from simulator import Simulator
from simulator.oauth import SIGNING_KEY
from simulator.volvo.fleet import API_KEY, Quota

from .conftest import Clock

EX30, XC40, XC60, XC90 = (
    "YV1XZEFV8R2000001",
    "YV1XZK9V5R2000002",
    "YV1UZL1V1L1000003",
    "YV4A22PK7K1000004",
)
ALL_SCOPES = " ".join(SCOPES)
LOCK = Command(type=CommandType.LOCK_DOORS)
UNLOCK = Command(type=CommandType.UNLOCK_DOORS)
CLIMATE_ON = Command(type=CommandType.CLIMATE_ON)


def commands_of(info: VehicleInfo) -> frozenset[Capability]:
    """What the car's commands allow; the charger type comes with its energy readings."""
    return info.capabilities - {Capability.CHARGER_TYPE}


class Tokens:
    """The access-token callable Home Assistant gives the client; counts its calls."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        return self.token


def issue(sim: Simulator, scopes: str = ALL_SCOPES) -> str:
    token: str = sim.oauth.issue_tokens("sim-volvo-client", scopes)["access_token"]
    return token


def make_client(
    sim: Simulator,
    session: aiohttp.ClientSession,
    clock: Clock,
    *,
    token: str | None = None,
    api_key: str = API_KEY,
    scopes: str = ALL_SCOPES,
    extra: dict[str, str] | None = None,
    base_url: str | None = None,
    **options: Any,
) -> VolvoClient:
    config = ClientConfig(
        base_url=base_url or sim.url,
        client_id="sim-volvo-client",
        client_secret="sim-volvo-secret",
        access_token=Tokens(token or issue(sim, scopes)),
        extra=extra,
    )
    return VolvoClient(session, config, api_key, now=clock, **options)


@pytest.fixture
async def client(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> AsyncGenerator[VolvoClient]:
    volvo = make_client(simulator, session, clock)
    yield volvo
    await volvo.async_close()
    await simulator.volvo.commands_done()


async def cars(client: VolvoClient) -> dict[str, VehicleInfo]:
    return {car.key: car for car in await client.async_get_vehicles()}


def requests(sim: Simulator) -> list[tuple[str, str]]:
    return list(sim.volvo.request_log)


# --- identity and fleet ------------------------------------------------------------------------


async def test_identify_reads_the_token_subject(client: VolvoClient, simulator: Simulator) -> None:
    identity = await client.async_identify()
    assert identity.unique_id == "sim-volvo-account"
    assert identity.title == f"Volvo account {log_hash('sim-volvo-account')}"
    assert requests(simulator) == []  # the JWT tells; no HTTP


async def test_identify_refuses_a_token_that_is_no_jwt(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, token="opaque-token")
    with pytest.raises(AuthenticationError):
        await client.async_identify()
    nameless = jwt.encode({"scp": []}, "k" * 32, algorithm="HS256")
    with pytest.raises(AuthenticationError):
        await make_client(simulator, session, clock, token=nameless).async_identify()


async def test_fleet(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await client.async_get_volvo_vehicles()
    by_vin = {car.info.key: car for car in fleet}
    assert list(by_vin) == [EX30, XC40, XC60, XC90]
    assert {vin: (car.info.model, car.info.model_year) for vin, car in by_vin.items()} == {
        EX30: ("EX30", "2024"),
        XC40: ("XC40", "2024"),
        XC60: ("XC60", "2020"),
        XC90: ("XC90", "2019"),
    }
    both = {Capability.CLIMATE_CONTROL, Capability.DOOR_LOCK_CONTROL}
    # AC or DC comes with the Energy API's charger connection, which the petrol XC90 lacks.
    assert {
        vin for vin, car in by_vin.items() if Capability.CHARGER_TYPE in car.info.capabilities
    } == {EX30, XC40, XC60}
    for car in fleet:
        assert car.info.make == "Volvo"
        assert car.info.id == car.info.vin == car.info.key
        assert commands_of(car.info) == both
    # The petrol car has no Energy API: no energy entity is due, none is read.
    assert not by_vin[XC90].energy_api
    assert not parse.ALL_ENERGY_FIELDS & by_vin[XC90].supported_fields
    assert {"battery_level", "range", "charging_state"} <= by_vin[XC90].info.unsupported
    assert not {"door_lock", "odometer", "location"} & by_vin[XC90].info.unsupported
    # The plug-in hybrid reports three energy resources.
    assert by_vin[XC60].supported_fields & parse.ALL_ENERGY_FIELDS == {
        "connection_status",
        "plugged_in",
        "charging_state",
        "charging",
        "charge_limit",
    }
    assert by_vin[EX30].supported_fields >= parse.ALL_ENERGY_FIELDS | parse.LOCATION_FIELDS
    assert client.supported_fields(by_vin[XC60].info) == by_vin[XC60].supported_fields
    # One list call, then details, commands and energy capabilities per car.
    assert len(requests(simulator)) == 1 + 3 * 4
    assert client.request_count == 13


async def test_scopes_without_lock_or_location(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    scopes = " ".join(s for s in SCOPES if s not in {"conve:lock", "location:read"})
    client = make_client(simulator, session, clock, scopes=scopes)
    fleet = {car.info.key: car for car in await client.async_get_volvo_vehicles()}
    assert commands_of(fleet[EX30].info) == {Capability.CLIMATE_CONTROL}
    assert not parse.LOCATION_FIELDS & fleet[EX30].supported_fields
    before = len(requests(simulator))
    state = await client.async_get_state(fleet[EX30].info)
    assert state.latitude is None
    assert len(requests(simulator)) - before == 3  # energy, doors, odometer: no location


async def test_scopes_from_the_entry(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """An entry that stored the granted scopes overrides what the token says."""
    client = make_client(simulator, session, clock, extra={"scope": "openid conve:lock"})
    fleet = {car.info.key: car for car in await client.async_get_volvo_vehicles()}
    assert commands_of(fleet[EX30].info) == frozenset()
    assert not parse.LOCATION_FIELDS & fleet[EX30].supported_fields


async def test_token_without_scope_claim_tries_everything(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    real = issue(simulator)
    claims = jwt.decode(real, options={"verify_signature": False})
    # The simulator knows tokens by their text: register the scope-less one as issued.
    claims.pop("scp")
    bare = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
    simulator.oauth.access_tokens[bare] = simulator.oauth.access_tokens[real]
    client = make_client(simulator, session, clock, token=bare)
    fleet = {car.info.key: car for car in await client.async_get_volvo_vehicles()}
    assert commands_of(fleet[EX30].info) == {
        Capability.CLIMATE_CONTROL,
        Capability.DOOR_LOCK_CONTROL,
    }
    assert fleet[EX30].supported_fields >= parse.LOCATION_FIELDS


async def test_a_car_whose_parts_fail_is_still_listed(
    client: VolvoClient, simulator: Simulator
) -> None:
    first = await cars(client)
    simulator.faults.set("server_error", path=f"/vehicles/{XC60}", count=3)
    again = await cars(client)
    assert list(again) == [EX30, XC40, XC60, XC90]
    # What was known before stays: capabilities do not flicker with a failed read.
    assert again[XC60] == first[XC60]
    simulator.faults.clear()

    fresh = make_client(simulator, client._session, Clock())
    simulator.faults.set("server_error", path=f"/vehicles/{XC60}", count=3)
    listed = await cars(fresh)
    assert list(listed) == [EX30, XC40, XC60, XC90]
    assert listed[XC60].model is None
    assert commands_of(listed[XC60]) == frozenset()
    assert listed[EX30].model == "EX30"


async def test_vehicle_list_failure_fails_the_fleet(
    client: VolvoClient, simulator: Simulator
) -> None:
    simulator.faults.set("malformed", path="/connected-vehicle/v2/vehicles", count=1)
    with pytest.raises(TransientError):
        await client.async_get_vehicles()


# --- state -------------------------------------------------------------------------------------


async def test_state_of_the_parked_ex30(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    before = len(requests(simulator))
    reading = await client.async_read(fleet[EX30])
    state = reading.state
    assert len(requests(simulator)) - before == 4
    assert state.battery_level == 38
    assert state.range_km == 90
    assert state.connection_status is ConnectionStatus.DISCONNECTED
    assert state.plugged_in is False
    assert state.charging_state is ChargingState.DISCONNECTED
    assert state.charging is False
    assert state.charge_limit == 90
    assert state.charging_current_limit_a == 32
    assert state.charging_power_kw is None
    assert state.locked is True
    assert state.odometer_km == 12_480
    assert state.latitude == pytest.approx(57.7089)
    assert state.longitude == pytest.approx(11.9746)
    assert state.reported_at is not None
    assert reading.errored == {"charging_power_kw"}


async def test_state_of_the_charging_xc40(
    client: VolvoClient, simulator: Simulator, clock: Clock
) -> None:
    fleet = await cars(client)
    state = await client.async_get_state(fleet[XC40])
    assert state.connection_status is ConnectionStatus.CONNECTED_AC
    assert state.plugged_in is True
    assert state.charging_state is ChargingState.CHARGING
    assert state.charging is True
    assert state.charging_power_kw == pytest.approx(11.0)
    assert state.battery_level == pytest.approx(53.0)
    # 138 mi (53 % of 260) in km.
    assert state.range_km == pytest.approx(138 * 1.609344)
    assert state.full_at is not None
    assert state.full_at > clock.now
    tokens = client._token
    assert isinstance(tokens, Tokens)
    clock.advance(3000)
    later = await client.async_get_state(fleet[XC40])
    assert later.battery_level is not None
    assert later.battery_level > 53
    clock.advance(5 * 3600)
    tokens.token = issue(simulator)  # Home Assistant refreshed it meanwhile
    done = await client.async_get_state(fleet[XC40])
    assert done.charging_state is ChargingState.COMPLETE
    assert done.charging is False
    assert done.full_at is None


async def test_phev_missing_fields_are_none_and_errored(client: VolvoClient) -> None:
    fleet = await cars(client)
    reading = await client.async_read(fleet[XC60])
    state = reading.state
    assert state.battery_level is None
    assert state.range_km is None
    assert state.charging_power_kw is None
    assert state.connection_status is ConnectionStatus.DISCONNECTED
    assert state.charging_state is ChargingState.DISCONNECTED
    assert state.charge_limit == 80
    assert reading.errored == {
        "battery_level",
        "range_km",
        "charging_power_kw",
        "charging_current_limit_a",
        "full_at",
    }
    assert state.failed == {
        "battery_level",
        "range",
        "charging_power",
        "charging_current_limit",
        "time_to_full",
    }
    assert fleet[XC60].unsupported == state.failed


async def test_petrol_car_reads_no_energy(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    before = len(requests(simulator))
    reading = await client.async_read(fleet[XC90])
    assert len(requests(simulator)) - before == 3
    assert not any("/energy/" in path for _, path in requests(simulator)[before:])
    assert reading.state.battery_level is None
    assert reading.state.odometer_km == 104_220
    assert reading.errored == frozenset()


async def test_state_before_the_fleet_was_read(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """A car not yet known (a restart before the fleet refresh): everything is asked."""
    client = make_client(simulator, session, clock)
    info = VehicleInfo(id=XC90, vin=XC90, make="Volvo")
    assert client.supported_fields(info) is None
    reading = await client.async_read(info)
    assert reading.errored == parse.ALL_ENERGY_FIELDS  # all NOT_SUPPORTED
    assert reading.state.locked is True


async def test_one_failed_read_makes_only_its_fields_unavailable(
    client: VolvoClient, simulator: Simulator
) -> None:
    fleet = await cars(client)
    simulator.faults.set("server_error", path="/doors", count=1)
    reading = await client.async_read(fleet[EX30])
    assert reading.state.locked is None
    assert reading.state.battery_level == 38
    assert "locked" in reading.errored
    assert reading.state.failed == {"door_lock", "charging_power"}
    assert reading.failed_parts == {"doors"}


async def test_every_read_failing_fails_the_poll(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    simulator.faults.set("server_error", path=EX30)
    with pytest.raises(TransientError):
        await client.async_get_state(fleet[EX30])
    simulator.faults.clear()
    simulator.faults.set("malformed", path=EX30)
    with pytest.raises(TransientError, match="Malformed"):
        await client.async_get_state(fleet[EX30])


async def test_unknown_car_is_not_found(client: VolvoClient) -> None:
    ghost = VehicleInfo(id="YV1XXXXXXXX999999", vin="YV1XXXXXXXX999999", make="Volvo")
    with pytest.raises(NotFoundError):
        await client.async_get_state(ghost)


async def test_refused_location_is_not_asked_again(
    client: VolvoClient, simulator: Simulator
) -> None:
    fleet = await cars(client)
    simulator.faults.set("forbidden", path="/location/")
    first = await client.async_read(fleet[EX30])
    assert first.state.latitude is None
    assert {"latitude", "longitude"} <= first.errored
    before = len(requests(simulator))
    second = await client.async_read(fleet[EX30])
    assert len(requests(simulator)) - before == 3
    assert {"latitude", "longitude"} <= second.errored
    simulator.faults.clear()
    await cars(client)  # a fleet refresh asks again
    third = await client.async_read(fleet[EX30])
    assert third.state.latitude is not None


async def test_token_fetched_before_every_request(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock)
    fleet = await cars(client)
    await client.async_get_state(fleet[EX30])
    tokens = client._token
    assert isinstance(tokens, Tokens)
    # One per request, plus the scope check of the fleet refresh.
    assert tokens.calls == client.request_count + 1


# --- refusals ----------------------------------------------------------------------------------


async def test_wrong_api_key(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, api_key="not-the-key")
    with pytest.raises(ApiKeyRejectedError) as err:
        await client.async_get_vehicles()
    assert not isinstance(err.value, AuthenticationError)
    assert err.value.code == "invalid_api_key"
    info = VehicleInfo(id=EX30, vin=EX30, make="Volvo")
    with pytest.raises(ApiKeyRejectedError):
        await client.async_get_state(info)
    with pytest.raises(ApiKeyRejectedError):
        await client.async_send_command(info, LOCK)


async def test_spec_passes_the_key_from_extra(
    simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    token = issue(simulator)
    config = ClientConfig(
        base_url=simulator.url,
        client_id="sim-volvo-client",
        client_secret="",
        access_token=Tokens(token),
        extra={"api_key": API_KEY},
    )
    client = SPEC.create_client(session, config)
    assert isinstance(client, VolvoClient)
    assert len(await client.async_get_vehicles()) == 4
    keyless = SPEC.create_client(session, ClientConfig(**{**config.__dict__, "extra": None}))
    with pytest.raises(ApiKeyRejectedError):
        await keyless.async_get_vehicles()
    with pytest.raises(ValueError, match="token"):
        VolvoClient(session, ClientConfig(base_url="x", client_id="", client_secret=""), API_KEY)


async def test_refused_token_is_transient(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    token = issue(simulator)
    client = make_client(simulator, session, clock, token=token)
    simulator.oauth.revoke_tokens()
    with pytest.raises(TransientError) as err:
        await client.async_get_vehicles()
    assert err.value.code == "token_refused"
    assert not isinstance(err.value, AuthenticationError)


async def test_refused_token_fault_stops_the_poll(
    client: VolvoClient, simulator: Simulator
) -> None:
    fleet = await cars(client)
    simulator.faults.set("unauthorized", path="/doors", count=1)
    with pytest.raises(TransientError) as err:
        await client.async_get_state(fleet[EX30])
    assert err.value.code == "token_refused"


async def test_rate_limit_fault_with_retry_after(client: VolvoClient, simulator: Simulator) -> None:
    simulator.faults.set("rate_limited", path="/connected-vehicle/", retry_after=17, count=1)
    with pytest.raises(RateLimitedError) as err:
        await client.async_get_vehicles()
    assert err.value.retry_after == 17


async def test_quota_answers_429_with_retry_after(
    client: VolvoClient, simulator: Simulator, clock: Clock
) -> None:
    fleet = await cars(client)
    simulator.volvo.general_quota = Quota(limit=5)
    await client.async_get_state(fleet[EX30])  # 4 calls
    clock.advance(20)
    with pytest.raises(RateLimitedError) as err:
        await client.async_get_state(fleet[EX30])  # the 6th call is refused: the poll stops
    assert err.value.retry_after == 40
    assert err.value.code == "rate_limited"
    clock.advance(41)
    await client.async_get_state(fleet[EX30])


async def test_read_time_out(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, request_timeout=0.1)
    simulator.faults.set("timeout", path="/connected-vehicle/v2/vehicles", delay=1.0, count=1)
    with pytest.raises(OutcomeUnknownError) as err:
        await client.async_get_vehicles()
    assert isinstance(err.value, TransientError)
    assert err.value.code == "timeout"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError) as err:
        await client.async_get_vehicles()
    assert err.value.code == "unreachable"
    assert not isinstance(err.value, OutcomeUnknownError)
    # A command that could not even connect was not sent: a plain error, not "maybe".
    info = VehicleInfo(id=EX30, vin=EX30, make="Volvo")
    with pytest.raises(TransientError) as sent:
        await client.async_send_command(info, LOCK)
    assert not isinstance(sent.value, OutcomeUnknownError)


# --- commands ----------------------------------------------------------------------------------


async def test_quick_command_settles_at_once(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    done = await client.async_send_command(fleet[EX30], UNLOCK)
    assert (done.status, done.failed_reason) == (CommandStatus.EXECUTED, None)
    assert simulator.volvo.cars[EX30].locked is False
    assert ("POST", "/connected-vehicle/v2/vehicles/{vin}/commands/unlock") in requests(simulator)
    assert await client.async_get_command_execution(fleet[EX30], done) == done
    climate = await client.async_send_command(fleet[EX30], CLIMATE_ON)
    assert climate.status is CommandStatus.EXECUTED
    assert simulator.volvo.cars[EX30].climate_on
    off = await client.async_send_command(fleet[EX30], Command(type=CommandType.CLIMATE_OFF))
    assert off.status is CommandStatus.EXECUTED
    assert not simulator.volvo.cars[EX30].climate_on


async def test_slow_command_pending_then_executed(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, answer_wait=0.1)
    fleet = await cars(client)
    simulator.volvo.cars[EX30].command_delay = 0.5
    pending = await client.async_send_command(fleet[EX30], UNLOCK)
    assert pending.status is CommandStatus.PENDING
    assert pending.id
    assert pending.timeout is not None
    assert 160 < pending.timeout <= SPEC.command_timeout
    again = await client.async_get_command_execution(fleet[EX30], pending)
    assert again.status is CommandStatus.PENDING
    assert simulator.volvo.cars[EX30].locked is True
    await asyncio.sleep(0.6)
    done = await client.async_get_command_execution(fleet[EX30], pending)
    assert (done.id, done.status, done.failed_reason) == (pending.id, CommandStatus.EXECUTED, None)
    assert simulator.volvo.cars[EX30].locked is False


async def test_timed_out_lock_confirmed_by_the_doors(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """The client hangs up before Volvo answers; the car unlocks anyway, the doors say so."""
    client = make_client(simulator, session, clock, command_http_timeout=0.1, answer_wait=1.0)
    fleet = await cars(client)
    simulator.volvo.cars[EX30].command_delay = 0.5
    pending = await client.async_send_command(fleet[EX30], UNLOCK)
    # The POST timed out, the doors still show locked: not failed, pending.
    assert pending.status is CommandStatus.PENDING
    await simulator.volvo.commands_done()
    done = await client.async_get_command_execution(fleet[EX30], pending)
    assert (done.status, done.failed_reason) == (CommandStatus.EXECUTED, None)
    assert simulator.volvo.cars[EX30].locked is False


async def test_timed_out_lock_fails_only_after_its_deadline(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(
        simulator,
        session,
        clock,
        command_http_timeout=0.1,
        answer_wait=1.0,
        command_timeout=0.4,
    )
    fleet = await cars(client)
    car = simulator.volvo.cars[EX30]
    car.command_delay = 0.2
    car.next_invoke_status = "REJECTED"  # the car will not unlock
    pending = await client.async_send_command(fleet[EX30], UNLOCK)
    assert pending.status is CommandStatus.PENDING
    await asyncio.sleep(0.4)
    failed = await client.async_get_command_execution(fleet[EX30], pending)
    assert (failed.status, failed.failed_reason) == (CommandStatus.FAILED, "timeout")
    assert car.locked is True


async def test_timed_out_climate_is_executed_unconfirmed(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, command_http_timeout=0.1)
    fleet = await cars(client)
    simulator.volvo.cars[EX30].command_delay = 0.3
    sent = await client.async_send_command(fleet[EX30], CLIMATE_ON)
    assert (sent.status, sent.failed_reason) == (CommandStatus.EXECUTED, "UNCONFIRMED")
    await simulator.volvo.commands_done()
    assert simulator.volvo.cars[EX30].climate_on


@pytest.mark.parametrize(
    "status",
    [
        "REJECTED",
        "CAR_ERROR",
        "VEHICLE_IN_SLEEP",
        "CONNECTION_FAILURE",
        "NOT_ALLOWED_PRIVACY_ENABLED",
        "NOT_ALLOWED_WRONG_USAGE_MODE",
        "TIMEOUT",
    ],
)
async def test_refusals_fail_with_volvo_word(
    client: VolvoClient, simulator: Simulator, status: str
) -> None:
    fleet = await cars(client)
    simulator.volvo.cars[EX30].next_invoke_status = status
    failed = await client.async_send_command(fleet[EX30], UNLOCK)
    assert (failed.status, failed.failed_reason) == (CommandStatus.FAILED, status)
    assert simulator.volvo.cars[EX30].locked is True
    assert SPEC.map_failure(failed.failed_reason).value != "unknown"


async def test_volvo_timeout_but_the_car_is_as_asked(
    client: VolvoClient, simulator: Simulator
) -> None:
    """TIMEOUT for a lock whose doors show it done: executed, Volvo just stopped waiting."""
    fleet = await cars(client)
    simulator.volvo.cars[EX30].next_invoke_status = "TIMEOUT"
    done = await client.async_send_command(fleet[EX30], LOCK)  # already locked
    assert done.status is CommandStatus.EXECUTED


async def test_delivered_is_success(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    simulator.volvo.cars[XC40].next_invoke_status = "DELIVERED"
    done = await client.async_send_command(fleet[XC40], UNLOCK)
    assert (done.status, done.failed_reason) == (CommandStatus.EXECUTED, "DELIVERED")


@pytest.mark.parametrize("status", ["RUNNING", "WAITING", "UNKNOWN"])
async def test_no_verdict(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock, status: str
) -> None:
    """No verdict: climatisation is trusted (no read-back), a lock waits for its doors."""
    client = make_client(simulator, session, clock, command_timeout=0.3)
    fleet = await cars(client)
    car = simulator.volvo.cars[EX30]
    car.next_invoke_status = status
    climate = await client.async_send_command(fleet[EX30], CLIMATE_ON)
    assert (climate.status, climate.failed_reason) == (CommandStatus.EXECUTED, status)
    car.next_invoke_status = status
    pending = await client.async_send_command(fleet[EX30], UNLOCK)
    assert pending.status is CommandStatus.PENDING
    # The car acts after all (its app, a late delivery): the doors confirm the unlock.
    car.locked = False
    done = await client.async_get_command_execution(fleet[EX30], pending)
    assert done.status is CommandStatus.EXECUTED
    car.next_invoke_status = status
    never = await client.async_send_command(fleet[EX30], LOCK)
    assert never.status is CommandStatus.PENDING
    await asyncio.sleep(0.35)
    failed = await client.async_get_command_execution(fleet[EX30], never)
    assert (failed.status, failed.failed_reason) == (CommandStatus.FAILED, status)


async def test_command_the_car_does_not_list(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    simulator.volvo.cars[EX30].commands = ("LOCK",)
    failed = await client.async_send_command(fleet[EX30], UNLOCK)
    assert (failed.status, failed.failed_reason) == (CommandStatus.FAILED, "NOT_SUPPORTED")
    assert SPEC.map_failure("NOT_SUPPORTED").value == "unsupported"


@pytest.mark.parametrize(
    "command_type",
    [
        t
        for t in CommandType
        if t
        not in {
            CommandType.CLIMATE_ON,
            CommandType.CLIMATE_OFF,
            CommandType.LOCK_DOORS,
            CommandType.UNLOCK_DOORS,
        }
    ],
)
async def test_commands_volvo_cannot_send(
    client: VolvoClient, simulator: Simulator, command_type: CommandType
) -> None:
    info = VehicleInfo(id=EX30, vin=EX30, make="Volvo")
    with pytest.raises(InvalidInputError):
        await client.async_send_command(info, Command(type=command_type, value=80))
    assert requests(simulator) == []


async def test_command_quota(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    simulator.volvo.command_quota = Quota(limit=1)
    await client.async_send_command(fleet[EX30], LOCK)
    with pytest.raises(RateLimitedError) as err:
        await client.async_send_command(fleet[EX30], LOCK)
    assert err.value.retry_after == 60


async def test_refusal_after_the_answer_wait_is_a_failed_execution(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """A refusal that comes after PENDING was answered is reported by the follow-up."""
    client = make_client(simulator, session, clock, answer_wait=0.05)
    fleet = await cars(client)
    simulator.volvo.cars[EX30].commands = ("LOCK",)
    simulator.faults.set("timeout", path="/commands/unlock", delay=0.2, count=1)
    pending = await client.async_send_command(fleet[EX30], UNLOCK)
    assert pending.status is CommandStatus.PENDING
    await asyncio.sleep(0.3)
    failed = await client.async_get_command_execution(fleet[EX30], pending)
    assert (failed.status, failed.failed_reason) == (CommandStatus.FAILED, "NOT_SUPPORTED")

    simulator.volvo.command_quota = Quota(limit=1)
    await client.async_send_command(fleet[EX30], LOCK)
    simulator.faults.set("timeout", path="/commands/lock", delay=0.2, count=1)
    pending = await client.async_send_command(fleet[EX30], LOCK)
    assert pending.status is CommandStatus.PENDING
    await asyncio.sleep(0.3)
    limited = await client.async_get_command_execution(fleet[EX30], pending)
    assert (limited.status, limited.failed_reason) == (CommandStatus.FAILED, "rate_limited")
    assert SPEC.map_failure(limited.failed_reason).value == "rate_limited"


async def test_server_error_with_volvo_envelope_is_a_verdict(
    client: VolvoClient, simulator: Simulator
) -> None:
    fleet = await cars(client)
    simulator.faults.set("server_error", path="/commands/unlock", count=1)
    with pytest.raises(TransientError) as err:
        await client.async_send_command(fleet[EX30], UNLOCK)
    assert not isinstance(err.value, OutcomeUnknownError)
    assert err.value.code == "server_error"


async def test_malformed_command_answer_leaves_the_outcome_open(
    client: VolvoClient, simulator: Simulator
) -> None:
    """A garbled answer: climatisation counts as sent, a lock looks at the doors."""
    fleet = await cars(client)
    simulator.faults.set("malformed", path="/commands/", count=2)
    climate = await client.async_send_command(fleet[EX30], CLIMATE_ON)
    assert (climate.status, climate.failed_reason) == (CommandStatus.EXECUTED, "UNCONFIRMED")
    lock = await client.async_send_command(fleet[EX30], LOCK)  # already locked
    assert (lock.status, lock.failed_reason) == (CommandStatus.EXECUTED, None)


async def test_unknown_execution(client: VolvoClient) -> None:
    info = VehicleInfo(id=EX30, vin=EX30, make="Volvo")
    execution = CommandExecution(
        id="nope", type=CommandType.LOCK_DOORS, status=CommandStatus.PENDING
    )
    with pytest.raises(NotFoundError):
        await client.async_get_command_execution(info, execution)


async def test_close_stops_waiting(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, answer_wait=0.05)
    fleet = await cars(client)
    simulator.volvo.cars[EX30].command_delay = 0.3
    pending = await client.async_send_command(fleet[EX30], CLIMATE_ON)
    assert pending.status is CommandStatus.PENDING
    await client.async_close()
    # Cancelled on our side only: no verdict, and climatisation has no read-back.
    after = await client.async_get_command_execution(fleet[EX30], pending)
    assert (after.status, after.failed_reason) == (CommandStatus.EXECUTED, "UNCONFIRMED")
    await simulator.volvo.commands_done()
    assert simulator.volvo.cars[EX30].climate_on


async def test_settled_executions_are_pruned(
    simulator: Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = make_client(simulator, session, clock, command_timeout=-1000.0)
    fleet = await cars(client)
    first = await client.async_send_command(fleet[EX30], LOCK)
    await client.async_send_command(fleet[EX30], LOCK)
    with pytest.raises(NotFoundError):
        await client.async_get_command_execution(fleet[EX30], first)


async def test_permission_denied_read(client: VolvoClient, simulator: Simulator) -> None:
    fleet = await cars(client)
    simulator.faults.set("forbidden", path=EX30)
    with pytest.raises(PermissionDeniedError):
        await client.async_get_state(fleet[EX30])


async def test_clock_is_used_for_readings(client: VolvoClient, clock: Clock) -> None:
    fleet = await cars(client)
    state = await client.async_get_state(fleet[EX30])
    assert state.fetched_at == clock.now
    assert state.reported_at is not None
    assert state.reported_at <= clock.now + timedelta(seconds=1)
