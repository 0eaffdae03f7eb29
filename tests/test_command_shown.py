"""Whether a reading shows a command carried out: what confirms a command whose answer was lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.ev_cloud.model import (
    Capability,
    ChargingState,
    Command,
    CommandType,
    VehicleInfo,
    VehicleState,
    command_shown,
    shows_in_a_reading,
)

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def reading(**values: Any) -> VehicleState:
    return VehicleState(fetched_at=NOW, **values)


@pytest.mark.parametrize(
    ("command", "state", "shown"),
    [
        (Command(type=CommandType.START_CHARGING), reading(charging=True), True),
        (Command(type=CommandType.START_CHARGING), reading(charging=False), False),
        # Only the charging state is sent: starting counts as started.
        (
            Command(type=CommandType.START_CHARGING),
            reading(charging_state=ChargingState.STARTING),
            True,
        ),
        (
            Command(type=CommandType.STOP_CHARGING),
            reading(charging_state=ChargingState.CHARGING),
            False,
        ),
        (
            Command(type=CommandType.STOP_CHARGING),
            reading(charging_state=ChargingState.STOPPED),
            True,
        ),
        (Command(type=CommandType.STOP_CHARGING), reading(), None),
        (Command(type=CommandType.OPEN_CHARGE_PORT), reading(charge_port_open=True), True),
        (Command(type=CommandType.CLOSE_CHARGE_PORT), reading(charge_port_open=True), False),
        (Command(type=CommandType.CLIMATE_ON), reading(climate_on=True), True),
        (Command(type=CommandType.CLIMATE_OFF), reading(), None),
        (Command(type=CommandType.LOCK_DOORS), reading(locked=True), True),
        (Command(type=CommandType.UNLOCK_DOORS), reading(locked=True), False),
        (Command(type=CommandType.SET_CHARGE_LIMIT, value=85), reading(charge_limit=85.0), True),
        (Command(type=CommandType.SET_CHARGE_LIMIT, value=85), reading(charge_limit=80.0), False),
        (
            Command(type=CommandType.SET_CHARGING_CURRENT, value=16),
            reading(charging_current_a=16.0),
            True,
        ),
        (
            Command(type=CommandType.SET_TEMPERATURE, value=21.5),
            reading(target_temperature_c=21.5),
            True,
        ),
        (Command(type=CommandType.SET_TEMPERATURE, value=21.5), reading(), None),
        (Command(type=CommandType.WAKE_UP), reading(asleep=True), False),
        # The provider sends the value rounded to the car's step (80.4 % → 80 %, 0.5 °C).
        (Command(type=CommandType.SET_CHARGE_LIMIT, value=80.4), reading(charge_limit=80.0), True),
        (Command(type=CommandType.SET_CHARGE_LIMIT, value=81), reading(charge_limit=80.0), False),
        (
            Command(type=CommandType.SET_TEMPERATURE, value=21.25),
            reading(target_temperature_c=21.5),
            True,
        ),
    ],
)
def test_command_shown(command: Command, state: VehicleState, shown: bool | None) -> None:
    assert command_shown(command, state) is shown


def test_climate_shows_only_where_it_is_read_back() -> None:
    info = VehicleInfo(id="v", vin="V", make="KIA", model="EV6")
    read_back = VehicleInfo(
        id="v",
        vin="V",
        make="KIA",
        model="EV6",
        capabilities=frozenset({Capability.CLIMATE_READBACK}),
    )
    assert not shows_in_a_reading(info, CommandType.CLIMATE_ON)
    assert not shows_in_a_reading(info, CommandType.SET_TEMPERATURE)
    assert shows_in_a_reading(read_back, CommandType.CLIMATE_OFF)
    assert shows_in_a_reading(info, CommandType.LOCK_DOORS)
