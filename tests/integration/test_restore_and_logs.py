"""Assumed state survives a restart; secrets never reach the log."""

from __future__ import annotations

import logging

from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON, STATE_ON
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.ev_cloud.const import DOMAIN
from custom_components.ev_cloud.model import log_hash
from simulator import Simulator

from .conftest import CLIENT_SECRET

VW = "veh-vw-id4"
VW_KEY = "volteras_WVGZZZE2ZNP000002"


def pre_register(hass: HomeAssistant, entry: MockConfigEntry, domain: str, key: str) -> str:
    """Register an entity id before set-up, so restored state can be matched to it."""
    return (
        er.async_get(hass)
        .async_get_or_create(
            domain, DOMAIN, f"{VW_KEY}_{key}", config_entry=entry, suggested_object_id=f"vw_{key}"
        )
        .entity_id
    )


async def test_assumed_state_restored(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Climate and target temperature come back as last set, since Volteras cannot tell."""
    config_entry.add_to_hass(hass)
    climate = pre_register(hass, config_entry, "switch", "climate")
    temperature = pre_register(hass, config_entry, "number", "target_temperature")
    # One call: each call replaces the whole restore cache.
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State(climate, STATE_ON), {}),
            (
                State(temperature, "22.5"),
                {
                    "native_value": 22.5,
                    "native_unit_of_measurement": "°C",
                    "native_min_value": 15,
                    "native_max_value": 28,
                    "native_step": 0.5,
                },
            ),
        ],
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(climate).state == STATE_ON
    assert hass.states.get(temperature).state == "22.5"


async def test_no_secrets_in_debug_log(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With debug logging, set-up, a failed command and a refused token log no secret or VIN."""
    caplog.set_level(logging.DEBUG)
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    switch = er.async_get(hass).async_get_entity_id("switch", DOMAIN, f"{VW_KEY}_charge")
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    issued_tokens = [*simulator.volteras.access_tokens, *simulator.volteras.refresh_tokens]
    simulator.faults.set("unauthorized")
    simulator.faults.set("unauthorized", path="/v1/oauth2/token")
    simulator.volteras.revoke_tokens()
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    # The log is really captured, and names the car by a hash only.
    assert f"vehicle {log_hash(VW_KEY.removeprefix('volteras_'))}" in caplog.text
    secrets = [CLIENT_SECRET, *(v.vin for v in simulator.volteras.vehicles.values())]
    secrets += list(simulator.volteras.vehicles)
    secrets += issued_tokens
    assert issued_tokens
    for secret in secrets:
        assert secret not in caplog.text
