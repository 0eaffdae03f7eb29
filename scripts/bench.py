"""EV Cloud benchmark: the real integration in a real Home Assistant against the simulator.

1. The standard day (scripts/bench_day.py) for one car of each provider, on a virtual clock:
   EV Cloud beside a fixed 10-minute poll (and core `volvo`'s tiers; for Volteras also EV Cloud
   with its webhook, scripts/bench_push.py), with requests by kind, wake-ups, Tesla's bill,
   pushes, and how stale the plug-in, the charge's end and each command's effect were when shown.
2. Command round trips (wall clock): service call until the car's confirmation, with the
   integration's real follow-up schedule against a simulator that settles commands after a delay.
3. Set-up time (wall clock) of a config entry with 1 and with 50 vehicles.
4. Fleet scale: 500 cars in one entry (set-up, memory, slow callbacks, requests per minute).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
import statistics
import time
from typing import NamedTuple
from unittest.mock import patch

from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import (
    CONF_EXCLUDED_VEHICLES,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
)
from custom_components.ev_cloud.model import VehicleState
from custom_components.ev_cloud.providers import ClientConfig
from custom_components.ev_cloud.providers.volteras import SPEC as VOLTERAS
from custom_components.ev_cloud.runtime import VehicleData
from simulator import Simulator, SimVehicle
from simulator.volteras.webhooks import new_secret

from . import bench_tesla, bench_volvo
from .bench_day import (
    CHARGER_KW,
    COMMANDS,
    DAY_START,
    EV_CLOUD,
    EV_CLOUD_PUSH,
    EXPLANATION,
    LIMIT,
    PUSH,
    START_SOC,
    TARGETS,
    DayResult,
    EvCloudDriver,
    FixedPollDriver,
    Kind,
    ProviderDay,
    RequestLog,
    Truth,
    command_runner,
    home_assistant,
    print_table,
    render,
    run_day,
    setup_entry,
    virtual_clock,
)
from .bench_fleet import print_fleet_scale
from .bench_push import (
    COMMAND_PUMP,
    EvCloudPushDriver,
    Pusher,
    WebhookServer,
    receiver_on_virtual_clock,
    silence_note,
)

# The default fleet's parked, unplugged car.
VOLTERAS_CAR = "veh-vw-id4"
VOLTERAS_CLIENT = ("sim-client", "sim-secret")
WEBHOOK_ID = "ev-cloud-bench-webhook"


def entry_for(
    sim: Simulator, excluded: list[str], *, webhook_secret: str | None = None
) -> MockConfigEntry:
    """A config entry pointing at the simulator; with a secret, also its webhook."""
    pushed = {} if webhook_secret is None else {CONF_WEBHOOK_ID: WEBHOOK_ID}
    options = {} if webhook_secret is None else {CONF_WEBHOOK_SECRET: webhook_secret}
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volteras",
        unique_id="sim-org",
        data={
            "provider": "volteras",
            CONF_CLIENT_ID: VOLTERAS_CLIENT[0],
            CONF_CLIENT_SECRET: VOLTERAS_CLIENT[1],
            "environment": ENVIRONMENT_CUSTOM,
            CONF_URL: sim.url,
            CONF_EXCLUDED_VEHICLES: excluded,
            **pushed,
        },
        options=options,
    )


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


# --- Volteras's standard day ----------------------------------------------------------------------


def volteras_kind(method: str, path: str) -> Kind:
    """Volteras's routes by what they are for."""
    if path.endswith("/telemetry"):
        return Kind.DATA
    if path == "/v1/oauth2/token":
        return Kind.TOKEN
    if "/command-execution:" in path:
        return Kind.COMMAND
    if "/command-executions/" in path:
        return Kind.FOLLOW_UP
    if path.startswith(("/v1/vehicles", "/v1/accounts")):
        return Kind.VEHICLE_LIST
    return Kind.OTHER


class VolterasSimCar:
    """The default fleet's Volkswagen ID.4, parked and unplugged at 35 % with an 80 % limit."""

    def __init__(self, sim: Simulator) -> None:
        """Set the car up for the day."""
        self.sim = sim
        self.car: SimVehicle = sim.volteras.vehicles[VOLTERAS_CAR]
        self.car.soc, self.car.charge_limit = START_SOC, LIMIT
        self.car.charge_power_kw = CHARGER_KW
        self.capacity_kwh = self.car.battery_capacity_kwh
        self.description = f"{self.car.make.title()} {self.car.model} via Volteras (simulator)"
        self.others = [vid for vid in sim.volteras.vehicles if vid != VOLTERAS_CAR]

    def truth(self, now: datetime) -> Truth:
        """The car brought up to `now`."""
        car = self.car
        car.advance(now)
        return Truth(
            plugged=car.plugged_in,
            charging=car.charging_now,
            soc=car.soc,
            limit=float(car.charge_limit),
            rate=car.charge_power_kw / car.battery_capacity_kwh * 100,
        )

    def plug_in(self, now: datetime) -> None:
        """Plugged in (activity: the car wakes)."""
        self.car.update({"plugged_in": True}, now)

    def unplug(self, now: datetime) -> None:
        """Unplugged."""
        self.car.update({"plugged_in": False}, now)

    def wakes(self) -> int:
        """Volteras has no wake-up."""
        return 0


async def volteras_ev_cloud_day(hass: HomeAssistant) -> tuple[DayResult, VolterasSimCar]:
    """The real integration over the day, both its coordinators on the virtual clock."""
    with virtual_clock() as move_to:
        async with Simulator(command_delay=0.0) as sim:
            car = VolterasSimCar(sim)
            log = RequestLog()
            log.tap(sim.volteras, volteras_kind)
            entry = entry_for(sim, car.others)
            await setup_entry(hass, entry)
            driver = EvCloudDriver(hass, entry, vehicle_data(hass, VOLTERAS_CAR))
            timeline = await run_day(move_to, car, driver)
            result = DayResult(
                mode=EV_CLOUD, timeline=timeline, requests=log.requests, reasons=driver.reasons
            )
            await hass.config_entries.async_remove(entry.entry_id)
    return result, car


class PushDay(NamedTuple):
    """The push run's result and what its notes say."""

    result: DayResult
    notes: list[str]


async def volteras_push_day(hass: HomeAssistant) -> PushDay:
    """The real integration with its webhook; the simulator pushes over real HTTP."""
    with virtual_clock() as move_to, receiver_on_virtual_clock():
        async with WebhookServer(hass) as server, Simulator(command_delay=0.0) as sim:
            # One car's day: the default fleet's other cars would push to the same endpoint
            # (its Polestar charges from 12:00 to 14:00) and keep the channel alive for it.
            for other in [vid for vid in sim.volteras.vehicles if vid != VOLTERAS_CAR]:
                sim.volteras.remove_vehicle(other)
            car = VolterasSimCar(sim)
            log = RequestLog()
            log.tap(sim.volteras, volteras_kind)
            secret = new_secret()
            entry = entry_for(sim, car.others, webhook_secret=secret)
            await setup_entry(hass, entry)
            channel = entry.runtime_data.push
            if channel is None:
                raise RuntimeError("the entry set up no push channel")
            sim.webhooks.add_endpoint(server.url(WEBHOOK_ID), secret)
            pusher = Pusher(sim.webhooks)
            driver = EvCloudPushDriver(hass, entry, vehicle_data(hass, VOLTERAS_CAR), pusher)
            timeline = await run_day(move_to, car, driver, every_minute=driver.every_minute)
            accepted = channel.counts["accepted"]
            refusals = {why: n for why, n in channel.counts.items() if why != "accepted"}
            refused = sum(refusals.values())
            sent = pusher.counts(VOLTERAS_CAR)
            await hass.config_entries.async_remove(entry.entry_id)
    result = DayResult(
        mode=EV_CLOUD_PUSH,
        timeline=timeline,
        requests=log.requests,
        reasons=driver.reasons,
        targets=PUSH,
        pushes=accepted,
        pushes_refused=refused,
    )
    by_event = ", ".join(f"{event} {n}" for event, n in sorted(sent.items()))
    reads = sorted({r.at for r in result.requests if r.kind is Kind.DATA})
    notes = [
        (
            f"{EV_CLOUD_PUSH}: the entry has a webhook id and a signing secret (`whsec_…`). The "
            "benchmark's Home Assistant binds no port, so a small aiohttp server on 127.0.0.1 "
            "hands each delivery to Home Assistant's `webhook.async_handle_webhook`: the "
            "integration's own handler verifies (Svix) and dispatches it, over real HTTP. The "
            "simulator's sender is pumped once per virtual minute, after that minute's events "
            "(it sends `device.telemetry` when the car's readings changed, `command.updated` "
            "when an execution settled), and every "
            f"{COMMAND_PUMP * 1000:g} ms of real time while a command is outstanding "
            f"({pusher.during_commands} deliveries): the virtual clock stands still during a "
            "command and the simulator settles it at once, where Volteras would push its "
            "result seconds after the car answered, not at the next minute. Pumped only once a "
            "minute, the command runner would poll each command once (after 1 s while the "
            "channel is not alive, 30 s while it is) and the start at 18:00 would bring an "
            "extra read at 18:05: artefacts of the standing clock, not of push. The receiver "
            "checks a delivery's age against the virtual clock the simulator signs with. "
            f"Deliveries sent: {by_event}; {accepted} accepted by the integration, "
            f"{refused} refused" + (f" ({refusals})." if refused else ".")
        ),
        (
            "The default fleet's other cars are removed from the simulator for this run (the "
            "other rows exclude them from the entry): their deliveries would reach the same "
            "endpoint, be ignored, and still keep the channel alive for this car. "
            + silence_note(pusher.silences())
        ),
        f"{EV_CLOUD_PUSH} data reads at " + ", ".join(f"{at:%H:%M}" for at in reads) + ".",
    ]
    follow_ups = result.count(Kind.FOLLOW_UP)
    if follow_ups:
        notes.append(
            f"{EV_CLOUD_PUSH}: {follow_ups} command follow-up poll(s) although the result was "
            "pushed: see the command cells for which command."
        )
    return PushDay(result, notes)


async def volteras_fixed_poll_day(hass: HomeAssistant) -> DayResult:
    """GET telemetry every 10 minutes; commands through the same command runner."""
    with virtual_clock() as move_to:
        async with Simulator(command_delay=0.0) as sim:
            car = VolterasSimCar(sim)
            log = RequestLog()
            log.tap(sim.volteras, volteras_kind)
            client = VOLTERAS.create_client(
                async_get_clientsession(hass),
                ClientConfig(
                    base_url=sim.url,
                    client_id=VOLTERAS_CLIENT[0],
                    client_secret=VOLTERAS_CLIENT[1],
                ),
            )
            info = next(v for v in await client.async_get_vehicles() if v.id == VOLTERAS_CAR)

            async def read(_now: datetime) -> VehicleState:
                return await client.async_get_state(info)

            driver = FixedPollDriver(
                read, command_runner(client, VOLTERAS, info), frozenset(COMMANDS)
            )
            timeline = await run_day(move_to, car, driver)
    return DayResult(
        mode="fixed 10-min poll (GET telemetry)", timeline=timeline, requests=log.requests
    )


async def volteras_day(hass: HomeAssistant) -> ProviderDay:
    """The three runs of Volteras's day: polling, with push, a fixed poll."""
    ours, car = await volteras_ev_cloud_day(hass)
    pushed = await volteras_push_day(hass)
    fixed = await volteras_fixed_poll_day(hass)
    return ProviderDay(
        provider="Volteras",
        car=car.description,
        capacity_kwh=car.capacity_kwh,
        results=[ours, pushed.result, fixed],
        notes=[
            (
                "Volteras has no wake-up and sends no climate state (the climate switch is an "
                "assumed state); reading never wakes the car. Raising the limit to 85 % on the "
                "completed car resumes charging in this simulator, so the car completes twice."
            ),
            *pushed.notes,
        ],
    )


# --- command round trips and set-up time ----------------------------------------------------------


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
    for _ in range(repeats):
        seconds, reads = await _unanswered_start(hass, command_delay)
        results.setdefault(UNANSWERED, []).append(seconds)
        results.setdefault("_confirming_reads", []).append(reads)
    return results


UNANSWERED = (
    "start charging, send unanswered (client gives up at 1 s, Volteras answers at 2 s, "
    "the car charges after the command delay)"
)


async def _unanswered_start(hass: HomeAssistant, command_delay: float) -> tuple[float, int]:
    """Start charging where Volteras answers the send after the client gave up; the car acts.

    Seconds to the confirmation (by reading the car) and the reads it took. An entry of its own:
    the client's time-out is fixed when the entry sets up.
    """
    async with Simulator(command_delay=command_delay) as sim:
        vehicle_id = next(vid for vid, v in sim.volteras.vehicles.items() if v.make == "TESLA")
        entry = entry_for(sim, [vid for vid in sim.volteras.vehicles if vid != vehicle_id])
        with patch("custom_components.ev_cloud.providers.volteras.const.REQUEST_TIMEOUT", 1.0):
            await setup_entry(hass, entry)
        target = entity_id(hass, "switch", vehicle_id, "charge")
        sim.faults.set("timeout", path="command-execution:", count=1, delay=2.0)
        before = sum(1 for _, p in sim.volteras.request_log if p.endswith("/telemetry"))
        started = time.perf_counter()
        await hass.services.async_call("switch", "turn_on", {"entity_id": target}, blocking=True)
        seconds = time.perf_counter() - started
        reads = sum(1 for _, p in sim.volteras.request_log if p.endswith("/telemetry")) - before
        await hass.config_entries.async_remove(entry.entry_id)
    return seconds, reads


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


async def main(repeats: int, command_delay: float) -> None:
    """Run the benchmarks in one Home Assistant and print their tables."""
    async with home_assistant() as hass:
        await run_all(hass, repeats, command_delay)


async def run_all(hass: HomeAssistant, repeats: int, command_delay: float) -> None:
    """The benchmarks, one after the other."""
    print(f"## The standard day (from {DAY_START:%Y-%m-%d %H:%M} UTC)\n")
    print(EXPLANATION)
    print()
    print(TARGETS)
    for provider_day in (volteras_day, bench_tesla.day, bench_volvo.day):
        render(await provider_day(hass))

    trips = await command_round_trips(hass, command_delay, repeats)
    per_command = trips.pop("_requests_per_command")[0]
    confirming_reads = trips.pop("_confirming_reads")
    print_table(
        f"Command round trip (Volteras; simulator settles commands after {command_delay:g} s, "
        f"{repeats} runs each)",
        ("command", "median s", "max s"),
        [
            (label, f"{statistics.median(values):.2f}", f"{max(values):.2f}")
            for label, values in trips.items()
        ],
    )
    print(f"\nRequests per command (send + follow-ups): {per_command:.1f}")
    print(
        "Unanswered send: the car is read until it shows the command done; reads it took: "
        + ", ".join(str(r) for r in confirming_reads)
    )

    rows = []
    for count in (1, 50):
        elapsed, made = await setup_time(hass, count)
        rows.append((count, f"{elapsed:.2f}", made))
    print_table("Set-up time (Volteras)", ("vehicles", "seconds", "requests"), rows)
    await print_fleet_scale(hass)


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
