"""Fleet scale: 500 simulated Volteras cars in one entry.

The set-up time comes from `bench_fleet_setup` (fresh processes, the simulator in its own). Here,
in the benchmark's process: the memory each car costs, the longest callback (asyncio's
slow-callback report) over two hours of virtual time, and how the cars' reads
spread over those hours (requests per minute: the peak and how many minutes saw any), around noon
local time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
import gc
import logging
import re
import sys
import threading
import time
from typing import Self
from unittest.mock import patch

from freezegun import freeze_time
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from simulator import Simulator

from . import bench_fleet_setup
from .bench_day import print_table, setup_entry

CARS = 500
SLOW_CALLBACK = re.compile(r"took ([0-9.]+) seconds")


class StallMeter(logging.Handler):
    """The longest single callback, from asyncio's own slow-callback report (debug mode).

    Debug mode makes asyncio time every callback and log those over `slow_callback_duration`;
    this handler keeps the longest. It slows the loop a little; the set-up time is measured
    elsewhere, undisturbed.
    """

    def __init__(self) -> None:
        """Not listening yet."""
        super().__init__(logging.WARNING)
        self.longest = 0.0
        self.culprit = ""
        self._own: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the duration of a slow callback."""
        found = SLOW_CALLBACK.search(message := record.getMessage())
        if self._own is not None and f"name='{self._own}'" in message:
            # The benchmark's own task (building the fleet, moving the clock), not Home Assistant.
            return
        if found is not None and float(found.group(1)) > self.longest:
            self.longest, self.culprit = float(found.group(1)), message[:300]

    def reported(self) -> str:
        """The longest, or that none passed the report's 10 ms threshold."""
        return f"{self.longest * 1000:.0f} ms" if self.longest else "none over 10 ms"

    def __enter__(self) -> Self:
        """Report every callback over 10 ms, with Python's garbage collector paused.

        A full collection of a heap holding 10,000 entities takes a few hundred milliseconds in
        whichever callback triggers it; that is measured on its own (`full_collection_ms`).
        """
        gc.disable()
        task = asyncio.current_task()
        self._own = task.get_name() if task is not None else None
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.01
        logging.getLogger("asyncio").addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        """Stop listening."""
        asyncio.get_running_loop().set_debug(False)
        logging.getLogger("asyncio").removeHandler(self)
        gc.enable()


def full_collection_ms() -> float:
    """How long one full garbage collection of the process's heap takes now."""
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


class SimulatorThread:
    """The simulator on its own event loop in a thread, as a real cloud is elsewhere.

    Sharing Home Assistant's loop, its work answering 500 cars would count as Home Assistant's
    stalls.
    """

    def __init__(self) -> None:
        """Not started."""
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.sim = Simulator(command_delay=0.0, token_lifetime=86400)

    def __enter__(self) -> Simulator:
        """Start the loop and the simulator on it."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result()
        return self.sim

    def __exit__(self, *_: object) -> None:
        """Stop both."""
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _heap() -> int:
    """Bytes the Python heap holds after a full collection (tracemalloc would slow the run)."""
    gc.collect()
    return sum(sys.getsizeof(o) for o in gc.get_objects())


def fill_fleet(sim: Simulator) -> None:
    """Replace the simulator's cars with the fleet's."""
    for vehicle_id in list(sim.volteras.vehicles):
        sim.volteras.remove_vehicle(vehicle_id)
    for index in range(CARS):
        # A mix: most parked, some plugged in, some charging.
        sim.volteras.add_vehicle(
            make="KIA",
            model="EV6",
            soc=30.0 + index % 60,
            plugged_in=index % 5 == 0,
            charging=index % 10 == 0,
        )


async def _noon_here(hass: HomeAssistant) -> None:
    """Home Assistant's time zone set to where it is about noon now.

    The two hours measured are then daytime whenever the benchmark runs: at night, parked cars
    are read every two hours, and the figures would depend on the hour of the run.
    """
    east = 12 - dt_util.utcnow().hour  # -11 .. 12 hours east of UTC
    # POSIX-style names count the other way: Etc/GMT-3 is three hours east.
    await hass.config.async_set_time_zone(f"Etc/GMT{-east:+d}" if east else "Etc/GMT")


async def fleet_scale(hass: HomeAssistant) -> list[tuple[str, str]]:
    """Set up 500 cars, then let two virtual hours pass; the figures as table rows."""
    from .bench import entry_for  # noqa: PLC0415 - bench imports this module

    # Set-up on the real clock (freezegun would slow every timestamp); the polling after it on a
    # virtual clock that starts where the real one stood, in a time zone where that is noon.
    await _noon_here(hass)
    with SimulatorThread() as sim:
        fill_fleet(sim)
        sim.volteras.request_log.clear()
        entry = entry_for(sim, [])
        gc.collect()
        heap_before = _heap()
        await setup_entry(hass, entry)
        memory = _heap() - heap_before
        collection = full_collection_ms()
        setup_requests = len(sim.volteras.request_log)

        per_minute: Counter[int] = Counter()
        coordinators = [v.coordinator for v in entry.runtime_data.vehicles.values()]
        start = dt_util.utcnow()
        with (
            freeze_time(start, real_asyncio=True) as frozen,
            patch("homeassistant.util.dt.utcnow", lambda: datetime.now(UTC)),
            StallMeter() as running_stall,
        ):
            for minute in range(1, 121):
                before = len(sim.volteras.request_log)
                now = start + timedelta(minutes=minute)
                frozen.move_to(now)
                # What Home Assistant's timers do: every car whose read is due is read.
                due = [c for c in coordinators if c.next_read_at <= now]
                await asyncio.gather(*(c.async_refresh() for c in due))
                await hass.async_block_till_done()
                per_minute[minute] = len(sim.volteras.request_log) - before
        await hass.config_entries.async_remove(entry.entry_id)
    await hass.config.async_set_time_zone("UTC")

    busy = [count for count in per_minute.values() if count]
    return [
        ("requests during set-up", str(setup_requests)),
        ("memory per car (objects the set-up added)", f"{memory / CARS / 1024:.0f} KiB"),
        ("longest callback over 2 h of polling", running_stall.reported()),
        (
            "one full garbage collection of the heap (Python, not counted above)",
            f"{collection:.0f} ms",
        ),
        ("requests over 2 h", str(sum(per_minute.values()))),
        ("peak requests in one minute", str(max(per_minute.values(), default=0))),
        ("minutes with any request", f"{len(busy)} of 120"),
    ]


async def print_fleet_scale(hass: HomeAssistant) -> None:
    """The fleet table: the set-up timed in fresh processes, the rest in this one."""
    setup = await asyncio.get_running_loop().run_in_executor(None, bench_fleet_setup.measure)
    print_table(
        f"Fleet scale (Volteras, {CARS} cars in one entry)",
        ("figure", "value"),
        [("cars", str(CARS)), *bench_fleet_setup.rows(setup), *await fleet_scale(hass)],
    )
