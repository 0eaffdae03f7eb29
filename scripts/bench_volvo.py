"""Volvo's column of the benchmark: one car's simulated day against Volvo's 100 requests a minute.

Two runs over the same day on the simulator's Volvo cloud: EV Cloud (the real integration in Home
Assistant, its vehicle coordinator at its adaptive pace and its fleet coordinator hourly) and a
fixed-tier poll like core Home Assistant's `volvo` (research B.8: doors every minute, energy state
every 2 minutes, command accessibility every 15, odometer and location every 60). The day: the
EX30 parked and unplugged from noon; plugged in on AC at 18:00 at 35 %, where it starts charging
by itself to its 80 % target at 11 kW (Volvo's API cannot start charging); climate on at 07:30.

Requests are counted from the simulator's own log, each stamped with the virtual time it arrived,
for the busiest 60 seconds of the day. A read due at the same instant as an event runs first: the
plug-in lands just after a read, the worst phase for noticing it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import time
from typing import Any
from unittest.mock import patch

import aiohttp
from freezegun import freeze_time
from homeassistant.const import CONF_API_KEY, CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import CONF_EXCLUDED_VEHICLES, DOMAIN, ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.coordinator import VehicleCoordinator
from custom_components.ev_cloud.model import (
    ChargingState,
    Command,
    CommandType,
    ConnectionStatus,
    VehicleState,
)
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.volvo import VolvoClient, const as volvo_const, parse
from simulator import Simulator
from simulator.volvo.fleet import VolvoCar

DAY_START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PLUG_IN_AT = DAY_START.replace(hour=18)
CLIMATE_AT = (DAY_START + timedelta(days=1)).replace(hour=7, minute=30)
DAY_END = DAY_START + timedelta(days=1)
CAR = "YV1XZEFV8R2000001"  # the EX30
CLIENT_ID = "sim-volvo-client"
CLIENT_SECRET = "sim-volvo-secret"  # noqa: S105 - the simulator's published test secret
API_KEY = "sim-vcc-api-key"
SCOPES = " ".join(volvo_const.SCOPES)
QUOTA = 100  # Volvo's general quota: requests a minute per user and application
WINDOW = timedelta(minutes=1)
START_LEVEL, TARGET_LEVEL, CHARGER_W = 35.0, 80, 11_000
CAR_PATH = f"{volvo_const.VEHICLES_PATH}/{CAR}"
# Core `volvo`'s tiers (research B.8) for the resources the simulator serves, in minutes.
FIXED_TIERS = (
    (f"{CAR_PATH}/doors", 1),
    (f"{volvo_const.ENERGY_PATH}/{CAR}/state", 2),
    (f"{CAR_PATH}/command-accessibility", 15),
    (f"{CAR_PATH}/odometer", 60),
    (f"{volvo_const.LOCATION_PATH}/{CAR}/location", 60),
)
TITLE = (
    "Volvo, one car's day against the 100 requests/minute quota (EX30 parked from noon; plugged "
    "in on AC at 18:00, charging by itself 35 to 80 % at 11 kW; climate 07:30)"
)
HEADER = ("", "EV Cloud", "fixed tiers (core volvo)")


class TimedLog(list[tuple[str, str]]):
    """The simulator's request log, also noting the virtual time of every entry."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        """Stamp entries with `now()`."""
        super().__init__()
        self._now = now
        self.times: list[datetime] = []

    def append(self, item: tuple[str, str], /) -> None:
        """Log the request and when it came."""
        self.times.append(self._now())
        super().append(item)


@dataclass(kw_only=True)
class DayResult:
    """One run's day: requests by endpoint, the busiest minute and how stale the news was."""

    requests: Counter[str]
    peak_minute: int
    refused: int
    plug_in_seen_after: timedelta | None
    done_seen_after: timedelta | None
    final_soc: int


class Recorder:
    """Wraps the simulator's Volvo account: timed request log, refusals, the charge's end."""

    def __init__(self, sim: Simulator) -> None:
        """Keep only the EX30, parked and unplugged at 35 %, and stamp every request."""
        self.sim = sim
        for vin in [vin for vin in sim.volvo.cars if vin != CAR]:
            del sim.volvo.cars[vin]
        self.car: VolvoCar = sim.volvo.cars[CAR]
        self.car.update(
            {"battery_level": START_LEVEL, "target_level": TARGET_LEVEL, "plugged": "NONE"},
            DAY_START,
        )
        self.log = TimedLog(sim.now)
        sim.volvo.request_log = self.log
        self.refused = 0
        admit = sim.volvo.admit

        def counting_admit(account: str, client_id: str, *, command: bool) -> int | None:
            wait = admit(account, client_id, command=command)
            self.refused += wait is not None
            return wait

        self._admit_patch = patch.object(sim.volvo, "admit", counting_admit)
        self._admit_patch.start()
        self.done_at: datetime | None = None
        self.plugged_seen: datetime | None = None
        self.done_seen: datetime | None = None

    def token(self) -> dict[str, Any]:
        """Fresh tokens for the Volvo app with every scope the integration asks for."""
        return self.sim.oauth.issue_tokens(CLIENT_ID, SCOPES)

    def plug_in(self, now: datetime) -> None:
        """The owner plugs in on AC; the car charges by itself. Notes when it will be done."""
        self.car.update(
            {
                "battery_level": START_LEVEL,
                "target_level": TARGET_LEVEL,
                "plugged": "AC",
                "charging_power_w": CHARGER_W,
            },
            now,
        )
        capacity = self.car.battery_capacity_kwh or 0.0
        hours = (TARGET_LEVEL - START_LEVEL) / 100 * capacity / (CHARGER_W / 1000)
        self.done_at = now + timedelta(hours=hours)

    def observe(self, now: datetime, connection: str | None, charging: str | None) -> None:
        """What the user is shown now: note the first sight of the plug-in and of DONE."""
        if now < PLUG_IN_AT:
            return
        if self.plugged_seen is None and connection == ConnectionStatus.CONNECTED_AC:
            self.plugged_seen = now
        done = self.done_at is not None and now >= self.done_at
        if done and self.done_seen is None and charging == ChargingState.COMPLETE:
            self.done_seen = now

    def result(self) -> DayResult:
        """The day's counts; stops counting refusals."""
        self._admit_patch.stop()
        self.sim.volvo.settle()
        return DayResult(
            requests=Counter(f"{method} {path}" for method, path in self.log),
            peak_minute=peak_in_window(self.log.times, WINDOW),
            refused=self.refused,
            plug_in_seen_after=None
            if self.plugged_seen is None
            else self.plugged_seen - PLUG_IN_AT,
            done_seen_after=(
                None
                if self.done_seen is None or self.done_at is None
                else self.done_seen - self.done_at
            ),
            final_soc=round(self.car.battery_level),
        )


def peak_in_window(times: Sequence[datetime], window: timedelta) -> int:
    """The most requests in any `window`-long span (sliding, so at least any fixed window's)."""
    ordered, peak, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def entry_for(sim: Simulator, token: dict[str, Any]) -> MockConfigEntry:
    """A Volvo entry as the config flow stores it, signed in to the simulator's Volvo ID."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volvo",
        unique_id="sim-volvo-account",
        version=2,
        data={
            "provider": "volvo",
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: CLIENT_SECRET,
            CONF_API_KEY: API_KEY,
            "environment": ENVIRONMENT_CUSTOM,
            CONF_URL: sim.url,
            CONF_EXCLUDED_VEHICLES: [],
            "auth_implementation": f"{DOMAIN}_volvo_{ENVIRONMENT_CUSTOM}_{CLIENT_ID}",
            "token": {
                **token,
                "token_type": "Bearer",
                "expires_in": 3 * 86400,
                "expires_at": time.time() + 3 * 86400,
            },
        },
    )


def next_read(coordinator: VehicleCoordinator, now: datetime) -> datetime:
    """The regular read, or the earlier one a command asked for."""
    regular = now + (coordinator.update_interval or timedelta(minutes=1))
    extra = coordinator.extra_read_at
    return min(regular, extra) if extra is not None and extra > now else regular


async def ev_cloud_day(hass: HomeAssistant) -> DayResult:
    """The real integration over the day, both its coordinators driven by the virtual clock."""
    with (
        freeze_time(DAY_START, real_asyncio=True) as frozen,
        patch("homeassistant.util.dt.utcnow", lambda: datetime.now(UTC)),
    ):
        async with Simulator(command_delay=0.0, token_lifetime=3 * 86400) as sim:
            recorder = Recorder(sim)
            entry = entry_for(sim, recorder.token())
            entry.add_to_hass(hass)
            if not await hass.config_entries.async_setup(entry.entry_id):
                raise RuntimeError(f"Volvo set-up failed: {entry.state}")
            await hass.async_block_till_done()
            vehicle = next(iter(entry.runtime_data.vehicles.values()))
            coordinator, commands = vehicle.coordinator, vehicle.commands
            fleet = entry.runtime_data.fleet
            registry = er.async_get(hass)

            def shown(key: str) -> str | None:
                unique_id = f"{vehicle.device_key}_{key}"
                entity_id = registry.async_get_entity_id("sensor", DOMAIN, unique_id)
                state = hass.states.get(entity_id) if entity_id else None
                return state.state if state else None

            events = [(PLUG_IN_AT, "plug_in"), (CLIMATE_AT, "climate")]
            next_poll = next_read(coordinator, DAY_START)
            next_fleet = DAY_START + (fleet.update_interval or timedelta(hours=1))
            while True:
                now = min([next_poll, next_fleet, *(at for at, _ in events)])
                if now >= DAY_END:
                    break
                frozen.move_to(now)
                if next_fleet == now:
                    await fleet.async_refresh()
                    next_fleet = now + (fleet.update_interval or timedelta(hours=1))
                if next_poll == now:
                    await coordinator.async_refresh()
                    await hass.async_block_till_done()
                    recorder.observe(now, shown("connection_status"), shown("charging_state"))
                    next_poll = next_read(coordinator, now)
                if events and events[0][0] == now:
                    _, what = events.pop(0)
                    if what == "plug_in":
                        recorder.plug_in(now)
                    else:
                        await commands.async_execute(Command(type=CommandType.CLIMATE_ON))
                        next_poll = min(next_poll, next_read(coordinator, now))
            frozen.move_to(DAY_END)
            result = recorder.result()
            await hass.config_entries.async_remove(entry.entry_id)
    return result


async def fixed_poll_day() -> DayResult:
    """Core `volvo`'s pace: its tiers of GETs all day, set-up and the climate command included."""
    with freeze_time(DAY_START, real_asyncio=True) as frozen:
        async with (
            Simulator(command_delay=0.0, token_lifetime=3 * 86400) as sim,
            aiohttp.ClientSession() as session,
        ):
            recorder = Recorder(sim)
            token = str(recorder.token()["access_token"])
            headers = {
                "Authorization": f"Bearer {token}",
                volvo_const.API_KEY_HEADER: API_KEY,
                "Accept": "application/json",
            }

            async def access_token() -> str:
                return token

            client = VolvoClient(
                session,
                ClientConfig(
                    base_url=sim.url,
                    client_id=CLIENT_ID,
                    client_secret="",
                    access_token=access_token,
                ),
                API_KEY,
            )

            async def get(path: str) -> Any:
                async with session.get(f"{sim.url}{path}", headers=headers) as response:
                    response.raise_for_status()
                    return await response.json()

            # Set-up: the car list, then the car's details, commands and energy capabilities.
            info = next(v for v in await client.async_get_vehicles() if v.key == CAR)
            energy_path = f"{volvo_const.ENERGY_PATH}/{CAR}/state"
            minute = 0
            now = DAY_START
            while now < DAY_END:
                frozen.move_to(now)
                for path, period in FIXED_TIERS:
                    if minute % period:
                        continue
                    body = await get(path)
                    if path == energy_path:
                        state: VehicleState = parse.vehicle_state(now, energy=body).state
                        recorder.observe(
                            now,
                            state.connection_status and state.connection_status.value,
                            state.charging_state and state.charging_state.value,
                        )
                if now == PLUG_IN_AT:
                    recorder.plug_in(now)
                if now == CLIMATE_AT:
                    await client.async_send_command(info, Command(type=CommandType.CLIMATE_ON))
                minute += 1
                now += timedelta(minutes=1)
            frozen.move_to(DAY_END)
            result = recorder.result()
            await client.async_close()
    return result


def _minutes(delta: timedelta | None) -> str:
    return "never" if delta is None else f"{delta.total_seconds() / 60:g} min"


def rows(ours: DayResult, fixed: DayResult) -> list[tuple[object, ...]]:
    """Requests by endpoint, the total, the busiest minute and how late the news came."""
    endpoints = sorted(
        ours.requests.keys() | fixed.requests.keys(),
        key=lambda name: (-(ours.requests[name] + fixed.requests[name]), name),
    )
    runs = (ours, fixed)
    table: list[tuple[object, ...]] = [
        (name, *(run.requests[name] for run in runs)) for name in endpoints
    ]
    table += [
        ("**total requests / day**", *(f"**{run.requests.total()}**" for run in runs)),
        (
            f"**peak requests in any minute** (quota {QUOTA})",
            *(f"**{run.peak_minute}** ({run.peak_minute / QUOTA:.0%})" for run in runs),
        ),
        ("refused (429)", *(run.refused for run in runs)),
        (
            "plug-in at 18:00 shown as connected_ac after",
            *(_minutes(r.plug_in_seen_after) for r in runs),
        ),
        ("charge DONE shown after", *(_minutes(run.done_seen_after) for run in runs)),
        ("final SoC %", *(run.final_soc for run in runs)),
    ]
    return table
