"""EV Cloud benchmark: the real integration in a real Home Assistant against the simulator.

1. A simulated 24-hour day for one vehicle (virtual clock): parked and unplugged, plugged in at
   18:00 and charging to its limit, climate on at 07:30. Every poll is the coordinator's own
   choice of interval; the table counts the HTTP requests the simulator received, by endpoint.
2. Command round trips (wall clock): service call until the car's confirmation, with the
   integration's real follow-up schedule against a simulator that settles commands after a delay.
3. Set-up time (wall clock) of a config entry with 1 and with 50 vehicles.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
import statistics
import time
from unittest.mock import patch

from freezegun import freeze_time
from homeassistant import loader
from homeassistant.components.http.server import HomeAssistantHTTP
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant

# Before Home Assistant's loader runs: our custom_components package must be the one imported.
import custom_components.ev_cloud  # noqa: F401
from custom_components.ev_cloud.const import CONF_EXCLUDED_VEHICLES, DOMAIN, ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.coordinator import VehicleCoordinator
from custom_components.ev_cloud.runtime import VehicleData
from simulator import Simulator

from . import bench_tesla, bench_volvo

DAY_START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PLUG_IN_AT = DAY_START.replace(hour=18)
CLIMATE_AT = (DAY_START + timedelta(days=1)).replace(hour=7, minute=30)
DAY_END = DAY_START + timedelta(days=1)


async def _no_server(self: HomeAssistantHTTP) -> None:
    """In place of binding and starting Home Assistant's web server."""


@asynccontextmanager
async def home_assistant() -> AsyncIterator[HomeAssistant]:
    """A test-harness Home Assistant that can load custom integrations."""
    async with async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        # The benchmark serves nothing: no port is bound, so a Home Assistant already on 8123
        # (scripts/develop) cannot stop the run.
        with (
            patch.object(HomeAssistantHTTP, "async_bind", _no_server),
            patch.object(HomeAssistantHTTP, "start", _no_server),
        ):
            yield hass
        await hass.async_stop(force=True)


def entry_for(sim: Simulator, excluded: list[str]) -> MockConfigEntry:
    """A config entry pointing at the simulator."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volteras",
        unique_id="sim-org",
        data={
            "provider": "volteras",
            CONF_CLIENT_ID: "sim-client",
            CONF_CLIENT_SECRET: "sim-secret",
            "environment": ENVIRONMENT_CUSTOM,
            CONF_URL: sim.url,
            CONF_EXCLUDED_VEHICLES: excluded,
        },
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait for every platform."""
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError(f"set-up failed: {entry.state}")
    await hass.async_block_till_done()


def vehicle_data(hass: HomeAssistant, vehicle_id: str) -> VehicleData:
    """The loaded vehicle with this provider id."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        vehicles: dict[str, VehicleData] = entry.runtime_data.vehicles
        for vehicle in vehicles.values():
            if vehicle.info.id == vehicle_id:
                return vehicle
    raise RuntimeError(f"vehicle {vehicle_id} is not loaded")


def entity_id(hass: HomeAssistant, domain: str, vehicle_id: str, key: str) -> str:
    """Entity id from our unique id scheme (provider, VIN, key)."""
    unique_id = f"{vehicle_data(hass, vehicle_id).device_key}_{key}"
    found = er.async_get(hass).async_get_entity_id(domain, DOMAIN, unique_id)
    if found is None:
        raise RuntimeError(f"no {domain} {key} for {vehicle_id}")
    return found


def next_read(coordinator: VehicleCoordinator, now: datetime) -> datetime:
    """The regular read, or the earlier one a command asked for."""
    regular = now + (coordinator.update_interval or timedelta(minutes=1))
    extra = coordinator.extra_read_at
    return min(regular, extra) if extra is not None and extra > now else regular


async def simulated_day(hass: HomeAssistant) -> tuple[Counter[str], dict[str, int]]:
    """Requests by endpoint over 24 virtual hours for one vehicle, plus a few counters."""
    # Home Assistant binds utcnow at import; point it at the frozen clock like its test harness does.
    with (
        freeze_time(DAY_START, real_asyncio=True) as frozen,
        patch("homeassistant.util.dt.utcnow", lambda: datetime.now(UTC)),
    ):
        async with Simulator(command_delay=0.0) as sim:
            # The parked, unplugged car of the default fleet is the one we follow.
            vehicle_id = next(vid for vid, v in sim.volteras.vehicles.items() if not v.plugged_in)
            others = [vid for vid in sim.volteras.vehicles if vid != vehicle_id]
            sim.volteras.vehicles[vehicle_id].soc = 35.0
            sim.volteras.vehicles[vehicle_id].charge_limit = 80
            entry = entry_for(sim, others)
            await setup_entry(hass, entry)
            vehicle = vehicle_data(hass, vehicle_id)
            coordinator, fleet = vehicle.coordinator, entry.runtime_data.fleet
            charging_switch = entity_id(hass, "switch", vehicle_id, "charge")
            climate_switch = entity_id(hass, "switch", vehicle_id, "climate")

            events = [(PLUG_IN_AT, "plug_in"), (CLIMATE_AT, "climate")]
            now = DAY_START
            next_poll = now + (coordinator.update_interval or timedelta(minutes=1))
            next_fleet = now + (fleet.update_interval or timedelta(hours=1))
            polls = Counter[str]()
            while True:
                now = min([next_poll, next_fleet, *(at for at, _ in events)])
                if now >= DAY_END:
                    break
                frozen.move_to(now)
                if events and events[0][0] == now:
                    _, what = events.pop(0)
                    if what == "plug_in":
                        sim.volteras.vehicles[vehicle_id].plugged_in = True
                        await hass.services.async_call(
                            "switch", "turn_on", {"entity_id": charging_switch}, blocking=True
                        )
                    else:
                        await hass.services.async_call(
                            "switch", "turn_on", {"entity_id": climate_switch}, blocking=True
                        )
                    next_poll = min(next_poll, next_read(coordinator, now))
                    continue
                if next_fleet == now:
                    await fleet.async_refresh()
                    next_fleet = now + (fleet.update_interval or timedelta(hours=1))
                if next_poll == now:
                    await coordinator.async_refresh()
                    state = coordinator.data
                    phase = (
                        "charging"
                        if state.charging
                        else "plugged in"
                        if state.plugged_in
                        else "parked"
                    )
                    polls[phase] += 1
                    next_poll = next_read(coordinator, now)
            counters = {
                "final_soc": round(sim.volteras.vehicles[vehicle_id].soc),
                "polls_parked": polls["parked"],
                "polls_plugged": polls["plugged in"],
                "polls_charging": polls["charging"],
            }
            requests = Counter(f"{method} {path}" for method, path in sim.volteras.request_log)
            await hass.config_entries.async_remove(entry.entry_id)
    return requests, counters


async def command_round_trips(
    hass: HomeAssistant, command_delay: float, repeats: int
) -> dict[str, list[float]]:
    """Wall-clock seconds from service call to confirmation, per command."""
    results: dict[str, list[float]] = {}
    async with Simulator(command_delay=command_delay) as sim:
        vehicle_id = next(vid for vid, v in sim.volteras.vehicles.items() if v.make == "TESLA")
        others = [vid for vid in sim.volteras.vehicles if vid != vehicle_id]
        entry = entry_for(sim, others)
        await setup_entry(hass, entry)
        calls = [
            ("start charging", "switch", "turn_on", "charge", {}),
            ("stop charging", "switch", "turn_off", "charge", {}),
            ("set charge limit", "number", "set_value", "charge_limit", {"value": 85}),
            ("climate on", "switch", "turn_on", "climate", {}),
            ("lock doors", "lock", "lock", "door_lock", {}),
        ]
        for _ in range(repeats):
            for label, domain, service, key, extra in calls:
                target = entity_id(hass, domain, vehicle_id, key)
                started = time.perf_counter()
                await hass.services.async_call(
                    domain, service, {"entity_id": target, **extra}, blocking=True
                )
                results.setdefault(label, []).append(time.perf_counter() - started)
        commands = sum(1 for m, p in sim.volteras.request_log if m == "POST" and ":" in p)
        follow_ups = sum(1 for m, p in sim.volteras.request_log if "command-executions/" in p)
        results["_requests_per_command"] = [(commands + follow_ups) / commands]
        await hass.config_entries.async_remove(entry.entry_id)
    return results


async def setup_time(hass: HomeAssistant, vehicles: int) -> tuple[float, int]:
    """Wall-clock seconds to set up an entry with this many vehicles, and requests made."""
    async with Simulator(command_delay=0.0) as sim:
        for vehicle_id in list(sim.volteras.vehicles):
            sim.volteras.remove_vehicle(vehicle_id)
        for index in range(vehicles):
            sim.volteras.add_vehicle(make="TESLA", model="Model Y", soc=40.0 + index % 50)
        sim.volteras.request_log.clear()
        entry = entry_for(sim, [])
        started = time.perf_counter()
        await setup_entry(hass, entry)
        elapsed = time.perf_counter() - started
        requests = len(sim.volteras.request_log)
        await hass.config_entries.async_remove(entry.entry_id)
    return elapsed, requests


def print_table(title: str, header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    """A Markdown table, ready for the README."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


async def main(repeats: int, command_delay: float) -> None:
    """Run the three benchmarks in one Home Assistant and print their tables."""
    async with home_assistant() as hass:
        await run_all(hass, repeats, command_delay)


async def run_all(hass: HomeAssistant, repeats: int, command_delay: float) -> None:
    """The three benchmarks, one after the other."""
    requests, counters = await simulated_day(hass)
    total = sum(requests.values())
    print_table(
        "Simulated day, one vehicle (parked; plugged in and charging from 18:00; climate 07:30)",
        ("endpoint", "requests / day"),
        [*sorted(requests.items(), key=lambda kv: -kv[1]), ("**total**", f"**{total}**")],
    )
    print(
        f"\nPolls: {counters['polls_parked']} parked, {counters['polls_plugged']} plugged in, "
        f"{counters['polls_charging']} charging; state of charge at the end: "
        f"{counters['final_soc']} %. Wake-ups: 0 (reads never wake the car; Volteras has no "
        "wake command)."
    )

    trips = await command_round_trips(hass, command_delay, repeats)
    per_command = trips.pop("_requests_per_command")[0]
    print_table(
        f"Command round trip (simulator settles commands after {command_delay:g} s, "
        f"{repeats} runs each)",
        ("command", "median s", "max s"),
        [
            (label, f"{statistics.median(values):.2f}", f"{max(values):.2f}")
            for label, values in trips.items()
        ],
    )
    print(f"\nRequests per command (send + follow-ups): {per_command:.1f}")

    rows = []
    for count in (1, 50):
        elapsed, made = await setup_time(hass, count)
        rows.append((count, f"{elapsed:.2f}", made))
    print_table("Set-up time", ("vehicles", "seconds", "requests"), rows)

    ours = await bench_tesla.ev_cloud_day(hass)
    fixed = await bench_tesla.fixed_poll_day()
    print_table(
        "Tesla, one car's day at Tesla's prices (asleep from noon; plugged in and charging "
        "35 to 80 % from 18:00; climate 07:30)",
        (
            "",
            "vehicle_data ($0.002)",
            "commands ($0.001)",
            "wakes ($0.02)",
            "free state checks",
            "$ / month",
            "final SoC %",
        ),
        [
            (
                label,
                run["data"],
                run["command"],
                run["wake"],
                run["free"],
                f"{run['usd_month']:.2f}",
                run["final_soc"],
            )
            for label, run in (("EV Cloud", ours), ("fixed 10-min poll (tesla_fleet)", fixed))
        ],
    )

    volvo_ours = await bench_volvo.ev_cloud_day(hass)
    volvo_fixed = await bench_volvo.fixed_poll_day()
    print_table(bench_volvo.TITLE, bench_volvo.HEADER, bench_volvo.rows(volvo_ours, volvo_fixed))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command")
    parser.add_argument(
        "--command-delay",
        type=float,
        default=3.0,
        help="seconds the simulator keeps a command pending",
    )
    args = parser.parse_args()
    asyncio.run(main(args.repeats, args.command_delay))
