"""Volteras JSON → the provider-neutral model.

Every telemetry value is nullable and every block has its own timestamp, so each reading is taken
on its own and a missing one stays `None` instead of failing the whole poll. A body whose overall
shape is wrong is a `TransientError`: the next poll may well be fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ...model import (
    Capability,
    ChargingState,
    CommandExecution,
    CommandStatus,
    CommandType,
    ConnectionStatus,
    VehicleInfo,
    VehicleState,
)
from ..errors import TransientError
from .const import BASE_CAPABILITIES, KM_PER_MILE, MOTORISED_CHARGE_PORT_MAKES

_CHARGING_STATES = {
    "STARTING": ChargingState.STARTING,
    "CHARGING": ChargingState.CHARGING,
    "STOPPED": ChargingState.STOPPED,
    "COMPLETE": ChargingState.COMPLETE,
    "CONNECTED": ChargingState.CONNECTED,
    "DISCONNECTED": ChargingState.DISCONNECTED,
    "NO_POWER": ChargingState.NO_POWER,
}
_PLUGGED_STATES = {
    ChargingState.STARTING,
    ChargingState.CHARGING,
    ChargingState.STOPPED,
    ChargingState.COMPLETE,
    ChargingState.CONNECTED,
    ChargingState.NO_POWER,
}
_COMMAND_STATUSES = {
    "PENDING": CommandStatus.PENDING,
    "EXECUTED": CommandStatus.EXECUTED,
    "FAILED": CommandStatus.FAILED,
}


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TransientError(f"Malformed Volteras answer: {what} is not an object")
    return value


def _block(telemetry: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    block = telemetry.get(name)
    return block if isinstance(block, Mapping) else {}


def _number(block: Mapping[str, Any], key: str = "value") -> float | None:
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _kilometres(block: Mapping[str, Any]) -> float | None:
    value = _number(block)
    unit = block.get("unit")
    if value is not None and isinstance(unit, str) and unit.lower() in {"mi", "mile", "miles"}:
        return value * KM_PER_MILE
    return value


def vehicle_info(raw: Any) -> VehicleInfo:
    """A `Vehicle` object as `VehicleInfo`."""
    vehicle = _mapping(raw, "vehicle")
    vehicle_id, vin, make = vehicle.get("id"), vehicle.get("vin"), vehicle.get("make")
    if not (isinstance(vehicle_id, str) and isinstance(vin, str) and isinstance(make, str)):
        raise TransientError("Malformed Volteras answer: vehicle without id, vin or make")
    metadata = vehicle.get("metadata")
    account_id = metadata.get("accountId") if isinstance(metadata, Mapping) else None
    capabilities = set(BASE_CAPABILITIES)
    if make.upper() in MOTORISED_CHARGE_PORT_MAKES:
        capabilities.add(Capability.CHARGE_PORT_CONTROL)
    model, model_year = vehicle.get("model"), vehicle.get("modelYear")
    return VehicleInfo(
        id=vehicle_id,
        vin=vin,
        make=make,
        model=model if isinstance(model, str) else None,
        model_year=model_year if isinstance(model_year, str) else None,
        account_id=account_id if isinstance(account_id, str) else None,
        capabilities=frozenset(capabilities),
    )


def vehicle_page(raw: Any) -> tuple[list[VehicleInfo], str | None]:
    """A `Page[Vehicle]`: the vehicles and the next page token."""
    page = _mapping(raw, "vehicle page")
    results = page.get("results")
    if not isinstance(results, list):
        raise TransientError("Malformed Volteras answer: vehicle page without results")
    token = page.get("nextPageToken")
    return [vehicle_info(item) for item in results], token if isinstance(token, str) else None


def vehicle_state(raw: Any, fetched_at: datetime) -> VehicleState:
    """A `VehicleTelemetry` object as `VehicleState`."""
    telemetry = _mapping(raw, "telemetry")
    if not isinstance(telemetry.get("id"), str):
        raise TransientError("Malformed Volteras answer: telemetry without id")

    charging_block = _block(telemetry, "chargingState")
    charging_state = _CHARGING_STATES.get(
        str(charging_block.get("chargingState")), ChargingState.UNKNOWN
    )
    known = charging_state is not ChargingState.UNKNOWN
    plugged_in = charging_state in _PLUGGED_STATES if known else None
    charging = charging_state in {ChargingState.CHARGING, ChargingState.STARTING} if known else None
    # Volteras says whether a cable is in, not whether it carries AC or DC: never guess.
    connection = (
        ConnectionStatus.DISCONNECTED
        if charging_state is ChargingState.DISCONNECTED
        else ConnectionStatus.UNKNOWN
    )

    remaining = _block(telemetry, "chargeRemainingTime")
    minutes = _number(remaining)
    remaining_at = _timestamp(remaining.get("timestamp"))
    full_at = (
        remaining_at + timedelta(minutes=minutes)
        if charging and minutes is not None and remaining_at is not None
        else None
    )

    location = _block(telemetry, "location")
    security = _block(telemetry, "security")
    locked = security.get("locked")
    port_open = charging_block.get("chargePortDoorOpen")

    timestamps = [
        stamp
        for block in telemetry.values()
        if isinstance(block, Mapping) and (stamp := _timestamp(block.get("timestamp"))) is not None
    ]
    return VehicleState(
        fetched_at=fetched_at,
        reported_at=max(timestamps, default=None),
        battery_level=_number(_block(telemetry, "stateOfCharge")),
        range_km=_kilometres(_block(telemetry, "range")),
        odometer_km=_kilometres(_block(telemetry, "odometer")),
        charging_state=charging_state,
        connection_status=connection,
        plugged_in=plugged_in,
        charging=charging,
        charge_port_open=port_open if isinstance(port_open, bool) else None,
        charge_limit=_number(_block(telemetry, "maxStateOfCharge")),
        charging_power_kw=_number(_block(telemetry, "chargePowerLevel")),
        charging_current_limit_a=_number(_block(telemetry, "chargeCurrentLimit")),
        full_at=full_at,
        energy_remaining_kwh=_number(_block(telemetry, "energyRemaining")),
        latitude=_number(location, "latitude"),
        longitude=_number(location, "longitude"),
        locked=locked if isinstance(locked, bool) else None,
    )


def command_execution(raw: Any, command_type: CommandType) -> CommandExecution:
    """A `VehicleCommandExecution` object; a missing status counts as still pending."""
    execution = _mapping(raw, "command execution")
    execution_id = execution.get("id")
    reason = execution.get("failedReason")
    timeout = _number(execution, "timeout")
    return CommandExecution(
        id=execution_id if isinstance(execution_id, str) else None,
        type=command_type,
        status=_COMMAND_STATUSES.get(str(execution.get("status")), CommandStatus.PENDING),
        failed_reason=reason if isinstance(reason, str) else None,
        timeout=timeout,
    )
