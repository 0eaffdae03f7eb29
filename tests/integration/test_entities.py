"""One snapshot per platform: names, device classes, units, unique ids and states."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from simulator import Simulator

FROZEN_TIME = "2026-11-24T18:00:00+00:00"


@pytest.mark.freeze_time(FROZEN_TIME)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    "platform",
    [
        Platform.BINARY_SENSOR,
        Platform.DEVICE_TRACKER,
        Platform.LOCK,
        Platform.NUMBER,
        Platform.SENSOR,
        Platform.SWITCH,
    ],
)
async def test_platform_snapshot(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    platform: Platform,
) -> None:
    """Every entity of the simulator's fleet, for one platform at a time (clock frozen first)."""
    config_entry.add_to_hass(hass)
    with patch("custom_components.ev_cloud.PLATFORMS", [platform]):
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)
