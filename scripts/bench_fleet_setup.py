"""How long 500 cars take to set up, beside what Home Assistant alone needs for as many entities.

Each sample is a fresh Python process, as a Home Assistant start is: the heap earlier benchmarks
left behind would otherwise make every garbage collection, and so the set-up, slower. The
simulator runs in a process of its own, as a car maker's cloud is elsewhere: in a thread it would
share the interpreter lock and the heap with Home Assistant.

A sample measures, in one process:
- the first set-up of the entry (empty registries, as right after the config flow),
- a restart's set-up (a reload: the registries already hold every device and entity),
- the 500 first reads on their own (the part of the set-up that is the cloud's),
- the longest callback of one more reload, under asyncio's debug mode (which slows it), and
in a second process, Home Assistant's floor: as many bare entities (fixed name and value, no
coordinator, no translation), on as many devices, enabled and disabled alike, added the same way.

    python -m scripts.bench_fleet_setup sample      # one sample, as JSON
    python -m scripts.bench_fleet_setup floor N M D  # the floor for N enabled, M disabled on D devices
    python -m scripts.bench_fleet_setup simulator   # the fleet's simulator; prints its URL
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
import gc
import json
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockEntityPlatform

from simulator import Simulator

from .bench_day import home_assistant, setup_entry

SAMPLES = 3
MODULE = "scripts.bench_fleet_setup"


@dataclass(frozen=True)
class SetupSample:
    """One fresh process's figures, in seconds and counts."""

    first_setup: float
    restart_setup: float
    first_reads: float
    # The longest callback of a reload (unload and set-up) under asyncio's debug mode.
    longest_callback: float
    enabled: int
    disabled: int
    devices: int
    floor: float = 0.0


def _fleet_simulator() -> Simulator:
    from .bench_fleet import fill_fleet  # noqa: PLC0415 - bench_fleet imports this module

    sim = Simulator(command_delay=0.0, token_lifetime=86400)
    fill_fleet(sim)
    return sim


async def _serve_simulator() -> None:
    """The fleet's simulator until standard input closes; its URL on the first line."""
    sim = _fleet_simulator()
    print(await sim.start(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.stop()


@contextmanager
def simulator_process() -> Iterator[str]:
    """The fleet's simulator in a child process; yields its URL."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", MODULE, "simulator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.communicate("", timeout=60)


async def _timed(hass: HomeAssistant, work: Awaitable[Any]) -> float:
    started = time.perf_counter()
    await work
    await hass.async_block_till_done()
    return time.perf_counter() - started


async def _sample() -> SetupSample:
    from .bench import entry_for  # noqa: PLC0415 - bench imports bench_fleet, which imports this
    from .bench_fleet import StallMeter  # noqa: PLC0415 - as above

    with simulator_process() as url:
        async with home_assistant() as hass:
            entry = entry_for(SimpleNamespace(url=url), [])  # type: ignore[arg-type]
            gc.collect()
            first = await _timed(hass, setup_entry(hass, entry))
            restart = await _timed(hass, hass.config_entries.async_reload(entry.entry_id))
            registry = er.async_get(hass)
            entities = er.async_entries_for_config_entry(registry, entry.entry_id)
            disabled = sum(1 for e in entities if e.disabled_by is not None)
            coordinators = [v.coordinator for v in entry.runtime_data.vehicles.values()]
            reads = await _timed(hass, asyncio.gather(*(c.async_refresh() for c in coordinators)))
            with StallMeter() as stall:
                # In a task of its own: the meter leaves this one out, and awaited from it, the
                # whole reload would run in this task's steps.
                reload = hass.config_entries.async_reload(entry.entry_id)
                await _timed(hass, asyncio.create_task(reload, name="ev_cloud reload"))
            await hass.config_entries.async_unload(entry.entry_id)
    return SetupSample(
        first_setup=first,
        restart_setup=restart,
        first_reads=reads,
        longest_callback=stall.longest,
        enabled=len(entities) - disabled,
        disabled=disabled,
        devices=len({e.device_id for e in entities}),
    )


class _BareSensor(SensorEntity):
    """The least an entity can be: a fixed name and value, on a device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, device: DeviceInfo, index: int, *, enabled: bool) -> None:
        self._attr_unique_id = f"{next(iter(device['identifiers']))[1]}_{index}"
        self._attr_name = f"Reading {index}"
        self._attr_native_value = index
        self._attr_device_info = device
        self._attr_entity_registry_enabled_default = enabled


async def _floor(enabled: int, disabled: int, devices: int) -> float:
    """Seconds Home Assistant takes to add this many bare entities, five devices at a time."""
    per_device = (enabled + disabled) // devices
    enabled_per_device = enabled // devices
    async with home_assistant() as hass:
        entry = MockConfigEntry(domain="bench_floor")
        entry.add_to_hass(hass)
        platform = MockEntityPlatform(hass, domain="sensor", platform_name="bench_floor")
        platform.config_entry = entry
        cars = [
            DeviceInfo(identifiers={("bench_floor", f"car{car}")}, name=f"Car {car}")
            for car in range(devices)
        ]
        entities = [
            _BareSensor(car, index, enabled=index < enabled_per_device)
            for car in cars
            for index in range(per_device)
        ]
        gc.collect()
        started = time.perf_counter()
        batch = 5 * per_device
        for start in range(0, len(entities), batch):
            await platform.async_add_entities(entities[start : start + batch])
            await asyncio.sleep(0)
        await hass.async_block_till_done()
        return time.perf_counter() - started


def _run_child(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", MODULE, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout.strip()


def measure(samples: int = SAMPLES) -> list[SetupSample]:
    """`samples` fresh processes, each with its floor."""
    results = []
    for _ in range(samples):
        sample = SetupSample(**json.loads(_run_child("sample").splitlines()[-1]))
        floor = float(
            _run_child(
                "floor", str(sample.enabled), str(sample.disabled), str(sample.devices)
            ).splitlines()[-1]
        )
        results.append(SetupSample(**{**asdict(sample), "floor": floor}))
    return results


def rows(samples: list[SetupSample]) -> list[tuple[str, str]]:
    """The set-up rows of the fleet table: medians, and the range over the samples."""

    def figure(name: str) -> str:
        values = [getattr(s, name) for s in samples]
        return f"{statistics.median(values):.2f} s ({min(values):.2f} to {max(values):.2f})"

    last = samples[-1]
    return [
        (
            "entities (enabled + disabled by default), devices",
            f"{last.enabled} + {last.disabled}, {last.devices}",
        ),
        (f"first set-up, median of {len(samples)} fresh processes (range)", figure("first_setup")),
        ("set-up at a restart (registries filled)", figure("restart_setup")),
        ("reading all 500 cars at once (part of each set-up)", figure("first_reads")),
        ("Home Assistant alone: as many bare entities on as many devices", figure("floor")),
        (
            "longest callback during a reload: unload and set-up (asyncio debug, GC paused)",
            (
                f"{max(s.longest_callback for s in samples) * 1000:.0f} ms (the most of "
                f"{len(samples)}; asyncio reports those over 10 ms)"
            ),
        ),
    ]


async def _main_async(args: list[str]) -> None:
    match args:
        case ["simulator"]:
            await _serve_simulator()
        case ["floor", enabled, disabled, devices]:
            print(await _floor(int(enabled), int(disabled), int(devices)))
        case ["sample"]:
            print(json.dumps(asdict(await _sample())))
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    asyncio.run(_main_async(sys.argv[1:]))
