"""Fixtures: a simulator on 127.0.0.1 and a config entry pointing at it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_cloud.const import (
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_PROVIDER,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
)
from simulator import Simulator

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"
ORGANIZATION_ID = "sim-org"


@pytest.fixture(autouse=True)
def instant_command_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Follow pending commands without real sleeps; the simulator settles them at once."""
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.0,))


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncGenerator[Simulator]:
    """A Volteras simulator on a free loopback port, stopped after the test."""
    async with Simulator(command_delay=0.0) as sim:
        yield sim


def entry_data(url: str) -> dict[str, object]:
    """Config entry data for the simulator."""
    return {
        CONF_PROVIDER: "volteras",
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        CONF_URL: url,
        CONF_EXCLUDED_VEHICLES: [],
    }


@pytest.fixture
def config_entry(simulator: Simulator) -> MockConfigEntry:
    """A Volteras entry for the simulator's default organisation."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volteras",
        unique_id=ORGANIZATION_ID,
        data=entry_data(simulator.url),
    )


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The entry, set up."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


def vehicle_key(sim: Simulator, vehicle_id: str) -> str:
    """Device identifier and unique-id prefix of a simulated vehicle: provider and VIN."""
    return f"volteras_{sim.volteras.vehicles[vehicle_id].vin}"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Let `delta` pass and every refresh it triggers finish (they run as background tasks)."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def slow_commands(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """Commands stay PENDING for a moment and are followed at a realistic (scaled) pace."""
    simulator.command_delay = 0.3
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.05, 0.1))
    return simulator
