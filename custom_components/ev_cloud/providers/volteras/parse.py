"""Volteras JSON → the provider-neutral model.

Every telemetry value is nullable and every block has its own timestamp, so each reading is taken
on its own and a missing one stays `None` instead of failing the whole poll. A body whose overall
shape is wrong is a `TransientError`: the next poll may well be fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
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
from ..json_values import finite_number
from .const import BASE_CAPABILITIES, KM_PER_MILE, MOTORISED_CHARGE_PORT_MAKES

# A week: no charge takes longer; a larger "remaining time" is noise, not a finish time.
MAX_REMAINING_MINUTES = 7 * 24 * 60
# No AC charger delivers more than 22 kW (three-phase 32 A); above it the car must be on DC.
AC_MAX_KW = 22.0

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
    return finite_number(block.get(key))


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
    if not (isinstance(vehicle_id, str) and vehicle_id and isinstance(make, str) and make):
        raise TransientError("Malformed Volteras answer: vehicle without id or make")
    if not isinstance(vin, str) or not vin.strip():
        # The document makes the VIN required; an item without one cannot be told apart later.
        raise TransientError("Malformed Volteras answer: vehicle without VIN")
    metadata = vehicle.get("metadata")
    account_id = metadata.get("accountId") if isinstance(metadata, Mapping) else None
    capabilities = set(BASE_CAPABILITIES)
    if make.upper() in MOTORISED_CHARGE_PORT_MAKES:
        capabilities.add(Capability.CHARGE_PORT_CONTROL)
    model, model_year = vehicle.get("model"), vehicle.get("modelYear")
    return VehicleInfo(
        id=vehicle_id,
        vin=vin.strip().upper(),
        make=make,
        model=model if isinstance(model, str) else None,
        model_year=model_year if isinstance(model_year, str) else None,
        account_id=account_id if isinstance(account_id, str) else None,
        capabilities=frozenset(capabilities),
    )


@dataclass(frozen=True, kw_only=True)
class SkippedItem:
    """A vehicle-list item that could not be used, and why."""

    fingerprint: str
    problem: str


def _fingerprint(item: Any) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        return str(item["id"])
    return json.dumps(item, sort_keys=True, default=str)


def vehicle_page(raw: Any) -> tuple[list[VehicleInfo], list[SkippedItem], str | None]:
    """A `Page[Vehicle]`: the usable vehicles, the skipped items and the next page token.

    One bad item must not hide every other car of the organisation, so it is skipped, not fatal.
    """
    page = _mapping(raw, "vehicle page")
    results = page.get("results")
    if not isinstance(results, list):
        raise TransientError("Malformed Volteras answer: vehicle page without results")
    vehicles: list[VehicleInfo] = []
    skipped: list[SkippedItem] = []
    for item in results:
        try:
            vehicles.append(vehicle_info(item))
        except TransientError as err:
            skipped.append(SkippedItem(fingerprint=_fingerprint(item), problem=str(err)))
    token = page.get("nextPageToken")
    return vehicles, skipped, token if isinstance(token, str) and token else None


def vehicle_state(raw: Any, fetched_at: datetime) -> VehicleState:
    """A `VehicleTelemetry` object as `VehicleState`."""
    telemetry = _mapping(raw, "telemetry")
    if not isinstance(telemetry.get("id"), str):
        raise TransientError("Malformed Volteras answer: telemetry without id")

    charging_block = _block(telemetry, "chargingState")
    charging_state = _CHARGING_STATES.get(str(charging_block.get("chargingState")))
    known = charging_state is not None
    plugged_in = charging_state in _PLUGGED_STATES if known else None
    charging = charging_state in {ChargingState.CHARGING, ChargingState.STARTING} if known else None
    power = _number(_block(telemetry, "chargePowerLevel"))
    connection = _connection_status(charging_state, power)

    remaining = _block(telemetry, "chargeRemainingTime")
    minutes = _number(remaining)
    remaining_at = _timestamp(remaining.get("timestamp"))
    full_at = (
        _finish_time(remaining_at, minutes)
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
        charging_power_kw=power,
        charging_current_limit_a=_number(_block(telemetry, "chargeCurrentLimit")),
        full_at=full_at,
        energy_remaining_kwh=_number(_block(telemetry, "energyRemaining")),
        latitude=_number(location, "latitude"),
        longitude=_number(location, "longitude"),
        locked=locked if isinstance(locked, bool) else None,
    )


def _finish_time(reported_at: datetime, minutes: float) -> datetime | None:
    """When charging ends; a negative or absurd remaining time gives none rather than a crash."""
    if not 0 <= minutes <= MAX_REMAINING_MINUTES:
        return None
    try:
        return reported_at + timedelta(minutes=minutes)
    except OverflowError:
        return None


def _connection_status(
    charging_state: ChargingState | None, power_kw: float | None
) -> ConnectionStatus | None:
    """Volteras says whether a cable is in, not whether it carries AC or DC.

    Only a power no AC charger can deliver proves DC; anything else plugged in stays unknown
    rather than a guess.
    """
    if charging_state is ChargingState.DISCONNECTED:
        return ConnectionStatus.DISCONNECTED
    if charging_state is ChargingState.CHARGING and power_kw is not None and power_kw > AC_MAX_KW:
        return ConnectionStatus.CONNECTED_DC
    return None


def execution_status(raw: Any) -> tuple[CommandStatus, str | None]:
    """The status and failure reason of a `VehicleCommandExecution` (pushed or read)."""
    execution = _mapping(raw, "command execution")
    reason = execution.get("failedReason")
    status = _COMMAND_STATUSES.get(str(execution.get("status")), CommandStatus.PENDING)
    return status, reason if isinstance(reason, str) else None


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
