"""A fleet: reads spread over the interval instead of bunching; set-up and unload in batches."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
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


async def test_unloading_gives_the_loop_back_between_batches(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Callbacks run while the entities go, not only before and after.

    Home Assistant's own unload removes a platform's entities without yielding; a fleet's
    thousands would hold the event loop for more than a second.
    """
    entity_ids = [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), loaded_entry.entry_id)
        if (state := hass.states.get(e.entity_id)) and state.state != "unavailable"
    ]
    assert len(entity_ids) > 20
    seen: set[int] = set()

    def live() -> list[str]:
        # An unloaded entity's state stays behind as unavailable (restored: true).
        return [
            i for i in entity_ids if (state := hass.states.get(i)) and state.state != "unavailable"
        ]

    def look() -> None:
        seen.add(len(live()))
        if loaded_entry.state is ConfigEntryState.UNLOAD_IN_PROGRESS:
            hass.loop.call_soon(look)

    with patch("custom_components.ev_cloud.entity.ENTITIES_PER_BATCH", 5):
        unload = hass.async_create_task(hass.config_entries.async_unload(loaded_entry.entry_id))
        look()
        assert await unload
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    # Seen part-way: some removed, some still there, more than once.
    assert len({count for count in seen if 0 < count < len(entity_ids)}) >= 3
    assert not live()


async def test_an_entity_failing_to_go_does_not_stop_the_unload(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As Home Assistant's own unload: the error is logged, the other entities still go."""
    platform = next(
        p
        for p in async_get_platforms(hass, DOMAIN)
        if p.config_entry is loaded_entry and p.domain == "sensor"
    )
    broken = next(iter(platform.entities.values()))

    async def refuse() -> None:
        raise RuntimeError("cannot go")

    broken.async_will_remove_from_hass = refuse  # type: ignore[method-assign]
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert f"Error while removing entity {broken.entity_id}" in caplog.text
