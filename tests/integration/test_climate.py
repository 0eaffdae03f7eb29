"""The climate entity of a car that reads climatisation back (Tesla), by service and by voice."""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.components.climate import DOMAIN as CLIMATE_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, ATTR_TEMPERATURE
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import DOMAIN
from simulator import Simulator

from .test_tesla import BLUE
from .test_tesla_fault_matrix import tesla_entry, tesla_world  # noqa: F401 - autouse


@pytest.fixture
async def tesla(hass: HomeAssistant, simulator: Simulator) -> MockConfigEntry:
    """Assist first, then a Tesla entry whose Model Y takes plain commands."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    entry = tesla_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def climate_id(hass: HomeAssistant) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        CLIMATE_DOMAIN, DOMAIN, f"tesla_{BLUE}_climate"
    )
    assert entity_id is not None
    return entity_id


async def test_the_climate_shows_and_sets_what_the_car_reports(
    hass: HomeAssistant, simulator: Simulator, tesla: MockConfigEntry
) -> None:
    entity_id = climate_id(hass)
    state = hass.states.get(entity_id)
    assert state.name == "Blue Model Y"
    assert state.state == "off"
    assert state.attributes["temperature"] == 21.0
    assert state.attributes["current_temperature"] == 14.0
    await hass.services.async_call(
        CLIMATE_DOMAIN,
        "set_temperature",
        {ATTR_ENTITY_ID: entity_id, ATTR_TEMPERATURE: 22.4, "hvac_mode": "heat_cool"},
        blocking=True,
    )
    car = simulator.tesla.cars[BLUE]
    assert car.driver_temp_setting == 22.5
    assert car.climate_on is True
    assert hass.states.get(entity_id).state == "heat_cool"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            CLIMATE_DOMAIN,
            "set_temperature",
            {ATTR_ENTITY_ID: entity_id, ATTR_TEMPERATURE: 35},
            blocking=True,
        )
    assert car.driver_temp_setting == 22.5
    await hass.services.async_call(
        CLIMATE_DOMAIN, "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True
    )
    assert car.climate_on is False


async def test_set_the_car_to_a_temperature_by_voice(
    hass: HomeAssistant, simulator: Simulator, tesla: MockConfigEntry
) -> None:
    """Home Assistant's own sentence: climate entities are exposed to Assist by default."""
    await conversation.async_converse(
        hass, "set the Blue Model Y to 23 degrees", None, Context(), language="en"
    )
    await hass.async_block_till_done()
    assert simulator.tesla.cars[BLUE].driver_temp_setting == 23.0


async def test_no_climate_entity_without_read_back(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Volteras cannot read climatisation back: the switch and number stay, no climate."""
    assert not [
        e
        for e in er.async_entries_for_config_entry(er.async_get(hass), loaded_entry.entry_id)
        if e.domain == CLIMATE_DOMAIN
    ]
