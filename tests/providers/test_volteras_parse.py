"""Parsing Volteras payloads: every value nullable, each block on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.ev_cloud.model import CommandStatus, CommandType, ConnectionStatus
from custom_components.ev_cloud.providers.errors import TransientError
from custom_components.ev_cloud.providers.volteras import parse

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def test_all_null_telemetry() -> None:
    """A car that reported nothing yet: every reading unknown, no crash."""
    state = parse.vehicle_state(
        {
            "id": "v1",
            "stateOfCharge": {"value": None, "unit": None, "timestamp": None},
            "chargingState": {
                "chargingState": None,
                "timestamp": None,
                "chargePortDoorOpen": None,
                "chargePortLatch": None,
            },
            "location": None,
            "security": {"locked": None, "timestamp": "not a date"},
        },
        NOW,
    )
    assert state.battery_level is None
    assert state.charging_state is None
    assert state.plugged_in is None
    assert state.charging is None
    assert state.charge_port_open is None
    assert state.locked is None
    assert state.reported_at is None
    assert state.fetched_at == NOW


def test_miles_and_invalid_values() -> None:
    """Miles become kilometres; booleans and strings are not numbers; naive times are ignored."""
    state = parse.vehicle_state(
        {
            "id": "v1",
            "range": {"value": 100, "unit": "miles", "timestamp": "2026-11-24T17:00:00+00:00"},
            "odometer": {"value": True, "unit": "km", "timestamp": "2026-11-24T17:00:00"},
            "chargingState": {"chargingState": "INVALID"},
        },
        NOW,
    )
    assert state.range_km == pytest.approx(160.9344)
    assert state.odometer_km is None
    assert state.charging_state is None
    assert state.reported_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("body", [None, [], "x", {"stateOfCharge": {}}])
def test_malformed_telemetry(body: object) -> None:
    with pytest.raises(TransientError):
        parse.vehicle_state(body, NOW)


@pytest.mark.parametrize("body", [None, [], {"results": None}, {"results": {}}])
def test_malformed_vehicle_page(body: object) -> None:
    with pytest.raises(TransientError):
        parse.vehicle_page(body)


def test_bad_vehicle_items_are_skipped_not_fatal() -> None:
    """One item without a VIN or with bad fields must not hide the organisation's other cars."""
    good = {"id": "v1", "vin": " wvgzzze2znp000002 ", "make": "VOLKSWAGEN", "metadata": {}}
    vehicles, skipped, token = parse.vehicle_page(
        {
            "results": [
                {"id": "x"},
                {"id": 1, "vin": "v", "make": "m"},
                {"id": "v2", "vin": "", "make": "KIA"},
                good,
                "garbage",
            ],
            "nextPageToken": "",
        }
    )
    assert [v.id for v in vehicles] == ["v1"]
    assert vehicles[0].vin == "WVGZZZE2ZNP000002"
    assert vehicles[0].key == "WVGZZZE2ZNP000002"
    assert len(skipped) == 4
    assert {item.fingerprint for item in skipped} >= {"x", "v2"}
    assert token is None


def test_connection_status_is_derived_only_where_the_data_proves_it() -> None:
    """Above 22 kW no AC charger can deliver: DC. Plugged in at lower power: unknown."""

    def status(charging_state: str, power: float | None) -> object:
        return parse.vehicle_state(
            {
                "id": "v1",
                "chargingState": {"chargingState": charging_state},
                "chargePowerLevel": {"value": power},
            },
            NOW,
        ).connection_status

    assert status("CHARGING", 50.0) is ConnectionStatus.CONNECTED_DC
    assert status("CHARGING", 11.0) is None
    assert status("COMPLETE", None) is None
    assert status("DISCONNECTED", None) is ConnectionStatus.DISCONNECTED


def test_execution_without_status_is_pending() -> None:
    execution = parse.command_execution(
        {"vehicleId": "v1", "command": "LOCK_DOORS"}, CommandType.LOCK_DOORS
    )
    assert execution.status is CommandStatus.PENDING
    assert execution.id is None
    assert execution.failed_reason is None
