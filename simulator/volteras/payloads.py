"""JSON bodies in the shapes of Volteras's OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any
import uuid

from .fleet import COMMAND_TIMEOUT, Execution, SimVehicle


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with offset, as the API writes timestamps."""
    return moment.isoformat() if moment else None


def error(code: str, message: str, now: datetime, data: Any = None) -> dict[str, Any]:
    """Volteras's error envelope."""
    return {
        "requestId": str(uuid.uuid4()),
        "timestamp": iso(now),
        "error": code,
        "message": message,
        "data": data,
    }


def vehicle(v: SimVehicle) -> dict[str, Any]:
    """A `Vehicle`."""
    return {
        "id": v.id,
        "vin": v.vin,
        "make": v.make,
        "model": v.model,
        "trim": None,
        "modelYear": v.model_year,
        "registrationPlate": None,
        "isRegNoValidated": None,
        "regNoValidatedAt": None,
        "metadata": {
            "lastSeenAt": iso(v.reported_at),
            "consentId": f"consent-{v.account_id}",
            "accountId": v.account_id,
        },
        "isListening": True,
        "listeningLastUpdated": None,
        "connectionStatus": "CONNECTED",
        "connectionErrorCode": None,
        "connectionErrorMessage": None,
        "actionCategory": None,
    }


def _reading(value: Any, unit: str | None, at: str | None) -> dict[str, Any]:
    return {"value": value, "unit": unit, "timestamp": at}


def _charging_state(v: SimVehicle) -> str:
    if not v.plugged_in:
        return "DISCONNECTED"
    if v.charging:
        return "CHARGING" if v.charging_now else "COMPLETE"
    return "CONNECTED"


def telemetry(v: SimVehicle) -> dict[str, Any]:
    """A `VehicleTelemetry`: every block present, each with the time the car reported it."""
    at = iso(v.reported_at)
    power = v.charge_power_kw if v.charging_now else 0.0
    remaining_minutes: int | None = None
    if v.charging_now:
        missing_kwh = (v.charge_limit - v.soc) / 100 * v.battery_capacity_kwh
        remaining_minutes = round(missing_kwh / v.charge_power_kw * 60)
    lock_state = "CLOSED" if v.locked else "OPEN"
    return {
        "id": v.id,
        "odometer": _reading(round(v.odometer_km, 1), "km", at),
        "location": {"latitude": v.latitude, "longitude": v.longitude, "timestamp": at},
        "elevation": _reading(12.0, "m", at),
        "speed": _reading(0.0, "m/s", at),
        "heading": _reading(90.0, "degree", at),
        "stateOfCharge": _reading(round(v.soc, 1), None, at),
        "chargingState": {
            "chargingState": _charging_state(v),
            "timestamp": at,
            "chargePortDoorOpen": v.charge_port_open or v.plugged_in,
            "chargePortLatch": "ENGAGED" if v.plugged_in else "DISENGAGED",
        },
        "range": _reading(round(v.soc * v.range_per_percent_km, 1), "km", at),
        "tirePressure": {
            "frontRightTire": 290.0,
            "frontLeftTire": 290.0,
            "rearRightTire": 300.0,
            "rearLeftTire": 300.0,
            "unit": "kPa",
            "timestamp": at,
        },
        "security": {
            "locked": v.locked,
            "frontRightDoor": lock_state,
            "frontLeftDoor": lock_state,
            "rearRightDoor": lock_state,
            "rearLeftDoor": lock_state,
            "frontRightWindow": "CLOSED",
            "frontLeftWindow": "CLOSED",
            "rearLeftWindow": "CLOSED",
            "rearRightWindow": "CLOSED",
            "frontTrunk": "CLOSED",
            "rearTrunk": "CLOSED",
            "sunRoof": None,
            "timestamp": at,
        },
        "metadata": vehicle(v)["metadata"],
        "realRange": _reading(round(v.soc * v.range_per_percent_km * 0.9, 1), "km", at),
        "maxStateOfCharge": {"value": v.charge_limit, "unit": "percent", "timestamp": at},
        "chargeRemainingTime": {"value": remaining_minutes, "unit": "minutes", "timestamp": at},
        "chargePowerLevel": {"value": power, "unit": "kw", "timestamp": at},
        "chargeCurrentLimit": {"value": v.charge_current_limit_a, "unit": "amps", "timestamp": at},
        "energyRemaining": _reading(round(v.soc / 100 * v.battery_capacity_kwh, 2), "kWh", at),
        "minStateOfCharge": {"value": None, "unit": "percent", "timestamp": None},
    }


def execution(e: Execution) -> dict[str, Any]:
    """A `VehicleCommandExecution`; `failedReason` only when failed (the schema has no null)."""
    body: dict[str, Any] = {
        "id": e.id,
        "vehicleId": e.vehicle_id,
        "command": e.command,
        "commandArguments": e.arguments,
        "timeout": COMMAND_TIMEOUT,
        "executedAt": iso(e.executed_at),
        "status": e.status,
    }
    if e.failed_reason is not None:
        body["failedReason"] = e.failed_reason
    return body


def page(results: list[dict[str, Any]], next_token: str | None, total: int) -> dict[str, Any]:
    """A `Page[...]`."""
    return {"results": results, "nextPageToken": next_token, "totalResults": total}
