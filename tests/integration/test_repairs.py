"""A car the cloud no longer shares: a repair whose fix reconnects it through the consent step."""

from __future__ import annotations

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_cloud.const import DOMAIN
from custom_components.ev_cloud.coordinator import VehicleCoordinator
from simulator import Simulator

from .conftest import vehicle_key
from .test_commands import vehicle_by_make
from .test_config_flow import EXTERNAL_URL, follow_consent


@pytest.fixture
async def repairs(hass: HomeAssistant) -> None:
    """Repairs and a URL the consent page can send the browser back to."""
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "repairs", {})
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})


async def refused_car(simulator: Simulator, entry: MockConfigEntry) -> VehicleCoordinator:
    """The cloud refuses the Volkswagen (consent withdrawn) at its next read; its coordinator."""
    vid = vehicle_by_make(simulator, "VOLKSWAGEN")
    coordinator: VehicleCoordinator = entry.runtime_data.vehicles[
        vehicle_key(simulator, vid)
    ].coordinator
    simulator.faults.set("forbidden", path=f"/v1/vehicles/{vid}/telemetry")
    await coordinator.async_refresh()
    return coordinator


async def test_consent_withdrawn_is_fixed_by_connecting_the_car_again(
    hass: HomeAssistant,
    repairs: None,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Raised for that car only, fixable; the fix goes through the consent page and clears it."""
    coordinator = await refused_car(simulator, loaded_entry)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, coordinator.issue_id)
    assert issue is not None
    assert issue.is_fixable

    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": coordinator.issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {"vehicle": "Volkswagen ID.4"}
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    # The owner allows access again; the cloud shares the car again.
    simulator.faults.clear()
    callback_path = await follow_consent(result["url"], "approve")
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 200
    await hass.async_block_till_done()
    result = await manager.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, coordinator.issue_id) is None


async def test_a_declined_consent_leaves_the_repair(
    hass: HomeAssistant,
    repairs: None,
    simulator: Simulator,
    loaded_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    coordinator = await refused_car(simulator, loaded_entry)
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": coordinator.issue_id})
    result = await manager.async_configure(result["flow_id"], {})
    callback_path = await follow_consent(result["url"], "deny")
    client = await hass_client_no_auth()
    await client.get(callback_path)
    await hass.async_block_till_done()
    result = await manager.async_configure(result["flow_id"])
    assert result == result | {"type": FlowResultType.ABORT, "reason": "consent_failed"}
    assert ir.async_get(hass).async_get_issue(DOMAIN, coordinator.issue_id) is not None
