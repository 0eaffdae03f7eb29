"""The API usage sensors count what really went over the wire, and what it costs at Tesla."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache

from custom_components.ev_cloud.const import DOMAIN
from simulator import Simulator

from .conftest import advance
from .test_tesla_fault_matrix import tesla_entry, tesla_world  # noqa: F401 - autouse for Tesla


def usage_entity(hass: HomeAssistant, unique_id: str) -> str:
    """The entity id of an account's usage sensor."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None
    return entity_id


async def test_requests_are_counted_by_kind_as_the_cloud_saw_them(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Every telemetry read the simulator answered is one "data" request on the sensor."""
    requests = hass.states.get(usage_entity(hass, "volteras_sim-org_api_requests"))
    reads = sum(1 for _, path in simulator.volteras.request_log if path.endswith("/telemetry"))
    assert requests.attributes["data"] == reads == len(simulator.volteras.vehicles)
    assert requests.attributes["token"] == 1
    assert int(requests.state) == len(simulator.volteras.request_log)
    # Volteras does not bill per request: no cost sensor.
    assert (
        er.async_get(hass).async_get_entity_id("sensor", DOMAIN, "volteras_sim-org_api_cost")
        is None
    )


async def test_counts_start_again_at_midnight(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A new local day starts from zero; requests of the new day are counted."""
    entity_id = usage_entity(hass, "volteras_sim-org_api_requests")
    midnight = dt_util.start_of_local_day() + timedelta(days=1)
    await advance(hass, freezer, midnight - dt_util.utcnow() + timedelta(minutes=31))
    state = hass.states.get(entity_id)
    assert state.attributes["day"] == midnight.date().isoformat()
    assert 0 < int(state.state) < len(simulator.volteras.request_log)


async def test_counts_of_the_same_day_survive_a_restart(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """The restored day's counts continue; another day's are dropped."""
    today = dt_util.now().date().isoformat()
    mock_restore_cache(
        hass,
        [
            State(
                "sensor.volteras_api_requests_today",
                "100",
                {"day": today, "data": 90, "token": 10},
            )
        ],
    )
    er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        "volteras_sim-org_api_requests",
        suggested_object_id="volteras_api_requests_today",
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.volteras_api_requests_today")
    assert state.attributes["data"] == 90 + len(simulator.volteras.vehicles)
    assert state.attributes["token"] == 11


async def test_tesla_cost_is_what_tesla_would_bill(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """Data reads, commands and wakes at Tesla's prices, the same figure as Tesla's meter."""
    from simulator.tesla.fleet import PRICES

    entry = tesla_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for vehicle in entry.runtime_data.vehicles.values():
        await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    billed = sum(PRICES[kind] * count for kind, count in simulator.tesla.meter.items())
    cost = hass.states.get(usage_entity(hass, "tesla_sim-account_api_cost"))
    assert billed > 0
    assert float(cost.state) == pytest.approx(billed)
    requests = hass.states.get(usage_entity(hass, "tesla_sim-account_api_requests"))
    assert requests.attributes["data"] == simulator.tesla.meter["data"]
    assert requests.attributes["state_check"] > 0
