"""Tesla's column of the benchmark: one car's simulated day, billed at Tesla's prices.

Two runs over the same day on the simulator's Tesla cloud: EV Cloud (the real integration in Home
Assistant, adaptive pace, reads only while the car is online) and a fixed 10-minute poll of
`vehicle()` + `vehicle_data` (what core `tesla_fleet` does). The day: parked, unplugged and asleep
from noon; plugged in at 18:00 and told to charge (35 % to 80 % at 11 kW); climate on at 07:30.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
import time
from unittest.mock import patch

import aiohttp
from freezegun import freeze_time
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import CONF_EXCLUDED_VEHICLES, DOMAIN, ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.model import Command, CommandType
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.tesla import TeslaClient, const as tesla_const
from simulator import Simulator
from simulator.tesla.fleet import PRICES

DAY_START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PLUG_IN_AT = DAY_START.replace(hour=18)
CLIMATE_AT = (DAY_START + timedelta(days=1)).replace(hour=7, minute=30)
DAY_END = DAY_START + timedelta(days=1)
FIXED_POLL = timedelta(minutes=10)
CAR = "7SAYGDEE5PF000202"
OTHER = "5YJ3E7EB7KF000101"
SCOPES = "openid offline_access vehicle_device_data vehicle_cmds vehicle_charging_cmds"
DAYS_PER_MONTH = 30


def prepare(sim: Simulator) -> str:
    """One parked, unplugged, sleeping car at 35 %; returns an access token for it."""
    del sim.tesla.cars[OTHER]
    car = sim.tesla.cars[CAR]
    car.battery_level, car.charge_limit_soc, car.online = 35.0, 80, False
    car.wake_delay, car.simulated_to = 0.0, DAY_START
    # The app registered its domain once, long before this day.
    sim.tesla.register_partner("sim-oauth-client", "bench.example", "04" + "11" * 64)
    return str(sim.oauth.issue_tokens("sim-oauth-client", SCOPES)["access_token"])


def plug_in(sim: Simulator) -> None:
    """The owner plugs the car in."""
    sim.tesla.cars[CAR].plugged_in = True


def summary(meter: Counter[str], free_checks: int) -> dict[str, float]:
    """Per day: billable calls by kind, wakes, free state checks, dollars per month."""
    dollars = sum(PRICES[kind] * count for kind, count in meter.items())
    return {
        "data": meter["data"],
        "command": meter["command"],
        "wake": meter["wake"],
        "free": free_checks,
        "usd_month": round(dollars * DAYS_PER_MONTH, 2),
    }


def free_checks(sim: Simulator) -> int:
    """`GET /vehicles/{vin}` calls: free state checks."""
    return sim.tesla.request_log.count(("GET", "/api/1/vehicles/{vin}"))


async def ev_cloud_day(hass: HomeAssistant) -> dict[str, float]:
    """The real integration over the day, its coordinator driven by the virtual clock."""
    with (
        freeze_time(DAY_START, real_asyncio=True) as frozen,
        patch("homeassistant.util.dt.utcnow", lambda: datetime.now(UTC)),
        patch.object(tesla_const, "WAKE_POLL", 0.01),
    ):
        async with Simulator(command_delay=0.0, token_lifetime=3 * 86400) as sim:
            token = prepare(sim)
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="Tesla",
                unique_id="sim-account",
                version=2,
                data={
                    "provider": "tesla",
                    CONF_CLIENT_ID: "sim-oauth-client",
                    CONF_CLIENT_SECRET: "sim-oauth-secret",
                    "environment": ENVIRONMENT_CUSTOM,
                    CONF_URL: sim.url,
                    CONF_EXCLUDED_VEHICLES: [],
                    "auth_implementation": "ev_cloud_tesla_custom_sim-oauth-client",
                    "token": {
                        "access_token": token,
                        "refresh_token": "unused",
                        "token_type": "Bearer",
                        "expires_in": 3 * 86400,
                        "expires_at": time.time() + 3 * 86400,
                    },
                },
            )
            entry.add_to_hass(hass)
            if not await hass.config_entries.async_setup(entry.entry_id):
                raise RuntimeError(f"Tesla set-up failed: {entry.state}")
            await hass.async_block_till_done()
            vehicle = next(iter(entry.runtime_data.vehicles.values()))
            coordinator, commands = vehicle.coordinator, vehicle.commands
            events = [
                (PLUG_IN_AT, Command(type=CommandType.START_CHARGING)),
                (CLIMATE_AT, Command(type=CommandType.CLIMATE_ON)),
            ]
            now = DAY_START
            next_poll = now + (coordinator.update_interval or timedelta(minutes=1))
            while True:
                now = min([next_poll, *(at for at, _ in events)])
                if now >= DAY_END:
                    break
                frozen.move_to(now)
                if events and events[0][0] == now:
                    _, command = events.pop(0)
                    if command.type is CommandType.START_CHARGING:
                        plug_in(sim)
                    await commands.async_execute(command)
                    extra = coordinator.extra_read_at
                    if extra is not None and extra < next_poll:
                        next_poll = extra
                    continue
                await coordinator.async_refresh()
                interval = coordinator.update_interval or timedelta(minutes=1)
                next_poll = now + interval
                extra = coordinator.extra_read_at
                if extra is not None and now < extra < next_poll:
                    next_poll = extra
            result = summary(sim.tesla.meter, free_checks(sim))
            result["final_soc"] = round(sim.tesla.cars[CAR].battery_level)
            await hass.config_entries.async_remove(entry.entry_id)
    return result


async def fixed_poll_day() -> dict[str, float]:
    """`tesla_fleet`'s pace: `vehicle()` every 10 minutes, `vehicle_data` whenever online."""
    with freeze_time(DAY_START, real_asyncio=True) as frozen:
        async with (
            Simulator(command_delay=0.0, token_lifetime=3 * 86400) as sim,
            aiohttp.ClientSession() as session,
        ):
            token = prepare(sim)

            async def access_token() -> str:
                return token

            client = TeslaClient(
                session,
                ClientConfig(
                    base_url=sim.url, client_id="c", client_secret="", access_token=access_token
                ),
                wake_poll=0.01,
            )
            info = next(v for v in await client.async_get_vehicles() if v.vin == CAR)
            events = [
                (PLUG_IN_AT, CommandType.START_CHARGING),
                (CLIMATE_AT, CommandType.CLIMATE_ON),
            ]
            now = DAY_START
            while now < DAY_END:
                frozen.move_to(now)
                while events and events[0][0] <= now:
                    _, command_type = events.pop(0)
                    if command_type is CommandType.START_CHARGING:
                        plug_in(sim)
                    await client.async_send_command(info, Command(type=command_type))
                await client.async_get_state(info)
                now += FIXED_POLL
            result = summary(sim.tesla.meter, free_checks(sim))
            result["final_soc"] = round(sim.tesla.cars[CAR].battery_level)
    return result
