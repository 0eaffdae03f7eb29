"""The simulated Volvo cloud over real HTTP: shapes, gateway checks, quota, commands, charging."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from simulator import Simulator
from simulator.volvo.fleet import ENERGY_KEYS, VolvoCar

API_KEY = "sim-vcc-api-key"
CLIENT = ("sim-volvo-client", "sim-volvo-secret")
EX30 = "YV1XZEFV8R2000001"
XC40 = "YV1XZK9V5R2000002"
XC60 = "YV1UZL1V1L1000003"
XC90 = "YV4A22PK7K1000004"
CV = "/connected-vehicle/v2/vehicles"
APIM_MESSAGE = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    moment: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 12, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Volvo:
    """The running simulator, a session, a signed-in token and the clock."""

    sim: Simulator
    session: aiohttp.ClientSession
    clock: Clock
    token: str

    def car(self, vin: str) -> VolvoCar:
        return self.sim.volvo.cars[vin]

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = API_KEY,
        token: str | None = None,
        give_up_after: float | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if key is not None:
            headers["vcc-api-key"] = key
        async with self.session.request(
            method,
            f"{self.sim.url}{path}",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=give_up_after),
        ) as answer:
            body = await answer.json(content_type=None) if await answer.read() else None
            return Answer(answer.status, body, dict(answer.headers))

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("GET", path, **kwargs)

    async def command(self, vin: str, name: str, **kwargs: Any) -> Answer:
        return await self.call("POST", f"{CV}/{vin}/commands/{name}", **kwargs)

    async def energy(self, vin: str) -> dict[str, Any]:
        answer = await self.get(f"/energy/v2/vehicles/{vin}/state")
        assert answer.status == 200, answer.body
        body: dict[str, Any] = answer.body
        return body


@pytest.fixture
async def volvo(socket_enabled: None) -> AsyncGenerator[Volvo]:
    clock = Clock()
    async with (
        Simulator(command_delay=0.0, now=clock, token_lifetime=30 * 86400) as sim,
        aiohttp.ClientSession() as session,
    ):
        token = sim.oauth.issue_tokens(CLIENT[0], "openid energy:state:read")["access_token"]
        yield Volvo(sim=sim, session=session, clock=clock, token=token)
        await sim.volvo.commands_done()


def ok(value: Any, unit: str | None = None) -> dict[str, Any]:
    """An OK energy resource, without its timestamp."""
    return {"status": "OK", "value": value} | ({"unit": unit} if unit else {})


def values(state: dict[str, Any]) -> dict[str, Any]:
    """The energy state without `updatedAt`, to compare."""
    return {
        key: {k: v for k, v in resource.items() if k != "updatedAt"}
        for key, resource in state.items()
    }


NOT_SUPPORTED = {
    "status": "ERROR",
    "code": "NOT_SUPPORTED",
    "message": "Resource is not supported for this vehicle",
}


async def test_connected_vehicle_shapes(volvo: Volvo) -> None:
    answer = await volvo.get(CV)
    assert answer.status == 200
    assert answer.body == {"data": [{"vin": vin} for vin in (EX30, XC40, XC60, XC90)]}

    details = (await volvo.get(f"{CV}/{EX30}")).body["data"]
    assert details["vin"] == EX30
    assert details["modelYear"] == 2024
    assert details["gearbox"] == "AUTOMATIC"
    assert details["fuelType"] == "ELECTRIC"
    assert details["batteryCapacityKWH"] == 66.0
    assert details["descriptions"]["model"] == "EX30"
    assert set(details["images"]) == {"exteriorImageUrl", "internalImageUrl"}
    assert (await volvo.get(f"{CV}/{XC40}")).body["data"]["batteryCapacityKWH"] == 79.0
    assert (await volvo.get(f"{CV}/{XC60}")).body["data"]["fuelType"] == "PETROL/ELECTRIC"
    petrol = (await volvo.get(f"{CV}/{XC90}")).body["data"]
    assert petrol["fuelType"] == "PETROL"
    assert "batteryCapacityKWH" not in petrol

    doors = (await volvo.get(f"{CV}/{EX30}/doors")).body["data"]
    assert doors["centralLock"] == {"value": "LOCKED", "timestamp": "2026-11-24T12:00:00.000Z"}
    assert doors["frontLeftDoor"]["value"] == "CLOSED"
    assert {"tailgate", "hood", "tankLid", "rearRightDoor"} <= set(doors)

    odometer = (await volvo.get(f"{CV}/{EX30}/odometer")).body["data"]["odometer"]
    assert odometer["unit"] == "km"
    assert isinstance(odometer["value"], int)
    assert odometer["timestamp"].endswith("Z")

    commands = (await volvo.get(f"{CV}/{EX30}/commands")).body["data"]
    assert [c["command"] for c in commands] == [
        "LOCK",
        "LOCK_REDUCED_GUARD",
        "UNLOCK",
        "HONK_AND_FLASH",
        "CLIMATIZATION_START",
        "CLIMATIZATION_STOP",
    ]
    assert commands[0]["href"] == f"{CV}/{EX30}/commands/lock"
    phev = {c["command"] for c in (await volvo.get(f"{CV}/{XC60}/commands")).body["data"]}
    assert "LOCK_REDUCED_GUARD" not in phev
    assert "LOCK" in phev
    classic = {
        c["command"]: c["href"] for c in (await volvo.get(f"{CV}/{XC90}/commands")).body["data"]
    }
    assert {"ENGINE_START", "ENGINE_STOP", "HONK", "FLASH", "LOCK", "UNLOCK"} <= set(classic)
    assert {"CLIMATIZATION_START", "CLIMATIZATION_STOP"} <= set(classic)
    assert classic["ENGINE_START"].endswith("/commands/engine-start")

    location = (await volvo.get(f"/location/v1/vehicles/{EX30}/location")).body["data"]
    assert location["type"] == "Feature"
    assert location["geometry"]["type"] == "Point"
    lon, lat, _alt = location["geometry"]["coordinates"]
    assert (lat, lon) == (57.7089, 11.9746)
    assert location["properties"]["heading"] == "90"
    assert location["properties"]["timestamp"] == "2026-11-24T12:00:00.000Z"


async def test_command_accessibility_names_a_reason_only_when_unavailable(volvo: Volvo) -> None:
    path = f"{CV}/{EX30}/command-accessibility"
    available = (await volvo.get(path)).body["data"]
    assert available == {
        "availabilityStatus": {"value": "AVAILABLE", "timestamp": "2026-11-24T12:00:00.000Z"}
    }
    volvo.car(EX30).available = False
    volvo.car(EX30).unavailable_reason = "CAR_IN_USE"
    unavailable = (await volvo.get(path)).body["data"]
    assert unavailable["availabilityStatus"]["value"] == "UNAVAILABLE"
    assert unavailable["unavailableReason"]["value"] == "CAR_IN_USE"


async def test_energy_state_and_capabilities_of_the_ex30(volvo: Volvo) -> None:
    state = await volvo.energy(EX30)
    assert list(state) == list(ENERGY_KEYS)
    assert state["batteryChargeLevel"]["updatedAt"] == "2026-11-24T12:00:00Z"
    assert values(state) == {
        "batteryChargeLevel": ok(38.0, "percentage"),
        "electricRange": ok(90, "km"),
        "chargerConnectionStatus": ok("DISCONNECTED"),
        "chargingStatus": ok("IDLE"),
        "chargingType": ok("NONE"),
        "chargerPowerStatus": ok("NO_POWER_AVAILABLE"),
        "estimatedChargingTimeToTargetBatteryChargeLevel": ok(0, "minutes"),
        "chargingCurrentLimit": ok(32, "ampere"),
        "targetBatteryChargeLevel": ok(90, "percentage"),
        "chargingPower": {
            "status": "ERROR",
            "code": "PROPERTY_NOT_FOUND",
            "message": "No valid value could be found for the requested property",
        },
    }
    # No data wrapper on the Energy API.
    answer = await volvo.get(f"/energy/v2/vehicles/{EX30}/capabilities")
    capabilities = answer.body["getEnergyState"]
    assert capabilities["isSupported"] is True
    assert capabilities["chargingSystemStatus"] == {"isSupported": True}
    assert "chargingStatus" not in capabilities
    assert all(
        child["isSupported"] for name, child in capabilities.items() if name != "isSupported"
    )


async def test_the_xc40_charges_with_the_clock_until_done_at_its_target(volvo: Volvo) -> None:
    state = values(await volvo.energy(XC40))
    assert state["batteryChargeLevel"] == ok(53.0, "percentage")
    assert state["electricRange"] == ok(138, "mi")
    assert state["chargerConnectionStatus"] == ok("CONNECTED")
    assert state["chargingType"] == ok("AC")
    assert state["chargingStatus"] == ok("CHARGING")
    assert state["chargerPowerStatus"] == ok("PROVIDING_POWER")
    assert state["chargingPower"] == ok(11_000, "watts")
    assert state["targetBatteryChargeLevel"] == ok(80, "percentage")
    # 27 % of 79 kWh at 11 kW: 116.3 minutes.
    assert state["estimatedChargingTimeToTargetBatteryChargeLevel"] == ok(117, "minutes")

    volvo.clock.advance(hours=1)
    state = await volvo.energy(XC40)
    assert state["batteryChargeLevel"]["value"] == pytest.approx(53 + 11 / 79 * 100, abs=0.05)
    assert state["chargingStatus"]["value"] == "CHARGING"
    assert state["batteryChargeLevel"]["updatedAt"] == "2026-11-24T13:00:00Z"

    volvo.clock.advance(hours=2)
    state = values(await volvo.energy(XC40))
    assert state["batteryChargeLevel"] == ok(80.0, "percentage")
    assert state["chargingStatus"] == ok("DONE")
    assert state["chargerPowerStatus"] == ok("POWER_AVAILABLE_BUT_NOT_ACTIVATED")
    assert state["chargingPower"] == ok(0, "watts")
    assert state["estimatedChargingTimeToTargetBatteryChargeLevel"] == ok(0, "minutes")
    assert state["chargerConnectionStatus"] == ok("CONNECTED")


async def test_the_phev_reports_only_connection_status_and_target(volvo: Volvo) -> None:
    state = values(await volvo.energy(XC60))
    supported = {"chargerConnectionStatus", "chargingStatus", "targetBatteryChargeLevel"}
    assert state["chargerConnectionStatus"] == ok("DISCONNECTED")
    assert state["chargingStatus"] == ok("IDLE")
    assert state["targetBatteryChargeLevel"] == ok(80, "percentage")
    assert {key: state[key] for key in ENERGY_KEYS if key not in supported} == {
        key: NOT_SUPPORTED for key in ENERGY_KEYS if key not in supported
    }
    capabilities = (await volvo.get(f"/energy/v2/vehicles/{XC60}/capabilities")).body
    energy = capabilities["getEnergyState"]
    assert energy["isSupported"] is True
    assert energy["chargingSystemStatus"]["isSupported"] is True
    assert energy["batteryChargeLevel"]["isSupported"] is False
    assert energy["chargingPower"]["isSupported"] is False


async def test_the_petrol_car_has_no_energy_api(volvo: Volvo) -> None:
    state = await volvo.energy(XC90)
    assert state == dict.fromkeys(ENERGY_KEYS, NOT_SUPPORTED)
    capabilities = (await volvo.get(f"/energy/v2/vehicles/{XC90}/capabilities")).body
    assert capabilities["getEnergyState"]["isSupported"] is False
    assert not any(
        child["isSupported"]
        for name, child in capabilities["getEnergyState"].items()
        if name != "isSupported"
    )


async def test_a_missing_or_wrong_api_key_is_the_gateways_401(volvo: Volvo) -> None:
    apim = {"statusCode": 401, "message": APIM_MESSAGE}
    for key in (None, "wrong-key"):
        answer = await volvo.get(CV, key=key)
        assert (answer.status, answer.body) == (401, apim)
    # The gateway checks the key before anyone looks at the token.
    answer = await volvo.get(CV, key=None, token="not-a-token")
    assert (answer.status, answer.body) == (401, apim)
    energy = await volvo.get(f"/energy/v2/vehicles/{EX30}/state", key=None)
    assert (energy.status, energy.body) == (401, apim)


async def test_a_bad_or_expired_token_is_401(volvo: Volvo) -> None:
    invalid = {
        "error": {
            "message": "Unauthorized",
            "description": "The access token is invalid or has expired",
        }
    }
    answer = await volvo.get(CV, token="not-a-token")
    assert (answer.status, answer.body) == (401, invalid)
    volvo.clock.advance(days=31)
    answer = await volvo.get(CV)
    assert (answer.status, answer.body) == (401, invalid)


async def test_an_unknown_vin_is_404(volvo: Volvo) -> None:
    for path in (
        f"{CV}/YV1NOTACAR0000000",
        f"{CV}/YV1NOTACAR0000000/doors",
        "/energy/v2/vehicles/YV1NOTACAR0000000/state",
        "/location/v1/vehicles/YV1NOTACAR0000000/location",
    ):
        answer = await volvo.get(path)
        assert answer.status == 404
        assert answer.body == {
            "error": {"message": "Not Found", "description": "Vehicle not found"}
        }
    answer = await volvo.command("YV1NOTACAR0000000", "lock")
    assert answer.status == 404


async def test_100_calls_a_minute_then_429_until_the_window_resets(volvo: Volvo) -> None:
    for _ in range(100):
        assert (await volvo.get(f"{CV}/{EX30}/doors")).status == 200
    volvo.clock.advance(seconds=20)
    answer = await volvo.get(f"/energy/v2/vehicles/{EX30}/state")
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "40"
    assert answer.body == {
        "error": {"message": "Too Many Requests", "description": "Rate limit is exceeded"}
    }
    # Commands count toward the same general quota.
    assert (await volvo.command(EX30, "lock")).status == 429
    # Another app (client id) of the same owner has its own quota.
    other = volvo.sim.oauth
    other.clients["other-volvo-client"] = ("other-secret", "sim-volvo-account")
    other_token = other.issue_tokens("other-volvo-client")["access_token"]
    assert (await volvo.get(CV, token=other_token)).status == 200

    volvo.clock.advance(seconds=39.5)
    assert (await volvo.get(CV)).headers["Retry-After"] == "1"
    volvo.clock.advance(seconds=0.5)
    assert (await volvo.get(CV)).status == 200


async def test_10_commands_a_minute(volvo: Volvo) -> None:
    for _ in range(10):
        answer = await volvo.command(EX30, "climatization-start")
        assert answer.status == 200
    volvo.clock.advance(seconds=15)
    answer = await volvo.command(EX30, "climatization-stop")
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "45"
    # Reads still go through: only 10 of the 100 general calls are used.
    assert (await volvo.get(CV)).status == 200
    assert volvo.car(EX30).climate_on
    volvo.clock.advance(seconds=45)
    assert (await volvo.command(EX30, "climatization-stop")).status == 200
    assert not volvo.car(EX30).climate_on


async def test_commands_answer_after_the_delay_and_change_the_car(volvo: Volvo) -> None:
    car = volvo.car(EX30)
    car.command_delay = 0.05
    answer = await volvo.command(EX30, "unlock")
    assert answer.status == 200
    assert answer.body == {"data": {"vin": EX30, "invokeStatus": "COMPLETED", "message": ""}}
    assert not car.locked
    doors = (await volvo.get(f"{CV}/{EX30}/doors")).body["data"]
    assert doors["centralLock"]["value"] == "UNLOCKED"
    assert (await volvo.command(EX30, "lock-reduced-guard")).status == 200
    assert car.locked
    assert (await volvo.command(EX30, "climatization-start")).status == 200
    assert car.climate_on
    assert (await volvo.command(XC90, "engine-start")).status == 200
    assert volvo.car(XC90).engine_running
    assert (await volvo.command(XC90, "honk")).status == 200
    assert volvo.sim.volvo.command_log[-1] == (XC90, "HONK", "COMPLETED")
    assert volvo.sim.volvo.request_log[-1] == ("POST", f"{CV}/{{vin}}/commands/honk")


async def test_a_command_the_car_does_not_list_is_404(volvo: Volvo) -> None:
    for vin, name in (
        (EX30, "engine-start"),
        (EX30, "honk"),
        (XC60, "lock-reduced-guard"),
        (EX30, "self-destruct"),
    ):
        answer = await volvo.command(vin, name)
        assert answer.status == 404, (vin, name)
        assert set(answer.body["error"]) == {"message", "description"}


async def test_the_car_acts_even_when_the_client_gave_up_waiting(volvo: Volvo) -> None:
    car = volvo.car(EX30)
    car.command_delay = 0.3
    assert car.locked
    with pytest.raises(TimeoutError):
        await volvo.command(EX30, "unlock", give_up_after=0.1)
    assert car.locked  # not yet: the car is still working on it
    await asyncio.sleep(0.4)
    assert not car.locked
    assert (await volvo.get(f"{CV}/{EX30}/doors")).body["data"]["centralLock"]["value"] == (
        "UNLOCKED"
    )


async def test_the_car_acts_even_when_the_hang_up_cancels_the_handler(socket_enabled: None) -> None:
    """aiohttp's test server cancels a handler whose client went away; the command still lands."""
    sim = Simulator(command_delay=0.3)
    token = sim.oauth.issue_tokens(CLIENT[0])["access_token"]
    headers = {"Authorization": f"Bearer {token}", "vcc-api-key": API_KEY}
    async with TestServer(sim.build_app()) as server, aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            await session.post(
                server.make_url(f"{CV}/{EX30}/commands/climatization-start"),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=0.1),
            )
        assert sim.volvo.running  # the car's part outlives the cancelled handler
        await sim.volvo.commands_done()
    assert sim.volvo.cars[EX30].climate_on


@pytest.mark.parametrize(
    "status",
    ["VEHICLE_IN_SLEEP", "REJECTED", "CAR_ERROR", "TIMEOUT", "NOT_ALLOWED_PRIVACY_ENABLED"],
)
async def test_a_forced_outcome_applies_to_the_next_command_only(volvo: Volvo, status: str) -> None:
    car = volvo.car(EX30)
    car.next_invoke_status = status
    answer = await volvo.command(EX30, "unlock")
    assert answer.status == 200
    assert answer.body["data"]["invokeStatus"] == status
    assert answer.body["data"]["message"]
    assert car.locked  # the car did not do it
    again = await volvo.command(EX30, "unlock")
    assert again.body["data"]["invokeStatus"] == "COMPLETED"
    assert not car.locked


async def test_delivered_counts_as_done(volvo: Volvo) -> None:
    volvo.car(EX30).next_invoke_status = "DELIVERED"
    answer = await volvo.command(EX30, "unlock")
    assert answer.body["data"] == {"vin": EX30, "invokeStatus": "DELIVERED", "message": ""}
    assert not volvo.car(EX30).locked


async def test_faults_apply_to_volvo_paths_in_volvos_envelope(volvo: Volvo) -> None:
    volvo.sim.faults.set("server_error", path="/energy/", count=1)
    assert (await volvo.get(f"{CV}/{EX30}")).status == 200
    answer = await volvo.get(f"/energy/v2/vehicles/{EX30}/state")
    assert answer.status == 500
    assert set(answer.body["error"]) == {"message", "description"}
    assert (await volvo.get(f"/energy/v2/vehicles/{EX30}/state")).status == 200

    volvo.sim.faults.set("rate_limited", path="/location/", count=1, retry_after=7)
    answer = await volvo.get(f"/location/v1/vehicles/{EX30}/location")
    assert (answer.status, answer.headers["Retry-After"]) == (429, "7")
    volvo.sim.faults.set("unauthorized", path="/connected-vehicle/", count=1)
    assert (await volvo.get(CV)).status == 401
    volvo.sim.faults.set("malformed", path="/connected-vehicle/", count=1)
    async with volvo.session.get(
        f"{volvo.sim.url}{CV}",
        headers={"Authorization": f"Bearer {volvo.token}", "vcc-api-key": API_KEY},
    ) as answer:
        with pytest.raises(ValueError):
            await answer.json()
    volvo.sim.faults.set("timeout", path="/connected-vehicle/", count=1, delay=1)
    with pytest.raises(TimeoutError):
        await volvo.get(CV, give_up_after=0.1)


async def test_the_admin_endpoint_patches_a_car(volvo: Volvo) -> None:
    url = f"{volvo.sim.url}/_sim/volvo/vehicles/{EX30}"
    async with volvo.session.post(
        url, json={"plugged": "DC", "charging_power_w": 150_000, "target_level": 80}
    ) as answer:
        assert answer.status == 200
        assert (await answer.json())["charging_status"] == "CHARGING"
    state = values(await volvo.energy(EX30))
    assert state["chargingType"] == ok("DC")
    assert state["chargingPower"] == ok(150_000, "watts")
    volvo.clock.advance(minutes=10)
    assert (await volvo.energy(EX30))["batteryChargeLevel"]["value"] == pytest.approx(
        38 + 25 / 66 * 100, abs=0.05
    )

    async with volvo.session.post(url, json={"fault": True}) as answer:
        assert answer.status == 200
    state = values(await volvo.energy(EX30))
    assert state["chargerConnectionStatus"] == ok("FAULT")
    assert state["chargingStatus"] == ok("ERROR")
    assert state["chargerPowerStatus"] == ok("FAULT")
    assert state["chargingPower"]["code"] == "PROPERTY_NOT_FOUND"

    async with volvo.session.post(url, json={"locked": False}) as answer:
        assert (await answer.json())["locked"] is False
    async with volvo.session.post(url, json={"colour": "red"}) as answer:
        assert answer.status == 400
    async with volvo.session.post(url, json={"next_invoke_status": "BOGUS"}) as answer:
        assert answer.status == 400
    async with volvo.session.post(url, json={"next_invoke_status": "CAR_ERROR"}) as answer:
        assert answer.status == 200
    assert volvo.car(EX30).next_invoke_status == "CAR_ERROR"
    async with volvo.session.post(f"{volvo.sim.url}/_sim/volvo/vehicles/NOPE", json={}) as answer:
        assert answer.status == 404
    async with volvo.session.get(f"{volvo.sim.url}/_sim/volvo/state") as answer:
        assert set((await answer.json())["vehicles"]) == {EX30, XC40, XC60, XC90}


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _sign_in(volvo: Volvo, verifier: str) -> str:
    """Authorize through Volvo ID's path, approve, and return the code."""
    redirect = "https://my.home-assistant.io/redirect/oauth"
    params = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": redirect,
        "scope": "openid energy:state:read conve:lock",
        "state": "xyz",
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    async with volvo.session.get(f"{volvo.sim.url}/as/authorization.oauth2", params=params) as page:
        assert page.status == 200
        html = await page.text()
    approve = html.split('href="')[1].split('"')[0]
    async with volvo.session.get(f"{volvo.sim.url}{approve}", allow_redirects=False) as answer:
        assert answer.status == 302
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


async def test_pkce_sign_in_through_volvo_ids_paths(volvo: Volvo) -> None:
    token_url = f"{volvo.sim.url}/as/token.oauth2"
    redirect = "https://my.home-assistant.io/redirect/oauth"
    verifier = "v" * 64

    code = await _sign_in(volvo, verifier)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    # A wrong verifier fails, and uses up the code.
    wrong = form | {"client_id": CLIENT[0], "client_secret": CLIENT[1], "code_verifier": "w" * 64}
    async with volvo.session.post(token_url, data=wrong) as answer:
        assert answer.status == 400

    code = await _sign_in(volvo, verifier)
    # Volvo's clients authenticate with HTTP Basic.
    basic = {"Authorization": aiohttp.encode_basic_auth(*CLIENT)}
    form = form | {"code": code, "code_verifier": verifier}
    async with volvo.session.post(token_url, data=form, headers=basic) as answer:
        assert answer.status == 200
        tokens = await answer.json()
    assert volvo.sim.oauth.account_for(tokens["access_token"]) == "sim-volvo-account"
    assert (await volvo.get(CV, token=tokens["access_token"])).status == 200

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    async with volvo.session.post(token_url, data=refresh, headers=basic) as answer:
        assert answer.status == 200
        assert (await answer.json())["refresh_token"] != tokens["refresh_token"]
    # Refresh tokens rotate: the old one is spent.
    async with volvo.session.post(token_url, data=refresh, headers=basic) as answer:
        assert answer.status == 400
    async with volvo.session.post(
        token_url,
        data=refresh,
        headers={"Authorization": aiohttp.encode_basic_auth(CLIENT[0], "wrong")},
    ) as answer:
        assert answer.status == 401
