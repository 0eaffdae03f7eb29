"""Tesla no longer knows the developer app (412 on every car): one repair registers it again.

Before, each car raised its own "no longer shared" repair and the README said to add the
integration again. The app's registration is the whole entry's, and the set-up's partner step
can redo it.
"""

from __future__ import annotations

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_cloud.const import CONF_APP_DOMAIN, DOMAIN
from simulator import Simulator

from .test_tesla import RED, app_domain, entity
from .test_tesla_fault_matrix import APP, REGISTERED_KEY, tesla_entry


@pytest.fixture
async def unregistered(hass: HomeAssistant, simulator: Simulator) -> MockConfigEntry:
    """A loaded Tesla entry whose app's domain is the simulator, then Tesla forgets the app."""
    assert await async_setup_component(hass, "repairs", {})
    domain = app_domain(simulator)
    simulator.tesla.register_partner(APP[0], domain, REGISTERED_KEY)
    for car in simulator.tesla.cars.values():
        car.online = True
    base = tesla_entry(simulator)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=base.title,
        unique_id=base.unique_id,
        version=base.version,
        data={**base.data, CONF_APP_DOMAIN: domain},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # The app's web site publishes EV Cloud's key, as the set-up checked.
    simulator.tesla.hosted_public_key = await entry.runtime_data.client.async_load_public_key()
    simulator.tesla.partners.clear()
    for vehicle in entry.runtime_data.vehicles.values():
        await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    return entry


def issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }


async def test_one_fixable_repair_for_the_app_not_one_per_car(
    hass: HomeAssistant, simulator: Simulator, unregistered: MockConfigEntry
) -> None:
    """Every car is refused with 412: a single repair about the app, fixable."""
    raised = issues(hass)
    issue = raised.pop(f"app_not_registered_{unregistered.entry_id}")
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "entry": unregistered.title,
        "domain": app_domain(simulator),
    }
    assert not [i for i in raised if i.startswith("vehicle_access_")]
    assert hass.states.get(entity(hass, "sensor", RED, "battery_level")).state == "unavailable"


async def test_the_repair_registers_the_app_again(
    hass: HomeAssistant, simulator: Simulator, unregistered: MockConfigEntry
) -> None:
    """Submit: the domain is registered with EV Cloud's key, the entry reloads, cars are back."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    issue_id = f"app_not_registered_{unregistered.entry_id}"
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["domain"] == app_domain(simulator)
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert simulator.tesla.partner_key(APP[0]) is not None
    assert unregistered.state is ConfigEntryState.LOADED
    assert issue_id not in issues(hass)
    assert hass.states.get(entity(hass, "sensor", RED, "battery_level")).state != "unavailable"


@pytest.mark.parametrize(
    ("refusal", "error"),
    [("not_allowed", "partner_domain_mismatch"), ("outage", "cannot_connect")],
)
async def test_a_refused_registration_says_why_and_can_be_retried(
    hass: HomeAssistant,
    simulator: Simulator,
    unregistered: MockConfigEntry,
    refusal: str,
    error: str,
) -> None:
    """The domain is not the app's allowed origin, or Tesla is down: the form says so."""
    if refusal == "not_allowed":
        simulator.tesla.allowed_origins[APP[0]] = "elsewhere.example.com"
    else:
        simulator.faults.set("server_error", path="/api/1/partner_accounts")
    manager = repairs_flow_manager(hass)
    assert manager is not None
    issue_id = f"app_not_registered_{unregistered.entry_id}"
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    if refusal == "not_allowed":
        assert "elsewhere.example.com" in result["description_placeholders"]["detail"]
    # Fixed at Tesla's end: submitting again registers.
    simulator.tesla.allowed_origins.clear()
    simulator.faults.clear()
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert issue_id not in issues(hass)


async def test_the_repair_needs_a_loaded_entry(
    hass: HomeAssistant, unregistered: MockConfigEntry
) -> None:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    issue_id = f"app_not_registered_{unregistered.entry_id}"
    assert await hass.config_entries.async_unload(unregistered.entry_id)
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
