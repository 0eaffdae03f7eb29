"""Tesla's standard day (scripts/bench_day.py) on the simulator's Tesla cloud, at Tesla's prices.

Two runs: EV Cloud (the real integration in Home Assistant; reads only while the car is online,
after the free `GET /vehicles/{vin}`) and a fixed 10-minute poll of `vehicle()` + `vehicle_data`
whenever the car is online (what core `tesla_fleet` does). The car is the simulator's Model Y,
asleep from noon; plugging it in does not wake it, so the START_CHARGING sent right after wakes it
(a requested wake-up), as do the later commands if it fell asleep meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest.mock import patch

import aiohttp
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.model import VehicleState
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.tesla import SPEC, TeslaClient, const as tesla_const
from simulator import Simulator
from simulator.tesla.fleet import TeslaCar

from .bench_day import (
    CHARGER_KW,
    COMMANDS,
    DAY_START,
    EV_CLOUD,
    LIMIT,
    START_SOC,
    DayResult,
    EvCloudDriver,
    FixedPollDriver,
    Kind,
    ProviderDay,
    RequestLog,
    TokenKeeper,
    Truth,
    command_runner,
    run_day,
    setup_entry,
    signed_in_entry,
    token_kind,
    virtual_clock,
)

CAR = "7SAYGDEE5PF000202"
OTHER = "5YJ3E7EB7KF000101"
CLIENT = ("sim-oauth-client", "sim-oauth-secret")
SCOPES = "openid offline_access vehicle_device_data vehicle_cmds vehicle_charging_cmds"
# Tesla's access tokens last 8 hours.
TOKEN_LIFETIME = 8 * 3600
FIXED_LABEL = "fixed 10-min poll (`tesla_fleet`)"


def request_kind(method: str, path: str) -> Kind:
    """Tesla's Fleet API routes by what they are for (and bill)."""
    if path.endswith("/vehicle_data"):
        return Kind.DATA
    if path.endswith("/wake_up"):
        return Kind.WAKE
    if "/command/" in path or path.endswith("/signed_command"):
        return Kind.COMMAND
    if method == "GET" and path == "/api/1/vehicles/{vin}":
        return Kind.STATE_CHECK
    if path in ("/api/1/products", "/api/1/users/region", "/api/1/vehicles/fleet_status"):
        return Kind.VEHICLE_LIST
    return Kind.OTHER


class TeslaSimCar:
    """The Model Y, parked, unplugged and asleep at 35 %; the other car removed."""

    def __init__(self, sim: Simulator) -> None:
        """Set the car up for the day; the app registered its domain long before."""
        self.sim = sim
        del sim.tesla.cars[OTHER]
        self.car: TeslaCar = sim.tesla.cars[CAR]
        car = self.car
        car.battery_level, car.charge_limit_soc, car.online = START_SOC, LIMIT, False
        car.charger_power_kw = CHARGER_KW
        car.wake_delay, car.simulated_to = 0.0, DAY_START
        sim.tesla.register_partner(CLIENT[0], "bench.example", "04" + "11" * 64)
        self.capacity_kwh = car.battery_capacity_kwh
        self.description = f"Tesla Model Y “{car.display_name}” (simulator)"

    def token(self) -> dict[str, Any]:
        """Tokens for the owner, issued at the day's start."""
        return self.sim.oauth.issue_tokens(CLIENT[0], SCOPES)

    def truth(self, now: datetime) -> Truth:
        """The car brought up to `now`."""
        car = self.car
        car.advance(now)
        return Truth(
            plugged=car.plugged_in,
            charging=car.charging,
            soc=car.battery_level,
            limit=float(car.charge_limit_soc),
            rate=car.charger_power_kw / car.battery_capacity_kwh * 100,
            awake=car.online,
        )

    def plug_in(self, now: datetime) -> None:
        """Plugged in; the simulated car stays asleep."""
        self.car.advance(now)
        self.car.plugged_in = True

    def unplug(self, now: datetime) -> None:
        """Unplugged."""
        self.car.advance(now)
        self.car.plugged_in = self.car.charging = False

    def wakes(self) -> int:
        """Billed wake-ups so far."""
        return self.sim.tesla.meter["wake"]


def _log(sim: Simulator) -> RequestLog:
    log = RequestLog()
    log.tap(sim.tesla, request_kind)
    log.tap(sim.oauth, token_kind)
    return log


def entry_for(sim: Simulator, token: dict[str, Any]) -> MockConfigEntry:
    """A Tesla entry as the config flow stores it, signed in to the simulator."""
    return signed_in_entry(
        sim.url,
        provider="tesla",
        client=CLIENT,
        unique_id="sim-account",
        token=token,
        lifetime=TOKEN_LIFETIME,
    )


async def ev_cloud_day(hass: HomeAssistant) -> tuple[DayResult, TeslaSimCar]:
    """The real integration over the day."""
    with virtual_clock() as move_to, patch.object(tesla_const, "WAKE_POLL", 0.01):
        async with Simulator(command_delay=0.0, token_lifetime=TOKEN_LIFETIME) as sim:
            car = TeslaSimCar(sim)
            log = _log(sim)
            entry = entry_for(sim, car.token())
            await setup_entry(hass, entry)
            vehicle = next(iter(entry.runtime_data.vehicles.values()))
            driver = EvCloudDriver(hass, entry, vehicle)
            timeline = await run_day(move_to, car, driver)
            result = DayResult(
                mode=EV_CLOUD,
                timeline=timeline,
                requests=log.requests,
                usd=sim.tesla.dollars,
                reasons=driver.reasons,
            )
            await hass.config_entries.async_remove(entry.entry_id)
    return result, car


async def fixed_poll_day() -> DayResult:
    """`tesla_fleet`'s pace: `vehicle()` every 10 minutes, `vehicle_data` whenever online."""
    with virtual_clock() as move_to:
        async with (
            Simulator(command_delay=0.0, token_lifetime=TOKEN_LIFETIME) as sim,
            aiohttp.ClientSession() as session,
        ):
            car = TeslaSimCar(sim)
            log = _log(sim)
            assert SPEC.oauth is not None
            _, token_url = SPEC.oauth.urls(ENVIRONMENT_CUSTOM, sim.url)
            token = TokenKeeper(session, token_url, CLIENT, car.token())
            client = TeslaClient(
                session,
                ClientConfig(
                    base_url=sim.url, client_id=CLIENT[0], client_secret="", access_token=token
                ),
                wake_poll=0.01,
            )
            info = next(v for v in await client.async_get_vehicles() if v.vin == CAR)

            async def read(_now: datetime) -> VehicleState:
                return await client.async_get_state(info)

            driver = FixedPollDriver(read, command_runner(client, SPEC, info), frozenset(COMMANDS))
            timeline = await run_day(move_to, car, driver)
    return DayResult(
        mode=FIXED_LABEL, timeline=timeline, requests=log.requests, usd=sim.tesla.dollars
    )


async def day(hass: HomeAssistant) -> ProviderDay:
    """Both runs of Tesla's day."""
    ours, car = await ev_cloud_day(hass)
    fixed = await fixed_poll_day()
    return ProviderDay(
        provider="Tesla",
        car=car.description,
        capacity_kwh=car.capacity_kwh,
        results=[ours, fixed],
        billed=True,
        sleeps=True,
        notes=[
            (
                "Prices: `vehicle_data` $0.002, a command $0.001, a wake-up $0.02 (the $10 "
                "monthly credit not subtracted); `GET /vehicles/{vin}` is free. The simulated car "
                "falls asleep 15 min after its last activity and a `vehicle_data` read keeps it "
                "awake; a wake-up asked for by a command is a requested one."
            ),
            (
                "Raising the limit to 85 % on a car that completed at 80 % does not resume "
                "charging in this simulator (a real Tesla would)."
            ),
        ],
    )
