"""Volvo's standard day (scripts/bench_day.py) against Volvo's 100 requests a minute.

Three runs on the simulator's Volvo cloud: EV Cloud (the real integration in Home Assistant, its
vehicle coordinator at its own pace and its vehicle list every 6 hours), a fixed 10-minute poll of
the energy state and the doors, and core Home Assistant's `volvo` tiers (research B.8: doors every
minute, energy state every 2 minutes, command accessibility every 15, odometer and location every
60). The car is the EX30; plugged in on AC it charges by itself (Volvo's API cannot start a charge
or set its limit), so only the climate command is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import aiohttp
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.model import VehicleState
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.volvo import (
    SPEC,
    VolvoClient,
    const as volvo_const,
    parse,
)
from simulator import Simulator
from simulator.volvo.fleet import VolvoCar

from .bench_day import (
    CHARGER_KW,
    DAY_START,
    EV_CLOUD,
    FIXED_POLL,
    LIMIT,
    START_SOC,
    DayResult,
    EvCloudDriver,
    Event,
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

CAR = "YV1XZEFV8R2000001"  # the EX30
CLIENT_ID = "sim-volvo-client"
CLIENT_SECRET = "sim-volvo-secret"  # noqa: S105 - the simulator's published test secret
API_KEY = "sim-vcc-api-key"
SCOPES = " ".join(volvo_const.SCOPES)
# Volvo ID's access tokens last 30 minutes.
TOKEN_LIFETIME = 1800
QUOTA = 100  # Volvo's general quota: requests a minute per user and application
CAR_PATH = f"{volvo_const.VEHICLES_PATH}/{CAR}"
ENERGY_PATH = f"{volvo_const.ENERGY_PATH}/{CAR}/state"
DOORS_PATH = f"{CAR_PATH}/doors"
# Core `volvo`'s tiers (research B.8) for the resources the simulator serves, in minutes.
CORE_TIERS = (
    (DOORS_PATH, 1),
    (ENERGY_PATH, 2),
    (f"{CAR_PATH}/command-accessibility", 15),
    (f"{CAR_PATH}/odometer", 60),
    (f"{volvo_const.LOCATION_PATH}/{CAR}/location", 60),
)
FIXED_LABEL = "fixed 10-min poll (energy + doors)"
CORE_LABEL = "core `volvo` tiers (doors 1 min, energy 2 min, …)"


def request_kind(method: str, path: str) -> Kind:
    """Volvo's Connected Vehicle, Energy and Location routes by what they are for."""
    if method == "POST" and "/commands/" in path:
        return Kind.COMMAND
    if path.endswith(("/state", "/doors", "/odometer", "/location", "/command-accessibility")):
        return Kind.DATA
    if path.startswith((volvo_const.VEHICLES_PATH, volvo_const.ENERGY_PATH)):
        return Kind.VEHICLE_LIST
    return Kind.OTHER


class VolvoSimCar:
    """The EX30, parked and unplugged at 35 % with an 80 % target; the other cars removed."""

    def __init__(self, sim: Simulator) -> None:
        """Set the car up for the day."""
        self.sim = sim
        for vin in [vin for vin in sim.volvo.cars if vin != CAR]:
            del sim.volvo.cars[vin]
        self.car: VolvoCar = sim.volvo.cars[CAR]
        self.car.update(
            {
                "battery_level": START_SOC,
                "target_level": LIMIT,
                "plugged": "NONE",
                "charging_power_w": round(CHARGER_KW * 1000),
            },
            DAY_START,
        )
        self.capacity_kwh = self.car.battery_capacity_kwh or 0.0
        self.description = f"Volvo {self.car.model} (simulator)"
        self.refused = 0

    def token(self) -> dict[str, Any]:
        """Tokens for the Volvo app with every scope the integration asks for."""
        return self.sim.oauth.issue_tokens(CLIENT_ID, SCOPES)

    @contextmanager
    def counting_refusals(self) -> Iterator[None]:
        """Count the requests Volvo's quota refuses (429)."""
        admit = self.sim.volvo.admit

        def counting_admit(account: str, client_id: str, *, command: bool) -> int | None:
            wait = admit(account, client_id, command=command)
            self.refused += wait is not None
            return wait

        with patch.object(self.sim.volvo, "admit", counting_admit):
            yield

    def truth(self, now: datetime) -> Truth:
        """The car brought up to `now`."""
        car = self.car
        car.advance(now)
        return Truth(
            plugged=car.plugged_in,
            charging=car.charging,
            soc=car.battery_level,
            limit=float(car.target_level),
            rate=car.charging_power_w / 1000 / self.capacity_kwh * 100,
        )

    def plug_in(self, now: datetime) -> None:
        """Plugged in on AC: it charges by itself."""
        self.car.update({"plugged": "AC"}, now)

    def unplug(self, now: datetime) -> None:
        """Unplugged."""
        self.car.update({"plugged": "NONE"}, now)

    def wakes(self) -> int:
        """Volvo's API has no wake-up."""
        return 0


def _log(sim: Simulator) -> RequestLog:
    log = RequestLog()
    log.tap(sim.volvo, request_kind)
    log.tap(sim.oauth, token_kind)
    return log


def entry_for(sim: Simulator, token: dict[str, Any]) -> MockConfigEntry:
    """A Volvo entry as the config flow stores it, signed in to the simulator's Volvo ID."""
    return signed_in_entry(
        sim.url,
        provider="volvo",
        client=(CLIENT_ID, CLIENT_SECRET),
        unique_id="sim-volvo-account",
        token=token,
        lifetime=TOKEN_LIFETIME,
        **{CONF_API_KEY: API_KEY},
    )


async def ev_cloud_day(hass: HomeAssistant) -> tuple[DayResult, VolvoSimCar]:
    """The real integration over the day, both its coordinators on the virtual clock."""
    with virtual_clock() as move_to:
        async with Simulator(command_delay=0.0, token_lifetime=TOKEN_LIFETIME) as sim:
            car = VolvoSimCar(sim)
            log = _log(sim)
            with car.counting_refusals():
                entry = entry_for(sim, car.token())
                await setup_entry(hass, entry)
                vehicle = next(iter(entry.runtime_data.vehicles.values()))
                driver = EvCloudDriver(hass, entry, vehicle)
                timeline = await run_day(move_to, car, driver)
                await sim.volvo.commands_done()
            result = DayResult(
                mode=EV_CLOUD, timeline=timeline, requests=log.requests, reasons=driver.reasons
            )
            await hass.config_entries.async_remove(entry.entry_id)
    return result, car


async def fixed_poll_day(*, core_tiers: bool) -> tuple[DayResult, VolvoSimCar]:
    """A fixed pace of plain GETs (set-up and the climate command through our client)."""
    with virtual_clock() as move_to:
        async with (
            Simulator(command_delay=0.0, token_lifetime=TOKEN_LIFETIME) as sim,
            aiohttp.ClientSession() as session,
        ):
            car = VolvoSimCar(sim)
            log = _log(sim)
            assert SPEC.oauth is not None
            _, token_url = SPEC.oauth.urls(ENVIRONMENT_CUSTOM, sim.url)
            token = TokenKeeper(session, token_url, (CLIENT_ID, CLIENT_SECRET), car.token())
            client = VolvoClient(
                session,
                ClientConfig(
                    base_url=sim.url, client_id=CLIENT_ID, client_secret="", access_token=token
                ),
                API_KEY,
            )

            async def get(path: str) -> Any:
                headers = {
                    "Authorization": f"Bearer {await token()}",
                    volvo_const.API_KEY_HEADER: API_KEY,
                    "Accept": "application/json",
                }
                async with session.get(f"{sim.url}{path}", headers=headers) as response:
                    response.raise_for_status()
                    return await response.json()

            async def read_fixed(now: datetime) -> VehicleState:
                energy, doors = await get(ENERGY_PATH), await get(DOORS_PATH)
                return parse.vehicle_state(now, energy=energy, doors=doors).state

            async def read_tiers(now: datetime) -> VehicleState | None:
                minute = int((now - DAY_START).total_seconds() // 60)
                state = None
                for path, period in CORE_TIERS:
                    if minute % period:
                        continue
                    body = await get(path)
                    if path == ENERGY_PATH:
                        state = parse.vehicle_state(now, energy=body).state
                return state

            with car.counting_refusals():
                # Set-up: the car list, then the car's details, commands and energy capabilities.
                info = next(v for v in await client.async_get_vehicles() if v.key == CAR)
                driver = FixedPollDriver(
                    read_tiers if core_tiers else read_fixed,
                    command_runner(client, SPEC, info),
                    frozenset({Event.CLIMATE_ON}),
                    timedelta(minutes=1) if core_tiers else FIXED_POLL,
                )
                timeline = await run_day(move_to, car, driver)
                await sim.volvo.commands_done()
            await client.async_close()
    label = CORE_LABEL if core_tiers else FIXED_LABEL
    return DayResult(mode=label, timeline=timeline, requests=log.requests), car


async def day(hass: HomeAssistant) -> ProviderDay:
    """The three runs of Volvo's day."""
    ours, car = await ev_cloud_day(hass)
    fixed, fixed_car = await fixed_poll_day(core_tiers=False)
    core, core_car = await fixed_poll_day(core_tiers=True)
    runs = ((ours, car), (fixed, fixed_car), (core, core_car))
    peaks = ", ".join(
        f"{result.mode} {result.peak(timedelta(minutes=1))} ({sim_car.refused} refused)"
        for result, sim_car in runs
    )
    return ProviderDay(
        provider="Volvo",
        car=car.description,
        capacity_kwh=car.capacity_kwh,
        results=[ours, fixed, core],
        notes=[
            f"Busiest minute against Volvo's quota of {QUOTA} requests a minute (429s): {peaks}.",
            (
                "Volvo cannot start a charge or set its limit (n/a: the car charges by itself to "
                "its target), has no wake-up, and reports no climate state (the climate switch "
                "is an assumed state)."
            ),
        ],
    )
