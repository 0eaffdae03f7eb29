"""Fleet API JSON → the provider-neutral model.

Tesla reports ranges and the odometer in miles whatever the car's display setting, and charge
limit and current bounds per car; those bounds go into the state so the entities follow the car.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ...model import ChargingState, ConnectionStatus, NumberRange, VehicleInfo, VehicleState
from ..errors import TransientError
from ..json_values import finite_number
from .const import CAPABILITIES, KM_PER_MILE

_CHARGING_STATES = {
    "Starting": ChargingState.STARTING,
    "Charging": ChargingState.CHARGING,
    "Stopped": ChargingState.STOPPED,
    "Complete": ChargingState.COMPLETE,
    "Disconnected": ChargingState.DISCONNECTED,
    "NoPower": ChargingState.NO_POWER,
}
# Model letter in the VIN (position 4) → model name.
_MODELS = {"3": "Model 3", "Y": "Model Y", "S": "Model S", "X": "Model X", "C": "Cybertruck"}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(block: Mapping[str, Any], key: str) -> float | None:
    return finite_number(block.get(key))


def _bool(block: Mapping[str, Any], key: str) -> bool | None:
    value = block.get(key)
    return value if isinstance(value, bool) else None


def _miles_to_km(value: float | None) -> float | None:
    return value * KM_PER_MILE if value is not None else None


def _range(block: Mapping[str, Any], low: str, high: str, step: float) -> NumberRange | None:
    minimum, maximum = _number(block, low), _number(block, high)
    if minimum is None or maximum is None or minimum >= maximum:
        return None
    return NumberRange(minimum=minimum, maximum=maximum, step=step)


def product_response(raw: Any) -> list[Any]:
    """The items of `GET /products`."""
    items = _mapping(raw).get("response")
    if not isinstance(items, list):
        raise TransientError("Malformed Tesla answer: products without a response list")
    return items


def vehicle_info(item: Any) -> tuple[VehicleInfo, bool] | None:
    """A car from `/products`, and whether it needs signed commands; None for other products."""
    product = _mapping(item)
    vin, vehicle_id = product.get("vin"), product.get("id")
    if not isinstance(vin, str) or len(vin) != 17:
        return None
    name = product.get("display_name")
    return (
        VehicleInfo(
            id=str(vehicle_id) if isinstance(vehicle_id, int | str) else vin,
            vin=vin,
            make="TESLA",
            model=_MODELS.get(vin[3]),
            name=name if isinstance(name, str) and name else None,
            capabilities=CAPABILITIES,
            charge_limit_range=NumberRange(minimum=50, maximum=100, step=1),
            temperature_range=NumberRange(minimum=15, maximum=28, step=0.5),
            charging_current_range=NumberRange(minimum=0, maximum=32, step=1),
        ),
        product.get("command_signing") == "required",
    )


def paired_vins(raw: Any) -> set[str]:
    """The VINs `fleet_status` says carry the partner's key."""
    paired = _mapping(_mapping(raw).get("response")).get("key_paired_vins")
    return {vin for vin in paired if isinstance(vin, str)} if isinstance(paired, list) else set()


def vehicle_online(raw: Any) -> bool:
    """Whether `GET /vehicles/{vin}` says the car is online (`asleep` and `offline` are not)."""
    return _mapping(_mapping(raw).get("response")).get("state") == "online"


def _connection(charge: Mapping[str, Any], state: ChargingState | None) -> ConnectionStatus | None:
    """Seed 004's vocabulary from the cable, the charging state and the fast-charger flags."""
    if state is ChargingState.DISCONNECTED:
        return ConnectionStatus.DISCONNECTED
    cable = charge.get("conn_charge_cable")
    plugged = state is not None or (isinstance(cable, str) and cable != "<invalid>")
    if not plugged:
        return None
    fast = _bool(charge, "fast_charger_present")
    fast_type = charge.get("fast_charger_type")
    # Tesla's own AC wall connectors report a "fast charger" of type ACSingleWireCAN.
    if fast and isinstance(fast_type, str) and not fast_type.startswith("AC"):
        return ConnectionStatus.CONNECTED_DC
    if fast is not None:
        return ConnectionStatus.CONNECTED_AC
    return None


def _scheduled(charge: Mapping[str, Any], fetched_at: datetime) -> datetime | None:
    """The start of a scheduled charge (`scheduled_charging_start_time`, Unix seconds) ahead."""
    if charge.get("scheduled_charging_pending") is False:
        return None
    seconds = _number(charge, "scheduled_charging_start_time")
    if seconds is None:
        return None
    try:
        start = datetime.fromtimestamp(seconds, UTC)
    except OverflowError, OSError, ValueError:
        return None
    # Only a start still ahead, within a day, is a reason to read then.
    return start if fetched_at < start <= fetched_at + timedelta(days=1) else None


def vehicle_state(raw: Any, fetched_at: datetime) -> VehicleState:
    """`vehicle_data` as `VehicleState`."""
    data = _mapping(raw).get("response")
    if not isinstance(data, Mapping):
        raise TransientError("Malformed Tesla answer: vehicle_data without a response")
    charge = _mapping(data.get("charge_state"))
    climate = _mapping(data.get("climate_state"))
    vehicle = _mapping(data.get("vehicle_state"))
    drive = _mapping(data.get("drive_state"))
    state = _CHARGING_STATES.get(str(charge.get("charging_state")))
    charging = state in {ChargingState.CHARGING, ChargingState.STARTING} if state else None
    hours = _number(charge, "time_to_full_charge")
    return VehicleState(
        fetched_at=fetched_at,
        reported_at=fetched_at,
        battery_level=_number(charge, "battery_level"),
        range_km=_miles_to_km(_number(charge, "battery_range")),
        odometer_km=_miles_to_km(_number(vehicle, "odometer")),
        charging_state=state,
        connection_status=_connection(charge, state),
        plugged_in=(state is not ChargingState.DISCONNECTED) if state else None,
        charging=charging,
        charge_port_open=_bool(charge, "charge_port_door_open"),
        charge_limit=_number(charge, "charge_limit_soc"),
        charging_power_kw=_number(charge, "charger_power"),
        charging_current_limit_a=_number(charge, "charge_current_request_max"),
        charging_current_a=_number(charge, "charge_current_request"),
        energy_added_kwh=_number(charge, "charge_energy_added"),
        full_at=(
            fetched_at + timedelta(hours=hours)
            if charging and hours is not None and 0 < hours < 24 * 7
            else None
        ),
        scheduled_charge_at=_scheduled(charge, fetched_at),
        latitude=_number(drive, "latitude"),
        longitude=_number(drive, "longitude"),
        locked=_bool(vehicle, "locked"),
        climate_on=_bool(climate, "is_climate_on"),
        target_temperature_c=_number(climate, "driver_temp_setting"),
        cabin_temperature_c=_number(climate, "inside_temp"),
        outside_temperature_c=_number(climate, "outside_temp"),
        charge_limit_range=_range(charge, "charge_limit_soc_min", "charge_limit_soc_max", 1),
        charging_current_range=(
            NumberRange(minimum=0, maximum=maximum, step=1)
            if (maximum := _number(charge, "charge_current_request_max"))
            else None
        ),
    )
