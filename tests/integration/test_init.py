"""Set-up, unload, outages, rate limits, auth failures and vehicles coming and going."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import CONF_EXCLUDED_VEHICLES, DOMAIN
from custom_components.ev_cloud.coordinator import FLEET_INTERVAL
from simulator import Simulator

from .conftest import advance, vehicle_key


def battery_entity(hass: HomeAssistant, sim: Simulator, vehicle_id: str) -> str:
    """The battery sensor's entity id for a vehicle."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{vehicle_key(sim, vehicle_id)}_battery_level"
    )
    assert entity_id is not None
    return entity_id


async def test_setup_and_unload(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry
) -> None:
    """Every vehicle becomes a device; unloading releases the entry."""
    assert loaded_entry.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_entry.entry_id)
    assert {next(iter(d.identifiers))[1] for d in devices} == {
        *(vehicle_key(simulator, vehicle_id) for vehicle_id in simulator.volteras.vehicles),
        # The account's own device holds its API usage.
        "volteras_sim-org",
    }
    for vehicle_id, vehicle in simulator.volteras.vehicles.items():
        state = hass.states.get(battery_entity(hass, simulator, vehicle_id))
        assert state is not None
        assert float(state.state) == pytest.approx(vehicle.soc, abs=0.5)

    polestar = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, vehicle_key(simulator, "veh-polestar-2")), loaded_entry.entry_id
    )
    assert polestar is not None
    assert (polestar.name, polestar.manufacturer, polestar.model) == (
        "Polestar 2",
        "Polestar",
        "2 (2024)",
    )

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED


async def test_excluded_vehicle_not_added(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Vehicles the user left out get no device."""
    excluded = min(simulator.volteras.vehicles)
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=config_entry.unique_id,
        data={**config_entry.data, CONF_EXCLUDED_VEHICLES: [excluded]},
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert vehicle_key(simulator, excluded) not in config_entry.runtime_data.vehicles
    assert len(config_entry.runtime_data.vehicles) == len(simulator.volteras.vehicles) - 1


@pytest.mark.parametrize(
    ("fault", "path", "state"),
    [
        ("server_error", "/v1/vehicles", ConfigEntryState.SETUP_RETRY),
        ("rate_limited", "/v1/vehicles", ConfigEntryState.SETUP_RETRY),
        ("unauthorized", None, ConfigEntryState.SETUP_ERROR),
    ],
)
async def test_setup_failures(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    fault: str,
    path: str | None,
    state: ConfigEntryState,
) -> None:
    """Cloud down at start-up → retry later; refused credentials → reauth, nothing half-made."""
    if fault == "unauthorized":
        simulator.faults.set(fault, path="/v1/oauth2/token")
    else:
        simulator.faults.set(fault, path=path)
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is state
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == (
        ["reauth"] if fault == "unauthorized" else []
    )


async def test_outage_then_recovery(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A later outage makes entities unavailable, is logged once, and heals by itself."""
    vehicle_id = min(simulator.volteras.vehicles)
    entity_id = battery_entity(hass, simulator, vehicle_id)
    simulator.faults.set("server_error", path="/telemetry")
    await advance(hass, freezer, timedelta(hours=1))
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    failures = [
        record
        for record in caplog.records
        if record.levelname == "ERROR"
        and loaded_entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)].info.log_name
        in record.getMessage()
    ]
    assert len(failures) == 1
    # Words and the real next attempt, no internal class names.
    assert "Error" not in failures[0].getMessage().split(":", 1)[1]
    assert "trying again in 300 seconds" in failures[0].getMessage()

    simulator.faults.clear()
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE


async def test_malformed_body_later(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A malformed answer does not crash anything; the entity is unavailable until good data."""
    vehicle_id = min(simulator.volteras.vehicles)
    entity_id = battery_entity(hass, simulator, vehicle_id)
    simulator.faults.set("malformed", path="/telemetry", count=len(simulator.volteras.vehicles))
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE


async def test_rate_limit_backs_off_keeping_data(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """429: keep the last data, wait the API's Retry-After, log once, never ask to reauth."""
    vehicle_id = min(simulator.volteras.vehicles)
    entity_id = battery_entity(hass, simulator, vehicle_id)
    before = hass.states.get(entity_id).state
    vehicle = loaded_entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)]
    coordinator = vehicle.coordinator

    simulator.faults.set("rate_limited", path="/telemetry", retry_after=4567)
    for _ in range(3):
        await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state == before
    assert coordinator.update_interval == timedelta(seconds=4567)
    assert caplog.text.count(f"Rate limited reading {vehicle.info.log_name}") == 1
    assert "retrying in 4567 s" in caplog.text
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert loaded_entry.state is ConfigEntryState.LOADED

    simulator.faults.clear()
    await advance(hass, freezer, timedelta(hours=2))
    assert coordinator.update_interval != timedelta(seconds=4567)
    assert "lifted" in caplog.text


async def test_expired_token_is_renewed_silently(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Revoked tokens are replaced from the client credentials; no reauth prompt."""
    vehicle_id = min(simulator.volteras.vehicles)
    entity_id = battery_entity(hass, simulator, vehicle_id)
    simulator.volteras.revoke_tokens()
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_revoked_credentials_start_reauth(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """401 on data calls and on the token endpoint → one reauth flow."""
    simulator.faults.set("unauthorized")
    simulator.faults.set("unauthorized", path="/v1/oauth2/token")
    simulator.volteras.revoke_tokens()
    await advance(hass, freezer, timedelta(hours=1))
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_vehicles_come_and_go(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A car connected later appears without a reload; a removed car's device goes away."""
    device_registry = dr.async_get(hass)
    gone_id = min(simulator.volteras.vehicles)
    gone = vehicle_key(simulator, gone_id)
    simulator.volteras.remove_vehicle(gone_id)
    new = simulator.volteras.add_vehicle(make="KIA", model="EV6", soc=70.0)

    await advance(hass, freezer, FLEET_INTERVAL)

    entry_id = loaded_entry.entry_id
    assert device_registry.async_get_device_by_identifier((DOMAIN, gone), entry_id) is None
    assert device_registry.async_get_device_by_identifier((DOMAIN, f"volteras_{new.vin}"), entry_id)
    state = hass.states.get(battery_entity(hass, simulator, new.id))
    assert state is not None
    assert float(state.state) == pytest.approx(70.0, abs=0.5)
    assert set(loaded_entry.runtime_data.vehicles) == {
        vehicle_key(simulator, vehicle_id) for vehicle_id in simulator.volteras.vehicles
    }


async def test_new_vehicle_unreadable_is_retried(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A new car whose data cannot be read yet is added unavailable and retries by itself."""
    new = simulator.volteras.add_vehicle(make="KIA", model="EV6")
    simulator.faults.set("server_error", path=f"/v1/vehicles/{new.id}/telemetry")
    await advance(hass, freezer, FLEET_INTERVAL)
    assert f"volteras_{new.vin}" in loaded_entry.runtime_data.vehicles
    entity_id = battery_entity(hass, simulator, new.id)
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE

    simulator.faults.clear()
    # Its own retry, at the active pace: no need to wait for the next vehicle-list refresh.
    await advance(hass, freezer, timedelta(minutes=6))
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE


async def test_remove_device(
    hass: HomeAssistant,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    hass_ws_client,
) -> None:
    """A vehicle still on the account cannot be removed by hand; a stale one can."""
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "config", {})
    device_registry = dr.async_get(hass)
    vehicle_id = min(simulator.volteras.vehicles)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, vehicle_key(simulator, vehicle_id)), loaded_entry.entry_id
    )
    assert device is not None
    client = await hass_ws_client(hass)
    response = await client.remove_device(device.id)
    assert not response["success"]

    stale = device_registry.async_get_or_create(
        config_entry_id=loaded_entry.entry_id, identifiers={(DOMAIN, "stale-vehicle")}
    )
    response = await client.remove_device(stale.id)
    assert response["success"]
