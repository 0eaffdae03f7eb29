"""Assist: the sentences people say, through Home Assistant's real conversation agent.

The simulator's cars: a Tesla Model 3 (plugged in, not charging), a Volkswagen ID.4 (parked,
unplugged) and a Polestar 2 (charging). Commands stay pending for 0.3 s of real time and are
followed as they would be, so an answer is spoken only once the car settled the command.
"""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import Simulator

from .test_commands import entity, vehicle_by_make

pytestmark = pytest.mark.usefixtures("slow_commands")


@pytest.fixture
async def assist(hass: HomeAssistant) -> None:
    """Assist with its built-in agent, set up before EV Cloud (as `after_dependencies` does)."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})


async def say(hass: HomeAssistant, text: str) -> str:
    """What Assist answers."""
    result = await conversation.async_converse(hass, text, None, Context(), language="en")
    speech: str = result.response.speech["plain"]["speech"]
    return speech


async def test_start_and_stop_charging(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    tesla = simulator.volteras.vehicles[vehicle_by_make(simulator, "TESLA")]
    assert await say(hass, "start charging the Tesla Model 3") == (
        "Charging started on Tesla Model 3."
    )
    assert tesla.charging is True
    assert await say(hass, "stop charging Tesla Model 3") == "Charging stopped on Tesla Model 3."
    assert tesla.charging is False


async def test_a_command_the_car_refuses_is_answered_with_the_reason(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Pending first, then refused by the car: Assist says why instead of "started"."""
    volkswagen = simulator.volteras.vehicles[vehicle_by_make(simulator, "VOLKSWAGEN")]
    answer = await say(hass, "start charging the Volkswagen ID.4")
    assert "plugged in" in answer
    assert "started" not in answer
    assert volkswagen.charging is False


async def test_charge_limit_checked_then_sent(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    polestar = simulator.volteras.vehicles[vehicle_by_make(simulator, "POLESTAR")]
    before = polestar.charge_limit
    answer = await say(hass, "set the Polestar 2 charge limit to 30")
    assert answer.startswith("The charge limit must be between")
    assert polestar.charge_limit == before
    assert await say(hass, "set the charge limit of the Polestar 2 to 80 percent") == (
        "The charge limit of Polestar 2 is now 80 percent."
    )
    assert polestar.charge_limit == 80


async def test_questions_are_answered_from_the_last_reading(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    assert await say(hass, "is the Tesla Model 3 plugged in") == "Yes, Tesla Model 3 is plugged in."
    assert await say(hass, "is the Volkswagen ID.4 plugged in") == (
        "No, Volkswagen ID.4 is not plugged in."
    )
    answer = await say(hass, "what's the Polestar 2's battery")
    assert answer == "Polestar 2 is at 52 percent and charging."
    assert await say(hass, "is the Batmobile plugged in") == "I don't know a car called Batmobile."


async def test_warm_up_and_lock_by_the_cars_name(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Warming up is ours; "lock the <car>" is Home Assistant's own sentence on our lock."""
    tesla = simulator.volteras.vehicles[vehicle_by_make(simulator, "TESLA")]
    assert await say(hass, "warm up the Tesla Model 3 to 21 degrees") == (
        "Warming up Tesla Model 3 to 21 degrees."
    )
    assert tesla.climate_on is True
    # Home Assistant never exposes locks to Assist by default: the owner does, once.
    lock = entity(hass, "lock", vehicle_by_make(simulator, "TESLA"), "door_lock")
    assert hass.states.get(lock).name == "Tesla Model 3"
    async_expose_entity(hass, conversation.DOMAIN, lock, True)
    tesla.locked = False
    await say(hass, "lock the Tesla Model 3")
    await hass.async_block_till_done()
    assert tesla.locked is True


async def test_the_car_means_the_only_car(
    hass: HomeAssistant, assist: None, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """With one car shown, "the car" is that car; with several, Assist asks which."""
    assert (await say(hass, "is the car plugged in")).startswith("I don't know a car")
    hass.config_entries.async_update_entry(
        loaded_entry,
        data={
            **loaded_entry.data,
            "excluded_vehicles": [
                v.vin for v in simulator.volteras.vehicles.values() if v.make != "TESLA"
            ],
        },
    )
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert await say(hass, "is my car plugged in") == "Yes, Tesla Model 3 is plugged in."
