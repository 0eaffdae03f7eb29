"""A fleet's reads spread over the interval instead of bunching at each boundary."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import Simulator


async def test_a_fleet_reads_spread_over_the_interval(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Twelve parked cars: each reads within its regular interval, no two in the same minute."""
    for index in range(9):
        simulator.volteras.add_vehicle(make="KIA", model=f"EV{index}", soc=50.0)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    coordinators = [v.coordinator for v in config_entry.runtime_data.vehicles.values()]
    assert len(coordinators) == 12
    parked = [c for c in coordinators if c.poll_reason and c.poll_reason.value == "parked"]
    assert len(parked) >= 9
    intervals = [c.update_interval for c in parked]
    assert all(timedelta(minutes=15) <= i <= timedelta(minutes=30) for i in intervals if i)
    minutes = {round(i.total_seconds() / 60) for i in intervals if i}
    assert len(minutes) >= len(parked) - 2


async def test_cars_sharing_make_and_model_are_told_apart(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Two unnamed Kia EV6s: each device carries the end of its VIN, so ids and names differ."""
    first = simulator.volteras.add_vehicle(make="KIA", model="EV6", soc=50.0)
    second = simulator.volteras.add_vehicle(make="KIA", model="EV6", soc=60.0)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    names = {v.info.display_name for v in config_entry.runtime_data.vehicles.values()}
    assert f"Kia EV6 {first.vin[-4:]}" in names
    assert f"Kia EV6 {second.vin[-4:]}" in names
