"""Tesla's energy added, as Home Assistant's long-term statistics (the Energy dashboard) count it.

Tesla's `charge_energy_added` restarts at 0 with each charging session; the sensor is a
`total_increasing` kWh sensor, so the recorder must turn it into a `sum` that grows by exactly
the energy charged: across sessions, across a reload of the entry, and across a period in which
the car could not be read. Everything runs against the real recorder (in-memory SQLite) and the
simulated Tesla cloud over HTTP; statistics are compiled per 5-minute period, one period per
reading, as the recorder does every five minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder, get_instance, statistics
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager

from custom_components.ev_cloud.const import DOMAIN
from simulator import Simulator
from simulator.tesla.fleet import TeslaCar

from .conftest import advance
from .test_tesla_fault_matrix import tesla_entry, tesla_world  # noqa: F401

RED = "5YJ3E7EB7KF000101"  # online and plugged in
PERIOD = timedelta(minutes=5)


@pytest.fixture
def mock_recorder_before_hass(
    async_test_recorder: RecorderInstanceContextManager,
) -> None:
    """Set the recorder's database up before `hass`, which an autouse fixture already asks for."""


class EnergyLedger:
    """The RED car's energy-added sensor, read on demand and compiled one period at a time."""

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim: Simulator) -> None:
        """Start on a fresh 5-minute period, with a car that neither charges nor sleeps by itself."""
        self.hass, self.freezer, self.sim = hass, freezer, sim
        self.car: TeslaCar = sim.tesla.cars[RED]
        # The test sets the value; the simulator must not add energy as the clock moves.
        self.car.charging, self.car.plugged_in = False, True
        self.car.charge_energy_added = 0.0
        self.car.sleep_after = 10 * 24 * 3600.0
        now = dt_util.utcnow()
        self.start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
        self.start += PERIOD
        # A minute into the first period: each reading lands well inside its own period.
        freezer.move_to(self.start + timedelta(minutes=1))
        self.period = self.start
        self.entry: MockConfigEntry | None = None
        self.entity_id = ""

    async def async_setup(self) -> None:
        """Sign in and load the entry; the car's first reading is the statistics' zero point."""
        # Made now, so the token is valid at the frozen time.
        self.entry = tesla_entry(self.sim)
        self.entry.add_to_hass(self.hass)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done()
        entity_id = er.async_get(self.hass).async_get_entity_id(
            "sensor", DOMAIN, f"tesla_{RED}_energy_added"
        )
        assert entity_id is not None
        self.entity_id = entity_id

    async def async_read(self, kwh: float | None = None) -> str:
        """The car reports `kwh` (or what it has); one read; the sensor's state."""
        if kwh is not None:
            self.car.charge_energy_added = kwh
        assert self.entry is not None
        vehicle = next(v for v in self.entry.runtime_data.vehicles.values() if v.info.vin == RED)
        await vehicle.coordinator.async_refresh()
        await self.hass.async_block_till_done()
        return self.state

    @property
    def state(self) -> str:
        """What the sensor shows now."""
        state = self.hass.states.get(self.entity_id)
        assert state is not None
        return state.state

    async def async_close_period(self) -> tuple[float, float] | None:
        """Move into the next period and compile the one that ended: its (state, sum), if any."""
        await advance(self.hass, self.freezer, PERIOD)
        do_adhoc_statistics(self.hass, start=self.period)
        await async_wait_recording_done(self.hass)
        rows = await self.async_rows(self.period, self.period + PERIOD)
        self.period += PERIOD
        return rows[0] if rows else None

    async def async_rows(
        self, start: datetime, end: datetime | None = None
    ) -> list[tuple[float, float]]:
        """The compiled 5-minute statistics (state, sum) from `start`."""
        stats = await get_instance(self.hass).async_add_executor_job(
            statistics.statistics_during_period,
            self.hass,
            start,
            end,
            {self.entity_id},
            "5minute",
            None,
            {"state", "sum"},
        )
        return [(row["state"], row["sum"]) for row in stats.get(self.entity_id, [])]

    async def async_sum_now(self) -> float:
        """The sum of the latest compiled period, the Energy dashboard's running total."""
        rows = await self.async_rows(self.start)
        assert rows
        return rows[-1][1]

    async def async_step(self, kwh: float) -> tuple[float, float] | None:
        """Read `kwh` in the current period, then close it."""
        assert await self.async_read(kwh) == f"{kwh:.1f}"
        return await self.async_close_period()


@pytest.fixture
async def ledger(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
) -> EnergyLedger:
    """The RED car's energy-added sensor on a loaded Tesla entry, recorded for real."""
    book = EnergyLedger(hass, freezer, simulator)
    await book.async_setup()
    return book


def assert_never_down(rows: list[tuple[float, float]]) -> None:
    """The running total never goes negative and never goes down."""
    sums = [total for _, total in rows]
    assert all(total >= 0 for total in sums), sums
    assert sums == sorted(sums), sums


async def test_two_charging_sessions_add_up(ledger: EnergyLedger) -> None:
    """0 -> 4 -> 9 kWh, then a new session 0 -> 3: the sum grows by 9 + 3 = 12, once."""
    closed = [await ledger.async_step(kwh) for kwh in (0.0, 4.0, 9.0, 0.0, 3.0)]
    # (state, sum) per period: the drop to 0 is a new session, neither negative nor a repeat.
    assert closed == [(0.0, 0.0), (4.0, 4.0), (9.0, 9.0), (0.0, 9.0), (3.0, 12.0)]
    # A quiet period (the car reads the same 3 kWh) adds nothing.
    assert await ledger.async_read() == "3.0"
    assert await ledger.async_close_period() == (3.0, 12.0)
    rows = await ledger.async_rows(ledger.start)
    assert len(rows) == 6
    assert_never_down(rows)
    assert await ledger.async_sum_now() == 12.0


async def test_a_reload_is_not_counted_twice(ledger: EnergyLedger) -> None:
    """The value before and after reloading the entry (a restart for the integration) counts once.

    0 -> 5 kWh (sum 5); reload, the car still says 5: sum 5; then 7: sum 7. Unloaded while the
    car ended that session and started another, loaded again reading 2 kWh: sum 9, only the 2
    added (no negative step down to 2, and the 7 not counted again).
    """
    assert ledger.entry is not None
    assert await ledger.async_step(0.0) == (0.0, 0.0)
    assert await ledger.async_step(5.0) == (5.0, 5.0)

    assert await ledger.hass.config_entries.async_reload(ledger.entry.entry_id)
    await ledger.hass.async_block_till_done()
    assert ledger.entry.state is ConfigEntryState.LOADED
    # Shown again at once from the set-up read, no stale or restored value in between.
    assert ledger.state == "5.0"
    assert await ledger.async_close_period() == (5.0, 5.0)
    assert await ledger.async_step(7.0) == (7.0, 7.0)

    # Unloaded while the car finished that session and started another, loaded again.
    assert await ledger.hass.config_entries.async_unload(ledger.entry.entry_id)
    await ledger.hass.async_block_till_done()
    assert ledger.state == STATE_UNAVAILABLE
    ledger.freezer.tick(timedelta(seconds=30))
    ledger.car.charge_energy_added = 2.0
    assert await ledger.hass.config_entries.async_setup(ledger.entry.entry_id)
    await ledger.hass.async_block_till_done()
    assert ledger.state == "2.0"
    assert await ledger.async_close_period() == (2.0, 9.0)

    assert_never_down(await ledger.async_rows(ledger.start))
    assert await ledger.async_sum_now() == 9.0


async def test_an_unavailable_period_adds_nothing(
    ledger: EnergyLedger, simulator: Simulator
) -> None:
    """Reads fail, the sensor is unavailable (not 0), then the same 6 kWh again: no change.

    0 -> 6 kWh (sum 6); a 5xx on `vehicle_data` makes the sensor unavailable for a whole period
    (sum stays 6); the fault clears and the car still says 6 (sum 6); then 8: only the 2 more.
    """
    assert await ledger.async_step(0.0) == (0.0, 0.0)
    assert await ledger.async_step(6.0) == (6.0, 6.0)

    simulator.faults.set("server_error", path="/vehicle_data")
    assert await ledger.async_read() == STATE_UNAVAILABLE
    # The failed read is in this period: the 6 it started with is all that counts.
    assert await ledger.async_close_period() == (6.0, 6.0)
    # A whole period unavailable: nothing to compile, the total stays where it was.
    assert await ledger.async_read() == STATE_UNAVAILABLE
    assert await ledger.async_close_period() is None
    assert await ledger.async_sum_now() == 6.0

    simulator.faults.clear()
    assert await ledger.async_step(6.0) == (6.0, 6.0)
    assert await ledger.async_step(8.0) == (8.0, 8.0)

    assert_never_down(await ledger.async_rows(ledger.start))
    assert await ledger.async_sum_now() == 8.0
