"""The labelled estimate of a charging car's state of charge between reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from custom_components.ev_cloud.estimate import estimated_level
from custom_components.ev_cloud.model import VehicleState
from simulator import Simulator

from .conftest import advance, vehicle_key
from .test_commands import entity, vehicle_by_make

NOW = datetime(2026, 11, 24, 18, tzinfo=UTC)


# Read at 40 % while charging to an 80 % limit, predicted to reach it in two hours.
CHARGING_TO_80 = VehicleState(
    fetched_at=NOW,
    battery_level=40,
    charge_limit=80,
    charging=True,
    full_at=NOW + timedelta(hours=2),
)


@pytest.mark.parametrize(
    ("state", "minutes", "expected"),
    [
        # Halfway from the reading to the predicted end: halfway from 40 % to the 80 % limit.
        (
            CHARGING_TO_80,
            60,
            60.0,
        ),
        # Past the predicted end: the limit, never above it.
        (
            CHARGING_TO_80,
            600,
            80.0,
        ),
        # Not charging, or no prediction: the measured value.
        (VehicleState(fetched_at=NOW, battery_level=40, charge_limit=80), 60, 40),
        (VehicleState(fetched_at=NOW, battery_level=40, charging=True), 60, 40),
        (VehicleState(fetched_at=NOW), 60, None),
    ],
)
def test_estimated_level(state: VehicleState, minutes: int, expected: float | None) -> None:
    assert estimated_level(state, NOW + timedelta(minutes=minutes)) == expected


async def test_the_estimate_moves_between_reads_and_the_measurement_does_not(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The charging Polestar: the estimate rises every minute, the battery level only on reads."""
    polestar = vehicle_by_make(simulator, "POLESTAR")
    registry = er.async_get(hass)
    device = vehicle_key(simulator, polestar)
    registry.async_get_or_create(
        "sensor", DOMAIN, f"{device}_estimated_battery_level", disabled_by=None
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    estimate = registry.async_get_entity_id("sensor", DOMAIN, f"{device}_estimated_battery_level")
    assert estimate is not None
    measured = entity(hass, "sensor", polestar, "battery_level")
    first = float(hass.states.get(estimate).state)
    measured_first = hass.states.get(measured).state
    assert first == pytest.approx(float(measured_first), abs=0.5)
    await advance(hass, freezer, timedelta(minutes=3))
    assert float(hass.states.get(estimate).state) > first
    assert hass.states.get(measured).state == measured_first
