"""Volvo's payloads → the neutral model, and Volvo's refusals and outcomes → the shared words.

Pure functions only. The payloads follow the shapes of Home Assistant's Volvo fixtures (an
electric XC40 charging and reporting miles, an idle EX30, a 2020 XC60 plug-in hybrid whose energy
resources are mostly NOT_SUPPORTED, a petrol XC90), with values of our own.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ev_cloud.model import (
    Capability,
    ChargingState,
    ConnectionStatus,
    FailureReason,
)
from custom_components.ev_cloud.providers.errors import (
    ApiKeyRejectedError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    TransientError,
)
from custom_components.ev_cloud.providers.volvo import SPEC, parse
from custom_components.ev_cloud.providers.volvo.const import CAPABILITIES, SCOPES
from custom_components.ev_cloud.providers.volvo.errors import (
    OutcomeUnknownError,
    error_from_response,
    retry_after_seconds,
)
from custom_components.ev_cloud.providers.volvo.failures import failure_reason

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
STAMP = "2026-11-25T17:41:07Z"


def ok(value: Any, unit: str | None = None, at: str = STAMP) -> dict[str, Any]:
    resource: dict[str, Any] = {"status": "OK", "value": value, "updatedAt": at}
    if unit is not None:
        resource["unit"] = unit
    return resource


NOT_SUPPORTED = {
    "status": "ERROR",
    "code": "NOT_SUPPORTED",
    "message": "Resource is not supported for this vehicle",
}
NOT_FOUND = {
    "status": "ERROR",
    "code": "PROPERTY_NOT_FOUND",
    "message": "No valid value could be found for the requested property",
}


def charging_xc40() -> dict[str, Any]:
    """An electric XC40 on an AC charger; its range comes in miles."""
    return {
        "batteryChargeLevel": ok(61, "percentage"),
        "electricRange": ok(120, "mi"),
        "chargerConnectionStatus": ok("CONNECTED"),
        "chargingStatus": ok("CHARGING"),
        "chargingType": ok("AC"),
        "chargerPowerStatus": ok("PROVIDING_POWER"),
        "estimatedChargingTimeToTargetBatteryChargeLevel": ok(95, "minutes"),
        "chargingCurrentLimit": ok(16, "ampere", "2025-03-01T07:12:00Z"),
        "targetBatteryChargeLevel": ok(80, "percentage", "2025-09-10T06:00:00Z"),
        "chargingPower": ok(7360, "watts"),
    }


def idle_ex30() -> dict[str, Any]:
    """An EX30 parked unplugged: no charging power while idle (PROPERTY_NOT_FOUND)."""
    return {
        "batteryChargeLevel": ok(44, "percentage"),
        "electricRange": ok(131, "km"),
        "chargerConnectionStatus": ok("DISCONNECTED"),
        "chargingStatus": ok("IDLE"),
        "chargingType": ok("NONE"),
        "chargerPowerStatus": ok("NO_POWER_AVAILABLE"),
        "estimatedChargingTimeToTargetBatteryChargeLevel": ok(0, "minutes"),
        "chargingCurrentLimit": ok(32, "ampere"),
        "targetBatteryChargeLevel": ok(90, "percentage"),
        "chargingPower": NOT_FOUND,
    }


def phev_xc60() -> dict[str, Any]:
    """A 2020 XC60 plug-in hybrid: only connection, charging status and target are reported."""
    state = dict.fromkeys(parse.ENERGY_FIELDS, NOT_SUPPORTED)
    state["chargerConnectionStatus"] = ok("DISCONNECTED")
    state["chargingStatus"] = ok("IDLE")
    state["targetBatteryChargeLevel"] = ok(80, "percentage")
    return state


DOORS = {
    "data": {
        "centralLock": {"value": "LOCKED", "timestamp": "2026-11-25T17:50:12.345Z"},
        "frontLeftDoor": {"value": "CLOSED", "timestamp": "2026-11-25T17:50:12.345Z"},
        "tailgate": {"value": "CLOSED", "timestamp": "2026-11-25T17:50:12.345Z"},
    }
}
ODOMETER = {"data": {"odometer": {"value": 18250, "unit": "km", "timestamp": STAMP}}}
LOCATION = {
    "data": {
        "type": "Feature",
        "properties": {"timestamp": "2026-11-25T17:55:00.000Z", "heading": "270"},
        "geometry": {"type": "Point", "coordinates": [12.5683, 55.6761, 14.0]},
    }
}


# --- energy state -------------------------------------------------------------------------------


def test_charging_car_in_miles() -> None:
    reading = parse.vehicle_state(NOW, energy=charging_xc40())
    state = reading.state
    assert state.battery_level == 61
    assert state.range_km == pytest.approx(120 * 1.609344)
    assert state.connection_status is ConnectionStatus.CONNECTED_AC
    assert state.plugged_in is True
    assert state.charging_state is ChargingState.CHARGING
    assert state.charging is True
    assert state.charging_power_kw == pytest.approx(7.36)
    assert state.charging_current_limit_a == 16
    assert state.charge_limit == 80
    assert state.full_at == NOW + timedelta(minutes=95)
    assert state.reported_at == datetime(2026, 11, 25, 17, 41, 7, tzinfo=UTC)
    assert state.fetched_at == NOW
    assert reading.errored == frozenset()
    assert reading.failed_parts == frozenset()


def test_idle_car_power_not_found_is_errored() -> None:
    reading = parse.vehicle_state(NOW, energy=idle_ex30())
    state = reading.state
    assert state.connection_status is ConnectionStatus.DISCONNECTED
    assert state.plugged_in is False
    assert state.charging_state is ChargingState.DISCONNECTED
    assert state.charging is False
    assert state.charging_power_kw is None
    assert state.full_at is None
    assert state.range_km == 131
    assert reading.errored == {"charging_power_kw"}
    # The same, as the entity keys the Home Assistant side reads.
    assert state.failed == {"charging_power"}


def test_phev_missing_fields_are_none_and_errored() -> None:
    reading = parse.vehicle_state(NOW, energy=phev_xc60())
    state = reading.state
    assert state.battery_level is None
    assert state.range_km is None
    assert state.charging_power_kw is None
    assert state.charging_current_limit_a is None
    assert state.full_at is None
    assert state.connection_status is ConnectionStatus.DISCONNECTED
    assert state.charging_state is ChargingState.DISCONNECTED
    assert state.charge_limit == 80
    assert reading.errored == {
        "battery_level",
        "range_km",
        "charging_power_kw",
        "charging_current_limit_a",
        "full_at",
    }
    assert state.failed == {
        "battery_level",
        "range",
        "charging_power",
        "charging_current_limit",
        "time_to_full",
    }


def test_car_without_energy_api_everything_errored() -> None:
    reading = parse.vehicle_state(NOW, energy=dict.fromkeys(parse.ENERGY_FIELDS, NOT_SUPPORTED))
    assert reading.errored == parse.ALL_ENERGY_FIELDS
    assert reading.state.reported_at is None
    assert reading.state.connection_status is None


@pytest.mark.parametrize(
    ("connection", "kind", "status", "plugged"),
    [
        (ok("CONNECTED"), ok("AC"), ConnectionStatus.CONNECTED_AC, True),
        (ok("CONNECTED"), ok("DC"), ConnectionStatus.CONNECTED_DC, True),
        (ok("CONNECTED"), ok("NONE"), None, True),
        (ok("CONNECTED"), ok("UNSPECIFIED"), None, True),
        (ok("CONNECTED"), None, None, True),
        (ok("CONNECTED"), NOT_SUPPORTED, None, True),
        (ok("connected"), ok(" ac "), ConnectionStatus.CONNECTED_AC, True),
        (ok("DISCONNECTED"), ok("NONE"), ConnectionStatus.DISCONNECTED, False),
        (ok("DISCONNECTED"), ok("AC"), ConnectionStatus.DISCONNECTED, False),
        (ok("FAULT"), ok("AC"), ConnectionStatus.FAULT, None),
        (ok("UNSPECIFIED"), ok("AC"), None, None),
        (ok("SOMETHING_NEW"), ok("AC"), None, None),
        (ok(3), ok("AC"), None, None),
        (NOT_FOUND, ok("AC"), None, None),
        (None, ok("AC"), None, None),
    ],
)
def test_connection_status(
    connection: dict[str, Any] | None,
    kind: dict[str, Any] | None,
    status: ConnectionStatus | None,
    plugged: bool | None,
) -> None:
    energy = {
        key: value
        for key, value in {"chargerConnectionStatus": connection, "chargingType": kind}.items()
        if value is not None
    }
    reading = parse.vehicle_state(NOW, energy=energy)
    assert reading.state.connection_status is status
    assert reading.state.plugged_in is plugged
    # chargingType has no field of its own: its error makes nothing unavailable.
    assert reading.errored == (
        {"connection_status", "plugged_in"} if connection is NOT_FOUND else set()
    )


@pytest.mark.parametrize(
    ("charging", "connection", "power", "state", "is_charging"),
    [
        ("CHARGING", "CONNECTED", None, ChargingState.CHARGING, True),
        ("DONE", "CONNECTED", None, ChargingState.COMPLETE, False),
        ("DONE", "DISCONNECTED", None, ChargingState.DISCONNECTED, False),
        ("IDLE", "CONNECTED", "POWER_AVAILABLE_BUT_NOT_ACTIVATED", ChargingState.CONNECTED, False),
        ("IDLE", "CONNECTED", "NO_POWER_AVAILABLE", ChargingState.NO_POWER, False),
        ("IDLE", "DISCONNECTED", "NO_POWER_AVAILABLE", ChargingState.DISCONNECTED, False),
        ("IDLE", "UNSPECIFIED", None, None, False),
        ("IDLE", None, None, None, False),
        ("DISCHARGING", "CONNECTED", None, ChargingState.CONNECTED, False),
        ("SCHEDULED", "CONNECTED", None, ChargingState.CONNECTED, False),
        ("SCHEDULED", None, None, ChargingState.CONNECTED, False),
        ("SCHEDULED", "DISCONNECTED", None, ChargingState.DISCONNECTED, False),
        ("ERROR", "CONNECTED", None, ChargingState.STOPPED, False),
        ("FAULT", "FAULT", None, ChargingState.STOPPED, False),
        ("UNSPECIFIED", "CONNECTED", None, None, None),
        ("WHATEVER", "CONNECTED", None, None, None),
    ],
)
def test_charging_state(
    charging: str,
    connection: str | None,
    power: str | None,
    state: ChargingState | None,
    is_charging: bool | None,
) -> None:
    energy = {"chargingStatus": ok(charging), "chargingType": ok("AC")}
    if connection:
        energy["chargerConnectionStatus"] = ok(connection)
    if power:
        energy["chargerPowerStatus"] = ok(power)
    result = parse.vehicle_state(NOW, energy=energy).state
    assert result.charging_state is state
    assert result.charging is is_charging


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("58.0", 58.0),
        (" 58 ", 58.0),
        (58, 58.0),
        (0, 0.0),
        (100.0, 100.0),
        ("abc", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (True, None),
        (None, None),
        ([58], None),
        ({"value": 58}, None),
        (101, None),
        (-1, None),
        (10**400, None),
    ],
)
def test_battery_level_values(value: Any, expected: float | None) -> None:
    state = parse.vehicle_state(NOW, energy={"batteryChargeLevel": ok(value, "percentage")}).state
    assert state.battery_level == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (100, "km", 100.0),
        ("100", "KM", 100.0),
        (100, None, 100.0),
        (100, "mi", 160.9344),
        (100, "miles", 160.9344),
        (100, "furlongs", None),
        (-5, "km", None),
        ("x", "mi", None),
    ],
)
def test_range_units(value: Any, unit: str | None, expected: float | None) -> None:
    state = parse.vehicle_state(NOW, energy={"electricRange": ok(value, unit)}).state
    assert state.range_km == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (11000, "watts", 11.0),
        ("1386", "watts", 1.386),
        (1386, None, 1.386),
        (11, "kW", 11.0),
        (0, "watts", 0.0),
        (11, "horsepower", None),
        ("fast", "watts", None),
    ],
)
def test_charging_power(value: Any, unit: str | None, expected: float | None) -> None:
    state = parse.vehicle_state(NOW, energy={"chargingPower": ok(value, unit)}).state
    assert state.charging_power_kw == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("charging", "minutes", "expected"),
    [
        ("CHARGING", 90, NOW + timedelta(minutes=90)),
        ("CHARGING", "45", NOW + timedelta(minutes=45)),
        ("CHARGING", 0, None),
        ("CHARGING", -3, None),
        ("CHARGING", 10**9, None),
        ("IDLE", 90, None),
        ("DONE", 90, None),
    ],
)
def test_full_at_only_while_charging(
    charging: str, minutes: Any, expected: datetime | None
) -> None:
    energy = {
        "chargingStatus": ok(charging),
        "chargerConnectionStatus": ok("CONNECTED"),
        "estimatedChargingTimeToTargetBatteryChargeLevel": ok(minutes, "minutes"),
    }
    assert parse.vehicle_state(NOW, energy=energy).state.full_at == expected


@pytest.mark.parametrize(
    "resource",
    [
        NOT_SUPPORTED,
        NOT_FOUND,
        {"status": "ERROR", "code": "SOMETHING_ELSE"},
        {"status": "ERROR"},
        {"status": "NOT_AVAILABLE", "value": 50},
        {"value": 50},
        "50",
        50,
        [],
    ],
)
def test_any_resource_not_ok_is_errored(resource: Any) -> None:
    reading = parse.vehicle_state(NOW, energy={"batteryChargeLevel": resource})
    assert reading.state.battery_level is None
    assert reading.errored == {"battery_level"}


def test_missing_keys_are_unknown_not_errored() -> None:
    reading = parse.vehicle_state(NOW, energy={"batteryChargeLevel": ok(50, "percentage")})
    assert reading.state.battery_level == 50
    assert reading.state.range_km is None
    assert reading.state.charging_state is None
    assert reading.errored == frozenset()


def test_unknown_resources_are_ignored() -> None:
    reading = parse.vehicle_state(NOW, energy={"somethingNew": NOT_SUPPORTED, "x": ok(1)})
    assert reading.errored == frozenset()


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (
            ["2026-11-25T17:00:00Z", "2026-11-25T17:30:00.250Z"],
            datetime(2026, 11, 25, 17, 30, 0, 250000, tzinfo=UTC),
        ),
        (["2026-11-25T18:30:00+01:00"], datetime(2026, 11, 25, 17, 30, tzinfo=UTC)),
        (["2026-11-25T17:00:00"], None),  # naive
        (["yesterday", "", "2026-13-40T00:00:00Z"], None),
        (["2027-01-01T00:00:00Z"], None),  # the car's clock is far ahead: ignored
        (["2026-11-25T18:30:00Z"], datetime(2026, 11, 25, 18, 30, tzinfo=UTC)),  # within slack
        (["0001-01-01T00:00:00+23:59"], None),
    ],
)
def test_reported_at_is_the_newest_valid_timestamp(
    stamps: list[str], expected: datetime | None
) -> None:
    energy = {f"key{i}": ok(1, at=stamp) for i, stamp in enumerate(stamps)}
    energy = dict(zip(parse.ENERGY_FIELDS, energy.values(), strict=False))
    assert parse.vehicle_state(NOW, energy=energy).state.reported_at == expected


def test_non_string_timestamp() -> None:
    assert parse.parse_timestamp(1764092467, NOW) is None
    assert parse.parse_timestamp(None, NOW) is None


# --- doors, odometer, location, merging --------------------------------------------------------


def test_full_poll_merges_every_read() -> None:
    reading = parse.vehicle_state(
        NOW, energy=idle_ex30(), doors=DOORS, odometer=ODOMETER, location=LOCATION
    )
    state = reading.state
    assert state.locked is True
    assert state.odometer_km == 18250
    assert (state.latitude, state.longitude) == (55.6761, 12.5683)
    assert state.battery_level == 44
    assert state.reported_at == datetime(2026, 11, 25, 17, 55, tzinfo=UTC)
    assert reading.errored == {"charging_power_kw"}


def test_inner_objects_without_data_wrapper() -> None:
    """Home Assistant's fixtures store the objects inside `data`; both shapes read the same."""
    reading = parse.vehicle_state(
        NOW, doors=DOORS["data"], odometer=ODOMETER["data"], location=LOCATION["data"]
    )
    assert reading.state.locked is True
    assert reading.state.odometer_km == 18250
    assert reading.state.latitude == 55.6761


@pytest.mark.parametrize(
    ("value", "expected"),
    [("LOCKED", True), ("UNLOCKED", False), ("locked", True), ("AJAR", None), (None, None)],
)
def test_central_lock(value: Any, expected: bool | None) -> None:
    doors = {"data": {"centralLock": {"value": value, "timestamp": "bad"}}}
    state = parse.vehicle_state(NOW, doors=doors).state
    assert state.locked is expected
    assert state.reported_at is None


def test_odometer_in_miles_and_garbage() -> None:
    miles = {"data": {"odometer": {"value": "1000", "unit": "mi", "timestamp": STAMP}}}
    assert parse.vehicle_state(NOW, odometer=miles).state.odometer_km == pytest.approx(1609.344)
    bad = {"data": {"odometer": {"value": "lots", "unit": "km"}}}
    assert parse.vehicle_state(NOW, odometer=bad).state.odometer_km is None
    assert parse.vehicle_state(NOW, odometer={"data": {"odometer": 5}}).state.odometer_km is None


@pytest.mark.parametrize(
    "coordinates",
    [None, [], [12.5], ["east", 55.6], [200.0, 55.6], [12.5, 95.0], "12.5,55.6", [True, False]],
)
def test_location_garbage(coordinates: Any) -> None:
    body = {"data": {"geometry": {"coordinates": coordinates}, "properties": {"timestamp": STAMP}}}
    state = parse.vehicle_state(NOW, location=body).state
    assert (state.latitude, state.longitude) == (None, None)
    assert state.reported_at is None


def test_location_as_strings_without_altitude() -> None:
    body = {"data": {"geometry": {"coordinates": ["12.5", "55.6"]}}}
    state = parse.vehicle_state(NOW, location=body).state
    assert (state.latitude, state.longitude) == (55.6, 12.5)


@pytest.mark.parametrize("body", [None, [], "garbage", 3, {"data": None}, {"data": []}])
def test_failed_or_malformed_reads_are_errored(body: Any) -> None:
    reading = parse.vehicle_state(NOW, energy=body, doors=body, odometer=body, location=body)
    assert reading.failed_parts == {"energy", "doors", "odometer", "location"}
    assert reading.errored == (
        parse.ALL_ENERGY_FIELDS | {"locked", "odometer_km", "latitude", "longitude"}
    )
    assert reading.state.battery_level is None
    assert reading.state.locked is None
    assert reading.state.failed == set(parse.ENTITY_KEYS.values())


def test_reads_not_made_are_neither_read_nor_errored() -> None:
    reading = parse.vehicle_state(NOW, doors=DOORS)
    assert reading.failed_parts == frozenset()
    assert reading.errored == frozenset()
    assert reading.state.battery_level is None


# --- vehicles ----------------------------------------------------------------------------------

VIN_A, VIN_B = "YV1XZEFV8R2000001", "YV4A22PK7K1000004"
ALL_COMMANDS = {
    "data": [
        {"command": name, "href": f"/connected-vehicle/v2/vehicles/{VIN_A}/commands/{name.lower()}"}
        for name in (
            "LOCK",
            "LOCK_REDUCED_GUARD",
            "UNLOCK",
            "HONK_AND_FLASH",
            "CLIMATIZATION_START",
            "CLIMATIZATION_STOP",
        )
    ]
}


def test_vehicle_list() -> None:
    body = {
        "data": [
            {"vin": VIN_A},
            {"vin": f" {VIN_B} "},
            {"vin": VIN_A},
            {"vin": ""},
            {},
            3,
            {"vin": 7},
        ]
    }
    assert parse.vehicle_list(body) == [VIN_A, VIN_B]
    assert parse.vehicle_list({"data": []}) == []


@pytest.mark.parametrize("body", [None, [], {"data": {}}, {"vehicles": []}, "x"])
def test_malformed_vehicle_list(body: Any) -> None:
    with pytest.raises(TransientError):
        parse.vehicle_list(body)


def test_vehicle_details() -> None:
    body = {
        "data": {
            "vin": VIN_A,
            "modelYear": 2024,
            "gearbox": "AUTOMATIC",
            "fuelType": "ELECTRIC",
            "externalColour": "Moss Yellow",
            "batteryCapacityKWH": 69.0,
            "images": {"exteriorImageUrl": "https://example.invalid/e.png"},
            "descriptions": {"model": " EX30 ", "upholstery": "X", "steering": "LEFT"},
        }
    }
    details = parse.vehicle_details(body)
    assert details == parse.VehicleDetails(model="EX30", model_year="2024", fuel_type="ELECTRIC")
    odd = parse.vehicle_details(
        {"data": {"modelYear": True, "descriptions": "EX30", "fuelType": 3}}
    )
    assert odd == parse.VehicleDetails()
    assert parse.vehicle_details({"modelYear": "2019", "fuelType": "petrol"}).fuel_type == "PETROL"
    with pytest.raises(TransientError):
        parse.vehicle_details({"data": "x"})


def test_command_names() -> None:
    assert parse.command_names(ALL_COMMANDS) >= {"LOCK", "UNLOCK", "CLIMATIZATION_START"}
    assert parse.command_names(ALL_COMMANDS["data"]) == parse.command_names(ALL_COMMANDS)
    assert parse.command_names({"data": [{"command": 3}, "LOCK", {}]}) == frozenset()
    with pytest.raises(TransientError):
        parse.command_names({"data": {}})


def capabilities_body(
    supported: set[str], *, api: bool = True, alias: bool = True
) -> dict[str, Any]:
    keys = {
        ("chargingSystemStatus" if alias and key == "chargingStatus" else key): {
            "isSupported": key in supported
        }
        for key in parse.ENERGY_FIELDS
    }
    return {"getEnergyState": {"isSupported": api, **keys}}


def test_energy_capabilities_both_spellings_and_inner_object() -> None:
    wanted = {"chargerConnectionStatus", "chargingStatus", "targetBatteryChargeLevel"}
    for alias in (True, False):
        body = capabilities_body(wanted, alias=alias)
        for raw in (body, body["getEnergyState"]):
            capabilities = parse.energy_capabilities(raw)
            assert capabilities.api
            assert capabilities.keys == wanted
            assert capabilities.fields == {
                "connection_status",
                "plugged_in",
                "charging_state",
                "charging",
                "charge_limit",
            }


def test_energy_capabilities_without_api() -> None:
    capabilities = parse.energy_capabilities(capabilities_body(set(parse.ENERGY_FIELDS), api=False))
    assert capabilities == parse.EnergyCapabilities(api=False, keys=frozenset())
    assert parse.energy_capabilities({}) == capabilities
    with pytest.raises(TransientError):
        parse.energy_capabilities({"getEnergyState": []})
    with pytest.raises(TransientError):
        parse.energy_capabilities([])


def test_vehicle_from_all_parts() -> None:
    car = parse.vehicle(
        VIN_A,
        parse.VehicleDetails(model="EX30", model_year="2024", fuel_type="ELECTRIC"),
        parse.command_names(ALL_COMMANDS),
        parse.energy_capabilities(
            capabilities_body(set(parse.ENERGY_FIELDS) - {"chargingCurrentLimit"})
        ),
    )
    info = car.info
    assert (info.id, info.vin, info.make, info.model, info.model_year) == (
        VIN_A,
        VIN_A,
        "Volvo",
        "EX30",
        "2024",
    )
    assert info.display_name == "Volvo EX30"
    assert info.capabilities == {
        Capability.CLIMATE_CONTROL,
        Capability.DOOR_LOCK_CONTROL,
        Capability.CHARGER_TYPE,
    }
    assert car.energy_api
    assert "charging_current_limit_a" not in car.supported_fields
    assert info.unsupported == {"charging_current_limit"}
    assert {"battery_level", "locked", "odometer_km", "latitude"} <= car.supported_fields


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ({"LOCK"}, set()),
        ({"UNLOCK", "LOCK"}, {Capability.DOOR_LOCK_CONTROL}),
        ({"CLIMATIZATION_START"}, set()),
        ({"CLIMATIZATION_START", "CLIMATIZATION_STOP"}, {Capability.CLIMATE_CONTROL}),
        ({"ENGINE_START", "ENGINE_STOP", "HONK", "FLASH"}, set()),
    ],
)
def test_capabilities_need_both_commands(commands: set[str], expected: set[Capability]) -> None:
    assert parse.capabilities(commands) == expected


def test_capabilities_never_charging() -> None:
    never = {
        Capability.CHARGING_CONTROL,
        Capability.CHARGE_LIMIT_CONTROL,
        Capability.CHARGING_CURRENT_CONTROL,
    }
    assert not never & CAPABILITIES
    assert not never & SPEC.capabilities


def test_scopes_limit_capabilities_and_location() -> None:
    commands = parse.command_names(ALL_COMMANDS)
    no_lock = frozenset(SCOPES) - {"conve:unlock", "location:read"}
    car = parse.vehicle(VIN_A, None, commands, None, scopes=no_lock)
    assert car.info.capabilities == {Capability.CLIMATE_CONTROL, Capability.CHARGER_TYPE}
    assert not parse.LOCATION_FIELDS & car.supported_fields
    assert car.info.unsupported == {"location"}
    everything = parse.vehicle(VIN_A, None, commands, None, scopes=frozenset(SCOPES))
    assert everything.info.capabilities == CAPABILITIES
    assert everything.supported_fields >= parse.LOCATION_FIELDS


def test_unknown_parts_fall_back() -> None:
    """A car whose details, commands and capabilities all failed is still a car."""
    car = parse.vehicle(VIN_A, None, None, None)
    assert car.info.model is None
    # Only what comes with the (presumed) energy readings.
    assert car.info.capabilities == {Capability.CHARGER_TYPE}
    assert car.energy_api  # unknown: worth asking
    assert car.supported_fields >= parse.ALL_ENERGY_FIELDS


def test_petrol_car_without_capabilities_has_no_energy() -> None:
    petrol = parse.VehicleDetails(model="XC90", model_year="2019", fuel_type="PETROL")
    car = parse.vehicle(VIN_B, petrol, None, None)
    assert not car.energy_api
    assert car.supported_fields == {"locked", "odometer_km", "latitude", "longitude"}
    assert car.info.unsupported == {
        "battery_level",
        "range",
        "connection_status",
        "plugged_in",
        "charging_state",
        "charging",
        "charging_power",
        "charging_current_limit",
        "charge_limit",
        "time_to_full",
    }
    assert Capability.CHARGER_TYPE not in car.info.capabilities
    told = parse.vehicle(
        VIN_B, petrol, None, parse.energy_capabilities(capabilities_body(set(), api=False))
    )
    assert not told.energy_api
    assert not parse.ALL_ENERGY_FIELDS & told.supported_fields


# --- errors ------------------------------------------------------------------------------------

APIM_KEY = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid key "
    "for an active subscription.",
}
APIM_MISSING_KEY = {
    "statusCode": 401,
    "message": "Access denied due to missing subscription key. Make sure to include subscription "
    "key when making requests to an API.",
}
TOKEN_REFUSED = {
    "error": {
        "message": "Unauthorized",
        "description": "The access token is invalid or has expired",
    }
}


@pytest.mark.parametrize("body", [APIM_KEY, APIM_MISSING_KEY])
def test_apim_key_refusal_is_not_an_authentication_error(body: dict[str, Any]) -> None:
    error = error_from_response(401, body)
    assert isinstance(error, ApiKeyRejectedError)
    assert not isinstance(error, AuthenticationError)
    assert error.code == "invalid_api_key"


@pytest.mark.parametrize("body", [TOKEN_REFUSED, None, "", {"statusCode": 401, "message": "x"}])
def test_token_refusal_is_transient(body: Any) -> None:
    """The token was refreshed just before: only the token endpoint can ask for a new sign-in."""
    error = error_from_response(401, body)
    assert type(error) is TransientError
    assert error.code == "token_refused"


def test_messages_never_echo_bodies() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.secret-token"
    body = {"error": {"message": f"Bearer {secret}", "description": f"token {secret} bad"}}
    for status in (400, 401, 403, 404, 429, 500, 502, 418):
        assert secret not in str(error_from_response(status, body))
    assert "(Not Found)" in str(error_from_response(404, {"error": {"message": "Not Found"}}))


@pytest.mark.parametrize(
    ("status", "body", "error_type", "code"),
    [
        (403, {"error": {"message": "Forbidden"}}, PermissionDeniedError, "forbidden"),
        (
            404,
            {"error": {"message": "Not Found", "description": "Vehicle not found"}},
            NotFoundError,
            "not_found",
        ),
        (400, None, InvalidInputError, "invalid_request"),
        (422, {"error": {}}, InvalidInputError, "invalid_request"),
        (409, {"error": {"message": "Conflict"}}, TransientError, "http_error"),
        (
            500,
            {
                "error": {
                    "message": "INTERNAL_SERVER_ERROR",
                    "description": "Error returned from car",
                }
            },
            TransientError,
            "server_error",
        ),
        (503, {"error": {"message": "Unavailable"}}, TransientError, "server_error"),
    ],
)
def test_status_mapping(status: int, body: Any, error_type: type[ProviderError], code: str) -> None:
    error = error_from_response(status, body)
    assert type(error) is error_type
    assert error.code == code


@pytest.mark.parametrize(
    "body", [None, "<html>502 Bad Gateway</html>", {"statusCode": 504, "message": "x"}]
)
def test_gateway_errors_leave_the_outcome_unknown(body: Any) -> None:
    """Without Volvo's own envelope a 5xx is a gateway's: the request may have reached the car."""
    error = error_from_response(502, body)
    assert isinstance(error, OutcomeUnknownError)
    assert isinstance(error, TransientError)


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ("42", TOKEN_REFUSED, 42.0),
        ("0", None, 0.0),
        ("Wed, 25 Nov 2026 18:01:30 GMT", None, 90.0),
        ("Wed, 25 Nov 2026 17:00:00 GMT", None, 0.0),
        ("soon", None, None),
        (None, None, None),
        (
            None,
            {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 17 seconds."},
            17.0,
        ),
        ("inf", None, None),
        ("-5", None, 0.0),
        ("1e30", None, 3600.0),
    ],
)
def test_rate_limit_retry_after(header: str | None, body: Any, expected: float | None) -> None:
    error = error_from_response(429, body, header, now=NOW)
    assert isinstance(error, RateLimitedError)
    assert error.code == "rate_limited"
    assert error.retry_after == expected


def test_apim_quota_403_is_a_rate_limit() -> None:
    body = {
        "statusCode": 403,
        "message": "Out of call volume quota. Quota will be replenished in 00:01:05.",
    }
    error = error_from_response(403, body, None, now=NOW)
    assert isinstance(error, RateLimitedError)
    assert (error.code, error.retry_after) == ("quota_exceeded", 65.0)


def test_retry_after_naive_http_date() -> None:
    assert retry_after_seconds("25 Nov 2026 18:00:10 -0000", NOW) == 10.0
    assert retry_after_seconds("Wed, 99 Foo 2026 25:61:61 GMT", NOW) is None
    assert retry_after_seconds("", NOW) is None


# --- command outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("COMPLETED", FailureReason.ALREADY_IN_STATE),
        ("DELIVERED", FailureReason.ALREADY_IN_STATE),
        ("VEHICLE_IN_SLEEP", FailureReason.ASLEEP),
        ("CONNECTION_FAILURE", FailureReason.OFFLINE),
        ("TIMEOUT", FailureReason.TIMEOUT),
        ("REJECTED", FailureReason.REJECTED),
        ("CAR_ERROR", FailureReason.REJECTED),
        ("NOT_ALLOWED_PRIVACY_ENABLED", FailureReason.NOT_PERMITTED),
        ("NOT_ALLOWED_WRONG_USAGE_MODE", FailureReason.IN_USE),
        ("UNKNOWN", FailureReason.UNKNOWN),
        ("RUNNING", FailureReason.TIMEOUT),
        ("WAITING", FailureReason.TIMEOUT),
        ("UNCONFIRMED", FailureReason.UNKNOWN),
        ("NOT_SUPPORTED", FailureReason.UNSUPPORTED),
        ("rate_limited", FailureReason.RATE_LIMITED),
        ("invalid_api_key", FailureReason.NOT_PERMITTED),
        ("timeout", FailureReason.TIMEOUT),
        ("connection_lost", FailureReason.CLOUD_ERROR),
        ("SOMETHING_NEW", FailureReason.REJECTED),
        (None, FailureReason.UNKNOWN),
        ("", FailureReason.UNKNOWN),
    ],
)
def test_failure_reason(code: str | None, reason: FailureReason) -> None:
    assert failure_reason(code) is reason
    assert SPEC.map_failure(code) is reason


def test_spec() -> None:
    assert SPEC.name == "volvo"
    assert SPEC.environments == {"production": "https://api.volvocars.com"}
    assert SPEC.oauth is not None
    assert SPEC.oauth.pkce
    assert SPEC.oauth.urls("production", "https://api.volvocars.com") == (
        "https://volvoid.eu.volvocars.com/as/authorization.oauth2",
        "https://volvoid.eu.volvocars.com/as/token.oauth2",
    )
    assert SPEC.oauth.urls("custom", "http://127.0.0.1:8080/") == (
        "http://127.0.0.1:8080/as/authorization.oauth2",
        "http://127.0.0.1:8080/as/token.oauth2",
    )
    assert "location:read" in SPEC.oauth.scopes
    assert SPEC.redact_keys == {"api_key"}
    assert SPEC.command_timeout > 160
    assert SPEC.climate_session == 1800


# --- fuzz --------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None)

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "OK",
            "ERROR",
            "CONNECTED",
            "AC",
            "DC",
            "CHARGING",
            "IDLE",
            "DONE",
            "mi",
            "km",
            "watts",
            "2026-11-25T17:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "58.0",
            "1e400",
            "nan",
        ]
    ),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=10,
)
_RESOURCE = st.one_of(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["OK", "ERROR", "ok", "NOT_AVAILABLE"]), "value": _SCALARS},
        optional={"unit": _SCALARS, "updatedAt": _SCALARS, "code": _SCALARS},
    ),
    _JSON,
)
_ENERGY = st.one_of(
    st.dictionaries(st.sampled_from(list(parse.ENERGY_FIELDS)), _RESOURCE, max_size=10), _JSON
)
_WRAPPED = st.one_of(
    _JSON,
    st.fixed_dictionaries({"data": _JSON}),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "centralLock": st.fixed_dictionaries(
                        {"value": _SCALARS, "timestamp": _SCALARS}
                    ),
                    "odometer": st.fixed_dictionaries(
                        {"value": _SCALARS, "unit": _SCALARS, "timestamp": _SCALARS}
                    ),
                    "geometry": st.fixed_dictionaries(
                        {"coordinates": st.lists(_SCALARS, max_size=4)}
                    ),
                    "properties": st.fixed_dictionaries({"timestamp": _SCALARS}),
                },
            )
        }
    ),
)


@FUZZ
@given(energy=_ENERGY, doors=_WRAPPED, odometer=_WRAPPED, location=_WRAPPED)
def test_fuzz_state_never_raises(energy: Any, doors: Any, odometer: Any, location: Any) -> None:
    reading = parse.vehicle_state(
        NOW, energy=energy, doors=doors, odometer=odometer, location=location
    )
    state = reading.state
    assert state.battery_level is None or 0 <= state.battery_level <= 100
    assert state.range_km is None or state.range_km >= 0
    assert reading.errored <= set(parse.PART_FIELDS["energy"]) | {
        "locked",
        "odometer_km",
        "latitude",
        "longitude",
    }
    assert state.reported_at is None or state.reported_at <= NOW + timedelta(hours=1)


@FUZZ
@given(body=_JSON)
def test_fuzz_vehicle_parsers_raise_only_transient(body: Any) -> None:
    for parser in (
        parse.vehicle_list,
        parse.vehicle_details,
        parse.command_names,
        parse.energy_capabilities,
    ):
        with contextlib.suppress(TransientError):
            parser(body)


@FUZZ
@given(
    status=st.integers(400, 599),
    body=st.one_of(_JSON, st.just(APIM_KEY), st.just(TOKEN_REFUSED)),
    header=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
)
def test_fuzz_error_mapping(status: int, body: Any, header: str | None) -> None:
    error = error_from_response(status, body, header, now=NOW)
    assert isinstance(error, ProviderError)
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        assert 0 <= error.retry_after <= 3600
