"""Config flow, driven through hass.config_entries.flow exactly as the UI drives it."""

from __future__ import annotations

from unittest.mock import AsyncMock, MagicMock, patch
from urllib.parse import urlsplit

import aiohttp
from homeassistant import config_entries
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import http
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_cloud.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENT_PRODUCTION,
    ENVIRONMENT_SANDBOX,
)
from custom_components.ev_cloud.providers.errors import TransientError
from custom_components.ev_cloud.providers.volteras import PRODUCTION_URL, SANDBOX_URL
from simulator import Simulator

from .conftest import CLIENT_ID, CLIENT_SECRET, ORGANIZATION_ID

EXTERNAL_URL = "https://ha.example.com"


@pytest.fixture(autouse=True)
async def ha_http(hass: HomeAssistant) -> None:
    """HTTP (for the consent callback) and a URL Home Assistant knows itself by."""
    await async_setup_component(hass, "http", {})
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})


def credentials(sim: Simulator, **overrides: str) -> dict[str, str]:
    """Form input for the simulator."""
    return {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        CONF_URL: sim.url,
        **overrides,
    }


async def start_volteras(hass: HomeAssistant) -> str:
    """Open the flow and choose Volteras; returns the flow id at the credentials form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": "volteras"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "volteras"
    return result["flow_id"]


async def follow_consent(sim: Simulator, authentication_url: str, decision: str) -> str:
    """Act as the browser on the consent page; return the path+query it is sent back to."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{authentication_url}/{decision}", allow_redirects=False) as response,
    ):
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(f"{EXTERNAL_URL}/api/ev_cloud/consent/callback?")
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def clear_vehicles(sim: Simulator) -> None:
    """Leave the organisation without vehicles."""
    for vehicle_id in list(sim.volteras.vehicles):
        sim.volteras.remove_vehicle(vehicle_id)


async def test_user_flow_picks_vehicles(hass: HomeAssistant, simulator: Simulator) -> None:
    """Credentials are checked, then the chosen vehicles make the entry; the rest are excluded."""
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["vehicles", "consent"]

    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    vehicle_ids = sorted(simulator.volteras.vehicles)
    assert len(vehicle_ids) >= 2

    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True) as setup:
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": vehicle_ids[:1]}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Volteras"
    assert result["result"].unique_id == ORGANIZATION_ID
    assert result["data"] == {
        "provider": "volteras",
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        CONF_URL: simulator.url,
        CONF_EXCLUDED_VEHICLES: vehicle_ids[1:],
    }
    assert len(setup.mock_calls) == 1


async def test_no_vehicle_selected(hass: HomeAssistant, simulator: Simulator) -> None:
    """An empty choice is refused with a form error, and a choice afterwards succeeds."""
    flow_id = await start_volteras(hass)
    await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": []})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_vehicles_selected"}
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": list(simulator.volteras.vehicles)}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_EXCLUDED_VEHICLES] == []


@pytest.mark.parametrize(
    ("overrides", "fault", "error"),
    [
        ({CONF_CLIENT_SECRET: "wrong-secret"}, None, {"base": "invalid_auth"}),
        ({CONF_URL: "http://127.0.0.1:9"}, None, {"base": "cannot_connect"}),
        ({}, "server_error", {"base": "cannot_connect"}),
        ({CONF_URL: "not a url"}, None, {CONF_URL: "invalid_url"}),
        ({CONF_URL: ""}, None, {CONF_URL: "invalid_url"}),
    ],
)
async def test_credential_errors_then_recover(
    hass: HomeAssistant,
    simulator: Simulator,
    overrides: dict[str, str],
    fault: str | None,
    error: dict[str, str],
) -> None:
    """Each failure gives its translated form error; fixing the input then works."""
    flow_id = await start_volteras(hass)
    if fault:
        simulator.faults.set(fault, path="/v1/oauth2")
    result = await hass.config_entries.flow.async_configure(
        flow_id, credentials(simulator, **overrides)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error
    assert not hass.config_entries.async_entries(DOMAIN)

    simulator.faults.clear()
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.MENU


async def test_unexpected_error(hass: HomeAssistant, simulator: Simulator) -> None:
    """A bug in validation shows 'unknown' rather than a stack trace."""
    flow_id = await start_volteras(hass)
    with patch(
        "custom_components.ev_cloud.providers.volteras.VolterasClient.async_test_token",
        side_effect=ValueError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["errors"] == {"base": "unknown"}


async def test_already_configured(hass: HomeAssistant, simulator: Simulator) -> None:
    """The same organisation cannot be added twice."""
    MockConfigEntry(domain=DOMAIN, unique_id=ORGANIZATION_ID).add_to_hass(hass)
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_vehicle_list_unreachable(hass: HomeAssistant, simulator: Simulator) -> None:
    """Credentials fine but the vehicle list fails: abort, nothing created."""
    flow_id = await start_volteras(hass)
    simulator.faults.set("server_error", path="/v1/vehicles")
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_consent_adds_vehicle(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """No vehicle yet: the browser goes to the consent link and comes back through the callback."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["step_id"] == "consent"
    assert result["url"].startswith(f"{simulator.url}/consent/")

    callback_path = await follow_consent(simulator, result["url"], "approve")
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 200
    assert "close this window" in await response.text()
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    (new_vehicle,) = simulator.volteras.vehicles
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": [new_vehicle]}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    # The same return link cannot be used twice.
    response = await client.get(callback_path)
    assert response.status == 400


async def test_consent_from_menu_and_forged_returns(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Asking to connect another car; forged or tampered returns never reach the flow."""
    flow_id = await start_volteras(hass)
    await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "consent"})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    callback_path = await follow_consent(simulator, result["url"], "approve")

    client = await hass_client_no_auth()
    forged = await client.get(
        "/api/ev_cloud/consent/callback?state=forged&result=success&accountId=x"
    )
    assert forged.status == 400
    tampered = await client.get(callback_path.replace("state=", "state=x"))
    assert tampered.status == 400
    # Sending the flow an input that did not come through the callback changes nothing.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"nonce": "guess", "result": "success", "account_id": "x"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP

    response = await client.get(callback_path)
    assert response.status == 200
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "vehicles"


async def test_consent_declined(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A declined consent aborts the flow with a clear reason."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    callback_path = await follow_consent(simulator, result["url"], "deny")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_failed"


@pytest.mark.parametrize(
    ("fault_path", "reason"), [("/v1/vehicles", "cannot_connect"), (None, "no_vehicles")]
)
async def test_consent_then_no_vehicle_list(
    hass: HomeAssistant,
    simulator: Simulator,
    hass_client_no_auth: ClientSessionGenerator,
    fault_path: str | None,
    reason: str,
) -> None:
    """After consent the vehicle list fails, or is still empty: abort with the matching reason."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    callback_path = await follow_consent(simulator, result["url"], "approve")
    clear_vehicles(simulator)
    if fault_path:
        simulator.faults.set("server_error", path=fault_path)
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_consent_link_unavailable(hass: HomeAssistant, simulator: Simulator) -> None:
    """Volteras cannot make a consent link: abort rather than hang."""
    clear_vehicles(simulator)
    simulator.faults.set("server_error", path="accounts:connect")
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_consent_without_known_url(hass: HomeAssistant, simulator: Simulator) -> None:
    """Without a URL for Home Assistant the consent page could not come back: say so."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    with patch("custom_components.ev_cloud.config_flow.get_url", side_effect=NoURLAvailableError):
        result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_url_available"


async def test_consent_uses_frontend_base(hass: HomeAssistant, simulator: Simulator) -> None:
    """In the UI the return link uses the address the user reached Home Assistant at."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    request = MagicMock(headers={"HA-Frontend-Base": "http://homeassistant.local:8123/"})
    token = http.current_request.set(request)
    try:
        result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    finally:
        http.current_request.reset(token)
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{result['url']}/approve", allow_redirects=False) as response,
    ):
        location = response.headers["Location"]
    assert location.startswith("http://homeassistant.local:8123/api/ev_cloud/consent/callback?")


async def test_callback_after_flow_ended(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A genuine return for a flow the user closed is refused politely."""
    clear_vehicles(simulator)
    flow_id = await start_volteras(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(simulator))
    callback_path = await follow_consent(simulator, result["url"], "approve")
    hass.config_entries.flow.async_abort(flow_id)
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 400
    assert "no longer in progress" in await response.text()


async def _start_reauth(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    return result["flow_id"]


async def test_reauth(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """A refused secret is replaced; a wrong secret is an error; the entry is reloaded."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("rotated-client", "rotated-secret", ORGANIZATION_ID)
    flow_id = await _start_reauth(hass, config_entry)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_CLIENT_ID: "rotated-client", CONF_CLIENT_SECRET: "nope"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_CLIENT_ID: "rotated-client", CONF_CLIENT_SECRET: "rotated-secret"}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_CLIENT_ID] == "rotated-client"
    assert config_entry.data[CONF_CLIENT_SECRET] == "rotated-secret"
    assert config_entry.data[CONF_URL] == simulator.url


async def test_reauth_other_organisation(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Credentials of another organisation are refused: the entry keeps its vehicles."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("other-client", "other-secret", "other-org")
    flow_id = await _start_reauth(hass, config_entry)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "other-secret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert config_entry.data[CONF_CLIENT_ID] == CLIENT_ID


async def test_reconfigure_credentials(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Credentials and environment can change for the same organisation."""
    config_entry.add_to_hass(hass)
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "reconfigure_credentials"}
    )
    assert result["step_id"] == "reconfigure_credentials"
    result = await hass.config_entries.flow.async_configure(
        flow_id, credentials(simulator, **{CONF_URL: "ftp://x"})
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    simulator.volteras.add_client("new-client", "new-secret", ORGANIZATION_ID)
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            credentials(
                simulator, **{CONF_CLIENT_ID: "new-client", CONF_CLIENT_SECRET: "new-secret"}
            ),
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data[CONF_CLIENT_ID] == "new-client"
    assert config_entry.data[CONF_EXCLUDED_VEHICLES] == []


async def test_reconfigure_other_organisation(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Reconfiguring onto another organisation is refused."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("other-client", "other-secret", "other-org")
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_credentials"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        credentials(
            simulator, **{CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "other-secret"}
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def test_reconfigure_connects_another_car(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Reconfigure can run the consent flow for one more car, then reloads the entry."""
    config_entry.add_to_hass(hass)
    before = set(simulator.volteras.vehicles)
    result = await config_entry.start_reconfigure_flow(hass)
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "reconfigure_consent"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    callback_path = await follow_consent(simulator, result["url"], "approve")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id)
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert len(set(simulator.volteras.vehicles) - before) == 1


@pytest.mark.parametrize(
    ("environment", "base_url"),
    [(ENVIRONMENT_PRODUCTION, PRODUCTION_URL), (ENVIRONMENT_SANDBOX, SANDBOX_URL)],
)
async def test_hosted_environments(
    hass: HomeAssistant, simulator: Simulator, environment: str, base_url: str
) -> None:
    """Production and sandbox talk to Volteras's own hosts, whatever URL was typed."""
    flow_id = await start_volteras(hass)
    with patch("custom_components.ev_cloud.runtime.VolterasClient") as client_class:
        client_class.return_value.async_test_token = AsyncMock(
            side_effect=TransientError("offline")
        )
        result = await hass.config_entries.flow.async_configure(
            flow_id, credentials(simulator, **{CONF_ENVIRONMENT: environment})
        )
    assert result["errors"] == {"base": "cannot_connect"}
    assert client_class.call_args.kwargs["base_url"] == base_url


async def test_options(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """Polling paces are options; saving them reloads the entry."""
    config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_ACTIVE_INTERVAL: 90.0, CONF_PLUGGED_INTERVAL: 900.0, CONF_IDLE_INTERVAL: 3600.0},
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {
        CONF_ACTIVE_INTERVAL: 90,
        CONF_PLUGGED_INTERVAL: 900,
        CONF_IDLE_INTERVAL: 3600,
    }


async def test_reconfigure_vehicles(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """The vehicle choice can change later: an unticked car comes back, another goes."""
    first, second, *_ = sorted(simulator.volteras.vehicles)
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_EXCLUDED_VEHICLES: [first]}
    )
    result = await config_entry.start_reconfigure_flow(hass)
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "reconfigure_vehicles"}
    )
    assert result["step_id"] == "reconfigure_vehicles"
    default = next(iter(result["data_schema"].schema)).default()
    assert first not in default
    assert second in default

    result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": []})
    assert result["errors"] == {"base": "no_vehicles_selected"}
    with patch("custom_components.ev_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": [first]})
        await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert first not in config_entry.data[CONF_EXCLUDED_VEHICLES]
    assert second in config_entry.data[CONF_EXCLUDED_VEHICLES]


async def test_reconfigure_vehicles_unreachable(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """The vehicle list cannot be read: abort instead of showing an empty choice."""
    config_entry.add_to_hass(hass)
    simulator.faults.set("server_error", path="/v1/vehicles")
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_vehicles"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
