"""Volvo JSON → the provider-neutral model. Pure functions: no I/O, never a crash on odd values.

The Energy API v2 `state` is a map of resources, each either `{"status": "OK", "value", "unit"?,
"updatedAt"}` or `{"status": "ERROR", "code", "message"}`. A resource that is not OK leaves its
readings `None` and lists them in `Reading.errored` (as `VehicleState` fields) and in
`VehicleState.failed` (as entity keys), so the Home Assistant side makes only those entities
unavailable. A missing resource is just unknown. What a car never reports (per its energy
capabilities, fuel type and the token's scopes) goes to `VehicleInfo.unsupported`.
Values may arrive as strings ("58.0"); anything that is not a finite number is no reading.

Connected Vehicle v2 answers carry their body in `{"data": …}`; the Energy API does not. Both are
accepted either way, as Home Assistant's fixtures store the inner objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any, Final

from ...model import Capability, ChargingState, ConnectionStatus, VehicleInfo, VehicleState
from ..errors import TransientError
from ..json_values import finite_number
from .const import CLIMATE_COMMANDS, COMMAND_SCOPES, KM_PER_MILE, LOCATION_SCOPE, LOCK_COMMANDS

MAKE: Final = "Volvo"

# Energy state keys → the `VehicleState` fields they feed. `chargingType` and
# `chargerPowerStatus` only refine other readings and have no field of their own.
ENERGY_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "batteryChargeLevel": ("battery_level",),
    "electricRange": ("range_km",),
    "chargerConnectionStatus": ("connection_status", "plugged_in"),
    "chargingStatus": ("charging_state", "charging"),
    "chargingType": (),
    "chargerPowerStatus": (),
    "chargingPower": ("charging_power_kw",),
    "chargingCurrentLimit": ("charging_current_limit_a",),
    "targetBatteryChargeLevel": ("charge_limit",),
    "estimatedChargingTimeToTargetBatteryChargeLevel": ("full_at",),
}
# The capabilities endpoint names the charging status differently from the state endpoint.
CAPABILITY_ALIASES: Final = {"chargingSystemStatus": "chargingStatus"}
ALL_ENERGY_FIELDS: Final = frozenset(f for fields in ENERGY_FIELDS.values() for f in fields)
DOORS_FIELDS: Final = frozenset({"locked"})
ODOMETER_FIELDS: Final = frozenset({"odometer_km"})
LOCATION_FIELDS: Final = frozenset({"latitude", "longitude"})
# The reads a state is made of → the fields each one feeds.
PART_FIELDS: Final[dict[str, frozenset[str]]] = {
    "energy": ALL_ENERGY_FIELDS,
    "doors": DOORS_FIELDS,
    "odometer": ODOMETER_FIELDS,
    "location": LOCATION_FIELDS,
}
# `VehicleState` field → the key of the entity that shows it (`VehicleInfo.unsupported` and
# `VehicleState.failed` speak in entity keys).
ENTITY_KEYS: Final[dict[str, str]] = {
    "battery_level": "battery_level",
    "range_km": "range",
    "connection_status": "connection_status",
    "plugged_in": "plugged_in",
    "charging_state": "charging_state",
    "charging": "charging",
    "charging_power_kw": "charging_power",
    "charging_current_limit_a": "charging_current_limit",
    "charge_limit": "charge_limit",
    "full_at": "time_to_full",
    "locked": "door_lock",
    "odometer_km": "odometer",
    "latitude": "location",
    "longitude": "location",
}
# Fuel types without a traction battery: no Energy API to ask.
NO_BATTERY_FUELS: Final = frozenset({"PETROL", "DIESEL"})

_KM_UNITS = frozenset({"km", "kilometers", "kilometres"})
_MILE_UNITS = frozenset({"mi", "mile", "miles"})
_WATT_UNITS = frozenset({"watts", "watt", "w"})
_KILOWATT_UNITS = frozenset({"kilowatts", "kilowatt", "kw"})
# A car clock ahead of ours by more than this is wrong, and must not pin `reported_at`.
_FUTURE_SLACK = timedelta(hours=1)
# Longer than any charge: a nonsense estimate, not a time.
_MAX_CHARGING_MINUTES = 7 * 24 * 60


@dataclass(frozen=True, kw_only=True)
class EnergyCapabilities:
    """What `/energy/v2/vehicles/{vin}/capabilities` says the car reports."""

    # The car has the Energy API at all (`getEnergyState.isSupported`).
    api: bool
    # The state keys it supports (state spelling: `chargingStatus`).
    keys: frozenset[str]

    @property
    def fields(self) -> frozenset[str]:
        """The `VehicleState` fields those keys feed."""
        return frozenset(f for key in self.keys for f in ENERGY_FIELDS.get(key, ()))


@dataclass(frozen=True, kw_only=True)
class VehicleDetails:
    """`GET /connected-vehicle/v2/vehicles/{vin}`, what of it the integration uses."""

    model: str | None = None
    model_year: str | None = None
    fuel_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class VolvoVehicle:
    """A car as the client keeps it: the neutral info plus what only Volvo's client needs."""

    info: VehicleInfo
    # `VehicleState` fields the car can report at all (no entity is due for the others).
    supported_fields: frozenset[str]
    # Whether its energy state is worth a request.
    energy_api: bool


@dataclass(frozen=True, kw_only=True)
class Reading:
    """One poll: the state, the fields whose resource was in error, the reads that failed."""

    state: VehicleState
    errored: frozenset[str]
    failed_parts: frozenset[str]


def entity_keys(fields: Iterable[str]) -> frozenset[str]:
    """The entity keys of `VehicleState` fields."""
    return frozenset(ENTITY_KEYS[f] for f in fields if f in ENTITY_KEYS)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _data(body: Any) -> Mapping[str, Any] | None:
    """The object inside `{"data": …}`, or the body itself; None if neither is an object."""
    if not isinstance(body, Mapping):
        return None
    if "data" in body:
        inner = body["data"]
        return inner if isinstance(inner, Mapping) else None
    return body


def _number(value: Any) -> float | None:
    """A finite number, also from a numeric string ("58.0")."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return finite_number(value)


def _word(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def _unit(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _distance_km(value: Any, unit: str | None) -> float | None:
    number = _number(value)
    if number is None or number < 0:
        return None
    if unit is None or unit in _KM_UNITS:
        return number
    if unit in _MILE_UNITS:
        return number * KM_PER_MILE
    return None


def _percentage(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and 0 <= number <= 100 else None


def _non_negative(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number >= 0 else None


def _power_kw(value: Any, unit: str | None) -> float | None:
    number = _number(value)
    if number is None:
        return None
    if unit is None or unit in _WATT_UNITS:
        return number / 1000
    if unit in _KILOWATT_UNITS:
        return number
    return None


def parse_timestamp(value: Any, fetched_at: datetime) -> datetime | None:
    """An aware ISO 8601 time ("…Z" too) in UTC; naive, garbled or far-future ones are None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
        if when.tzinfo is None:
            return None
        when = when.astimezone(UTC)
    except ValueError, TypeError, OverflowError:
        return None
    return when if when <= fetched_at + _FUTURE_SLACK else None


# --- vehicles -----------------------------------------------------------------------------------


def vehicle_list(raw: Any) -> list[str]:
    """The VINs of `GET /connected-vehicle/v2/vehicles`, each once, in Volvo's order."""
    items = _mapping(raw).get("data")
    if not isinstance(items, list):
        raise TransientError("Malformed Volvo answer: vehicle list without data")
    vins: list[str] = []
    for item in items:
        vin = _mapping(item).get("vin")
        # Kept as Volvo spells it: the VIN goes back into the paths.
        if isinstance(vin, str) and (vin := vin.strip()) and vin not in vins:
            vins.append(vin)
    return vins


def vehicle_details(raw: Any) -> VehicleDetails:
    """Model, model year and fuel type from the vehicle's details."""
    data = _data(raw)
    if data is None:
        raise TransientError("Malformed Volvo answer: vehicle details without data")
    model = _mapping(data.get("descriptions")).get("model")
    year = data.get("modelYear")
    if isinstance(year, bool) or not isinstance(year, int | str) or not str(year).strip():
        year = None
    return VehicleDetails(
        model=model.strip() if isinstance(model, str) and model.strip() else None,
        model_year=str(year).strip() if year is not None else None,
        fuel_type=_word(data.get("fuelType")),
    )


def command_names(raw: Any) -> frozenset[str]:
    """The command names `GET …/commands` lists for the car."""
    items = raw.get("data") if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise TransientError("Malformed Volvo answer: command list without data")
    return frozenset(
        name for item in items if (name := _word(_mapping(item).get("command"))) is not None
    )


def energy_capabilities(raw: Any) -> EnergyCapabilities:
    """`GET /energy/v2/vehicles/{vin}/capabilities`: whether, and what, the car reports."""
    body = _mapping(raw)
    block = body.get("getEnergyState", raw)
    if not isinstance(block, Mapping):
        raise TransientError("Malformed Volvo answer: energy capabilities")
    if block.get("isSupported") is not True:
        return EnergyCapabilities(api=False, keys=frozenset())
    keys = frozenset(
        CAPABILITY_ALIASES.get(str(key), str(key))
        for key, child in block.items()
        if isinstance(child, Mapping) and child.get("isSupported") is True
    )
    return EnergyCapabilities(api=True, keys=keys & ENERGY_FIELDS.keys())


def capabilities(commands: Iterable[str]) -> frozenset[Capability]:
    """What the car's command list lets the integration do; charging is never among it."""
    names = frozenset(commands)
    found: set[Capability] = set()
    if names >= CLIMATE_COMMANDS:
        found.add(Capability.CLIMATE_CONTROL)
    if names >= LOCK_COMMANDS:
        found.add(Capability.DOOR_LOCK_CONTROL)
    return frozenset(found)


def supported_fields(
    energy: EnergyCapabilities | None, details: VehicleDetails | None, *, location: bool
) -> frozenset[str]:
    """The `VehicleState` fields the car can report.

    The Energy API ones its capabilities support (all of them while those are unknown, none for
    a petrol or diesel car), the lock state, the odometer, and the location when the token may
    read it.
    """
    fields = set(DOORS_FIELDS | ODOMETER_FIELDS)
    if energy is not None:
        fields |= energy.fields
    elif details is None or details.fuel_type not in NO_BATTERY_FUELS:
        fields |= ALL_ENERGY_FIELDS
    if location:
        fields |= LOCATION_FIELDS
    return frozenset(fields)


def vehicle(
    vin: str,
    details: VehicleDetails | None,
    commands: frozenset[str] | None,
    energy: EnergyCapabilities | None,
    *,
    scopes: frozenset[str] | None = None,
) -> VolvoVehicle:
    """A car from what is known of it; an unknown part (a failed read) leaves its defaults.

    `scopes` are the ones the token was granted, None when unknown: a command the token may not
    send is no capability, and the location is read only with its scope.
    """
    details = details or VehicleDetails()
    energy_api = energy.api if energy is not None else details.fuel_type not in NO_BATTERY_FUELS
    found = capabilities(commands or ())
    if scopes is not None:
        found = frozenset(c for c in found if COMMAND_SCOPES.get(c, frozenset()) <= scopes)
    fields = supported_fields(energy, details, location=scopes is None or LOCATION_SCOPE in scopes)
    if "connection_status" in fields:
        # With the charger connection comes `chargingType`: AC or DC.
        found |= {Capability.CHARGER_TYPE}
    return VolvoVehicle(
        info=VehicleInfo(
            id=vin,
            vin=vin,
            make=MAKE,
            model=details.model,
            model_year=details.model_year,
            capabilities=found,
            unsupported=entity_keys(ENTITY_KEYS.keys() - fields),
        ),
        supported_fields=fields,
        energy_api=energy_api,
    )


# --- state --------------------------------------------------------------------------------------


class _Energy:
    """Reads the energy resources, noting errored fields and timestamps as it goes."""

    def __init__(self, body: Mapping[str, Any], fetched_at: datetime) -> None:
        self._body = body
        self._fetched_at = fetched_at
        self.errored: set[str] = set()
        self.stamps: list[datetime] = []

    def get(self, key: str) -> tuple[Any, str | None]:
        """The value and unit of an OK resource; (None, None) for any other."""
        item = self._body.get(key)
        if item is None:
            return None, None
        if not isinstance(item, Mapping) or item.get("status") != "OK":
            self.errored.update(ENERGY_FIELDS.get(key, ()))
            return None, None
        if (stamp := parse_timestamp(item.get("updatedAt"), self._fetched_at)) is not None:
            self.stamps.append(stamp)
        return item.get("value"), _unit(item.get("unit"))


def _connection(
    status: str | None, kind: str | None
) -> tuple[ConnectionStatus | None, bool | None]:
    """`chargerConnectionStatus` and `chargingType` → connection status and plugged in."""
    match status:
        case "CONNECTED":
            # NONE or UNSPECIFIED: plugged in, but AC or DC is not known.
            kinds = {"AC": ConnectionStatus.CONNECTED_AC, "DC": ConnectionStatus.CONNECTED_DC}
            return kinds.get(kind or ""), True
        case "DISCONNECTED":
            return ConnectionStatus.DISCONNECTED, False
        case "FAULT":
            return ConnectionStatus.FAULT, None
    return None, None


def _charging(
    status: str | None, plugged: bool | None, power_status: str | None
) -> tuple[ChargingState | None, bool | None]:
    """`chargingStatus` → charging state and whether it charges.

    IDLE (and DISCHARGING, power flowing out) is `connected` when plugged in, `disconnected`
    when not, unknown when the connection is; a charger that offers no power makes it
    `no_power`. SCHEDULED waits plugged in: `connected`. ERROR (FAULT in some clients) ended the
    session: `stopped`. Unplugged is `disconnected` whatever the status, except while charging.
    """
    state: ChargingState | None
    match status:
        case "CHARGING":
            return ChargingState.CHARGING, True
        case "DONE":
            state = ChargingState.COMPLETE
        case "IDLE" | "DISCHARGING":
            state = ChargingState.CONNECTED if plugged else None
            if plugged and status == "IDLE" and power_status == "NO_POWER_AVAILABLE":
                state = ChargingState.NO_POWER
        case "SCHEDULED":
            state = ChargingState.CONNECTED
        case "ERROR" | "FAULT":
            state = ChargingState.STOPPED
        case _:
            return None, None
    if plugged is False:
        state = ChargingState.DISCONNECTED
    return state, False


def _energy_state(energy: _Energy, fetched_at: datetime) -> dict[str, Any]:
    connection, plugged = _connection(
        _word(energy.get("chargerConnectionStatus")[0]), _word(energy.get("chargingType")[0])
    )
    charging_state, charging = _charging(
        _word(energy.get("chargingStatus")[0]),
        plugged,
        _word(energy.get("chargerPowerStatus")[0]),
    )
    minutes = _number(energy.get("estimatedChargingTimeToTargetBatteryChargeLevel")[0])
    full_at = None
    if charging and minutes is not None and 0 < minutes < _MAX_CHARGING_MINUTES:
        full_at = fetched_at + timedelta(minutes=minutes)
    return {
        "battery_level": _percentage(energy.get("batteryChargeLevel")[0]),
        "range_km": _distance_km(*energy.get("electricRange")),
        "connection_status": connection,
        "plugged_in": plugged,
        "charging_state": charging_state,
        "charging": charging,
        "charging_power_kw": _power_kw(*energy.get("chargingPower")),
        "charging_current_limit_a": _non_negative(energy.get("chargingCurrentLimit")[0]),
        "charge_limit": _percentage(energy.get("targetBatteryChargeLevel")[0]),
        "full_at": full_at,
    }


def _doors(data: Mapping[str, Any], fetched_at: datetime, stamps: list[datetime]) -> bool | None:
    lock = _mapping(data.get("centralLock"))
    locked = {"LOCKED": True, "UNLOCKED": False}.get(_word(lock.get("value")) or "")
    if locked is not None and (stamp := parse_timestamp(lock.get("timestamp"), fetched_at)):
        stamps.append(stamp)
    return locked


def _odometer(
    data: Mapping[str, Any], fetched_at: datetime, stamps: list[datetime]
) -> float | None:
    odometer = _mapping(data.get("odometer"))
    km = _distance_km(odometer.get("value"), _unit(odometer.get("unit")))
    if km is not None and (stamp := parse_timestamp(odometer.get("timestamp"), fetched_at)):
        stamps.append(stamp)
    return km


def _location(
    data: Mapping[str, Any], fetched_at: datetime, stamps: list[datetime]
) -> tuple[float | None, float | None]:
    """GeoJSON: `geometry.coordinates` is [longitude, latitude, altitude]."""
    coordinates = _mapping(data.get("geometry")).get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None, None
    longitude, latitude = _number(coordinates[0]), _number(coordinates[1])
    if longitude is None or latitude is None or abs(longitude) > 180 or abs(latitude) > 90:
        return None, None
    properties = _mapping(data.get("properties"))
    if stamp := parse_timestamp(properties.get("timestamp"), fetched_at):
        stamps.append(stamp)
    return latitude, longitude


_NOT_READ: Final[Any] = object()


def vehicle_state(
    fetched_at: datetime,
    *,
    energy: Any = _NOT_READ,
    doors: Any = _NOT_READ,
    odometer: Any = _NOT_READ,
    location: Any = _NOT_READ,
) -> Reading:
    """Merge the reads of one poll into a `VehicleState`.

    Each argument is a read's body; `None` says the read failed, and a body that is not an
    object counts as failed too: their fields are `errored`. A read not made leaves its fields
    unknown and not errored. `reported_at` is the newest timestamp among the readings.
    """
    values: dict[str, Any] = {}
    errored: set[str] = set()
    failed: set[str] = set()
    stamps: list[datetime] = []
    parts = {"energy": energy, "doors": doors, "odometer": odometer, "location": location}
    for part, body in parts.items():
        if body is _NOT_READ:
            continue
        data = _data(body)
        if data is None:
            failed.add(part)
            errored |= PART_FIELDS[part]
            continue
        match part:
            case "energy":
                reader = _Energy(data, fetched_at)
                values |= _energy_state(reader, fetched_at)
                errored |= reader.errored
                stamps += reader.stamps
            case "doors":
                values["locked"] = _doors(data, fetched_at, stamps)
            case "odometer":
                values["odometer_km"] = _odometer(data, fetched_at, stamps)
            case "location":
                values["latitude"], values["longitude"] = _location(data, fetched_at, stamps)
    return Reading(
        state=VehicleState(
            fetched_at=fetched_at,
            reported_at=max(stamps) if stamps else None,
            failed=entity_keys(errored),
            **values,
        ),
        errored=frozenset(errored),
        failed_parts=frozenset(failed),
    )
