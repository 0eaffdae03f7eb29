"""Diagnostics: useful, and free of anything that identifies the owner or the car."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator import Simulator

from .conftest import CLIENT_ID, CLIENT_SECRET


async def test_diagnostics_redacts(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Secrets, VINs, ids and positions are redacted by key and by value."""
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = json.dumps(diagnostics)

    assert len(diagnostics["vehicles"]) == len(simulator.volteras.vehicles)
    first = diagnostics["vehicles"][0]
    assert first["info"]["make"]
    assert first["state"]["battery_level"] is not None
    assert first["polling_interval_s"] > 0
    assert first["info"]["vin"] == "**REDACTED**"
    assert first["state"]["latitude"] == "**REDACTED**"
    for secret in (CLIENT_ID, CLIENT_SECRET, simulator.url):
        assert secret not in text
    for vehicle_id, vehicle in simulator.volteras.vehicles.items():
        assert vehicle_id not in text
        assert vehicle.vin not in text
        assert vehicle.account_id not in text
