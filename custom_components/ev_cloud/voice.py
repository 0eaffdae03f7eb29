"""Sentences for Assist that Home Assistant's built-in ones cannot express (English).

"Lock the <car>" and "turn on <car> climate" work through the built-in intents (the lock is
named after the car). These add: start/stop charging, the charge limit, warming up to a
temperature, whether the car is plugged in, and its battery — each answered in words. "The car"
(or "my car") means the only car when there is one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import re
from typing import Any

from hassil.recognize import RecognizeResult
from homeassistant.components.conversation import ConversationInput
from homeassistant.components.conversation.agent_manager import get_agent_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN
from .model import Capability, Command, CommandType
from .runtime import EvCloudConfigEntry, VehicleData

CAR = "[the |my ]{car}"
SENTENCES: dict[str, list[str]] = {
    "start": [f"(start|begin|resume) charging {CAR}", f"turn on {CAR} charging"],
    "stop": [f"(stop|pause|end) charging {CAR}", f"turn off {CAR} charging"],
    "limit": [
        f"set {CAR} charge limit to {{value}}[ percent| %]",
        f"set [the ]charge limit (of|for) {CAR} to {{value}}[ percent| %]",
        f"charge {CAR} to {{value}}( percent| %)",
    ],
    "warm": [f"(warm|heat|cool|precondition) [up ]{CAR} to {{value}}[ degrees]"],
    "plugged": [f"is {CAR} plugged in", f"is {CAR} connected to [the ]charger"],
    "battery": [
        f"what is {CAR} battery[ level]",
        f"what's {CAR} battery[ level]",
        f"how (full|charged) is {CAR}",
    ],
}
# What people call their only car.
GENERIC_NAMES = frozenset({"car", "vehicle", "ev", "electric car"})


def async_register_sentences(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Register the sentences with Assist's default agent; returns the unregister callback."""
    manager = get_agent_manager(hass)
    unregister = [
        manager.register_trigger(sentences, _handler(hass, action))
        for action, sentences in SENTENCES.items()
    ]

    @callback
    def unregister_all() -> None:
        for remove in unregister:
            remove()

    return unregister_all


def _handler(
    hass: HomeAssistant, action: str
) -> Callable[[ConversationInput, RecognizeResult], Awaitable[str | None]]:
    async def handle(user_input: ConversationInput, result: RecognizeResult) -> str | None:
        slots = {
            name: str(entity.text or entity.value).strip()
            for name, entity in result.entities.items()
        }
        vehicle = _find_car(hass, slots.get("car", ""))
        if vehicle is None:
            return f"I don't know a car called {slots.get('car', '')}."
        try:
            return await ANSWERS[action](vehicle, slots.get("value"))
        except HomeAssistantError as err:
            return str(err)

    return handle


def _find_car(hass: HomeAssistant, spoken: str) -> VehicleData | None:
    """The car a sentence names: by its name, or "the car" when there is only one."""
    name = re.sub(r"('s|\u2019s)$", "", spoken.lower().strip())
    vehicles = [
        vehicle
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
        for vehicle in _vehicles(entry)
    ]
    for vehicle in vehicles:
        if vehicle.info.display_name.lower() == name:
            return vehicle
    if name in GENERIC_NAMES and len(vehicles) == 1:
        return vehicles[0]
    matches = [v for v in vehicles if name and name in v.info.display_name.lower()]
    return matches[0] if len(matches) == 1 else None


def _vehicles(entry: EvCloudConfigEntry) -> list[VehicleData]:
    return list(entry.runtime_data.vehicles.values())


def _number(value: str | None) -> float | None:
    try:
        return float(str(value).rstrip("%").strip())
    except ValueError:
        return None


async def _start(vehicle: VehicleData, _value: Any) -> str:
    await _command(vehicle, Capability.CHARGING_CONTROL, Command(type=CommandType.START_CHARGING))
    return f"Charging started on {vehicle.info.display_name}."


async def _stop(vehicle: VehicleData, _value: Any) -> str:
    await _command(vehicle, Capability.CHARGING_CONTROL, Command(type=CommandType.STOP_CHARGING))
    return f"Charging stopped on {vehicle.info.display_name}."


async def _limit(vehicle: VehicleData, value: str | None) -> str:
    limit = _number(value)
    bounds = vehicle.info.charge_limit_range
    if (data := vehicle.coordinator.data) is not None and data.charge_limit_range is not None:
        bounds = data.charge_limit_range
    if limit is None or not bounds.minimum <= limit <= bounds.maximum:
        return (
            f"The charge limit must be between {bounds.minimum:g} and {bounds.maximum:g} percent."
        )
    command = Command(type=CommandType.SET_CHARGE_LIMIT, value=round(limit))
    await _command(vehicle, Capability.CHARGE_LIMIT_CONTROL, command)
    return f"The charge limit of {vehicle.info.display_name} is now {round(limit)} percent."


async def _warm(vehicle: VehicleData, value: str | None) -> str:
    temperature = _number(value)
    bounds = vehicle.info.temperature_range
    if temperature is None or not bounds.minimum <= temperature <= bounds.maximum:
        return f"The temperature must be between {bounds.minimum:g} and {bounds.maximum:g} degrees."
    if Capability.TEMPERATURE_CONTROL in vehicle.info.capabilities:
        await vehicle.commands.async_execute(
            Command(type=CommandType.SET_TEMPERATURE, value=temperature)
        )
    await _command(vehicle, Capability.CLIMATE_CONTROL, Command(type=CommandType.CLIMATE_ON))
    return f"Warming up {vehicle.info.display_name} to {temperature:g} degrees."


async def _plugged(vehicle: VehicleData, _value: Any) -> str:
    data = vehicle.coordinator.data
    name = vehicle.info.display_name
    if data is None or data.plugged_in is None:
        return f"I don't know whether {name} is plugged in."
    return f"Yes, {name} is plugged in." if data.plugged_in else f"No, {name} is not plugged in."


async def _battery(vehicle: VehicleData, _value: Any) -> str:
    data = vehicle.coordinator.data
    name = vehicle.info.display_name
    if data is None or data.battery_level is None:
        return f"I don't know the battery level of {name}."
    charging = " and charging" if data.charging else ""
    return f"{name} is at {round(data.battery_level)} percent{charging}."


async def _command(vehicle: VehicleData, capability: Capability, command: Command) -> None:
    if capability not in vehicle.info.capabilities:
        raise HomeAssistantError(f"{vehicle.info.display_name} cannot do that through its cloud.")
    await vehicle.commands.async_execute(command)


ANSWERS: dict[str, Callable[[VehicleData, str | None], Awaitable[str]]] = {
    "start": _start,
    "stop": _stop,
    "limit": _limit,
    "warm": _warm,
    "plugged": _plugged,
    "battery": _battery,
}
