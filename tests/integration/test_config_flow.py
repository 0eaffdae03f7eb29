"""Config flow, driven through hass.config_entries.flow exactly as the UI drives it.

Every check talks to the simulator over real HTTP; only the hosted environments (which would reach
Volteras itself) and one unexpected exception are patched.
"""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any
from unittest.mock import AsyncMock, MagicMock, patch
from urllib.parse import urlsplit

import aiohttp
from freezegun.api import FrozenDateTimeFactory
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

from custom_components.ev_cloud.config_flow import EvCloudConfigFlow
from custom_components.ev_cloud.consent import CALLBACK_PATH, STATE_LIFETIME
from custom_components.ev_cloud.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    CONF_PROVIDER,
    CONFIG_VERSION,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENT_PRODUCTION,
    ENVIRONMENT_SANDBOX,
    LOGGER,
)
from custom_components.ev_cloud.providers import PROVIDERS
from custom_components.ev_cloud.providers.errors import TransientError
from custom_components.ev_cloud.providers.volteras import (
    PRODUCTION_URL,
    SANDBOX_URL,
    SPEC as VOLTERAS,
    VolterasClient,
)
from simulator import Simulator

from .conftest import CLIENT_ID, CLIENT_SECRET, ORGANIZATION_ID

EXTERNAL_URL = "https://ha.example.com"
VEHICLES_PATH = "/v1/vehicles"
# The simulator's default fleet, by VIN, as the vehicle choice labels it.
DEFAULT_FLEET = {
    "5YJ3E7EB2NF000001": "Tesla Model 3 (2022)",
    "WVGZZZE2ZNP000002": "Volkswagen ID.4 (2023)",
    "LPSVSEDEEML000003": "Polestar 2 (2024)",
}
SETUP_ENTRY = "custom_components.ev_cloud.async_setup_entry"


@pytest.fixture(autouse=True)
async def ha_http(hass: HomeAssistant) -> None:
    """HTTP (for the consent callback) and a URL Home Assistant knows itself by."""
    await async_setup_component(hass, "http", {})
    await async_process_ha_core_config(hass, {"external_url": EXTERNAL_URL})


@pytest.fixture
def sandbox_is_simulator(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the hosted sandbox environment at the simulator, to test the form without a URL."""
    monkeypatch.setitem(VOLTERAS.environments, ENVIRONMENT_SANDBOX, simulator.url)


def credentials(**overrides: str) -> dict[str, str]:
    """Credentials-form input for the simulator (custom environment: its URL comes next)."""
    return {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        **overrides,
    }


def suggested_values(result: Any) -> dict[str, Any]:
    """The values a form fills in for the user."""
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if isinstance(key.description, dict) and "suggested_value" in key.description
    }


def vehicle_choice(result: Any) -> tuple[dict[str, str], list[str]]:
    """The vehicle form's options (value → label) and the values ticked by default."""
    ((key, selector),) = result["data_schema"].schema.items()
    assert str(key) == "vehicles"
    options = {option["value"]: option["label"] for option in selector.config["options"]}
    return options, key.default()


def vin(sim: Simulator, vehicle_id: str) -> str:
    """A simulated car's VIN."""
    return sim.volteras.vehicles[vehicle_id].vin


async def start_flow(hass: HomeAssistant) -> str:
    """Open the flow and choose Volteras; returns the flow id at the credentials form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROVIDER: "volteras"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    assert result["description_placeholders"] == {"provider": "Volteras"}
    return result["flow_id"]


async def submit_credentials(hass: HomeAssistant, flow_id: str, url: str, **overrides: str) -> Any:
    """Credentials for the custom environment, then its URL; returns the result after the URL."""
    result = await hass.config_entries.flow.async_configure(flow_id, credentials(**overrides))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom_url"
    assert result["errors"] == {}
    return await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: url})


async def follow_consent(authentication_url: str, decision: str) -> str:
    """Act as the browser on the consent page; return the path+query it is sent back to."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{authentication_url}/{decision}", allow_redirects=False) as response,
    ):
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(f"{EXTERNAL_URL}{CALLBACK_PATH}?")
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def clear_vehicles(sim: Simulator) -> None:
    """Leave the organisation without vehicles."""
    for vehicle_id in list(sim.volteras.vehicles):
        sim.volteras.remove_vehicle(vehicle_id)


def fail_nth_request(sim: Simulator, monkeypatch: pytest.MonkeyPatch, path: str, nth: int) -> None:
    """Let the first nth-1 requests to `path` through; the nth gets a server error."""
    take = sim.faults.take
    seen = 0

    def counting_take(method: str, request_path: str) -> Any:
        nonlocal seen
        if request_path == path:
            seen += 1
            if seen == nth:
                sim.faults.set("server_error", path=path, count=1)
        return take(method, request_path)

    monkeypatch.setattr(sim.faults, "take", counting_take)


def entry_for(sim: Simulator, **data: Any) -> MockConfigEntry:
    """A current-version entry for the simulator's default organisation."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Volteras organisation sim-org",
        unique_id=ORGANIZATION_ID,
        version=CONFIG_VERSION,
        data={
            CONF_PROVIDER: "volteras",
            CONF_CLIENT_ID: CLIENT_ID,
            CONF_CLIENT_SECRET: CLIENT_SECRET,
            CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
            CONF_URL: sim.url,
            CONF_EXCLUDED_VEHICLES: [],
            **data,
        },
    )


# --- Provider and credentials ---------------------------------------------------------------


async def test_provider_choice_comes_from_the_registry(hass: HomeAssistant) -> None:
    """The first step offers every registered provider, Volteras preselected."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    ((key, selector),) = result["data_schema"].schema.items()
    assert str(key) == CONF_PROVIDER
    assert key.default() == "volteras"
    assert selector.config["options"] == list(PROVIDERS)
    assert "tesla" in selector.config["options"]


async def test_user_flow_picks_vehicles(hass: HomeAssistant, simulator: Simulator) -> None:
    """Credentials are checked, then the chosen vehicles make the entry; the rest are excluded."""
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, f" {simulator.url}/ ")
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "vehicle_source"
    assert result["menu_options"] == ["vehicles", "consent"]

    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    options, default = vehicle_choice(result)
    # Keyed by VIN, labelled by name and model year; every car is ticked at first.
    assert options == DEFAULT_FLEET
    assert sorted(default) == sorted(DEFAULT_FLEET)

    chosen, *left_out = sorted(DEFAULT_FLEET)
    with patch(SETUP_ENTRY, return_value=True) as setup:
        result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": [chosen]})
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Volteras organisation sim-org"
    assert result["result"].unique_id == ORGANIZATION_ID
    assert result["result"].version == CONFIG_VERSION == 2
    assert result["data"] == {
        CONF_PROVIDER: "volteras",
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        # Trimmed, without the trailing slash.
        CONF_URL: simulator.url,
        CONF_EXCLUDED_VEHICLES: left_out,
    }
    assert len(setup.mock_calls) == 1


async def test_title_names_the_organisation(hass: HomeAssistant, simulator: Simulator) -> None:
    """The title carries the first eight characters of the organisation id; the id is unique."""
    organisation = "0f3c9a7e-5b1d-4e2a-9c8f-1234567890ab"
    simulator.volteras.add_client("org2-client", "org2-secret", organisation)
    account = simulator.volteras.add_account(organization_id=organisation)
    car = simulator.volteras.add_vehicle(account_id=account, model="EV6", model_year="2024")
    flow_id = await start_flow(hass)
    await submit_credentials(
        hass,
        flow_id,
        simulator.url,
        **{CONF_CLIENT_ID: " org2-client ", CONF_CLIENT_SECRET: "org2-secret"},
    )
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    assert vehicle_choice(result) == ({car.vin: "Kia EV6 (2024)"}, [car.vin])
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": [car.vin]})
    assert result["title"] == "Volteras organisation 0f3c9a7e"
    assert result["result"].unique_id == organisation
    assert result["data"][CONF_CLIENT_ID] == "org2-client"


async def test_vehicle_labels(hass: HomeAssistant, simulator: Simulator) -> None:
    """The model year is added only when known and not already part of the name."""
    clear_vehicles(simulator)
    with_year = simulator.volteras.add_vehicle(model="EV9 2025", model_year="2025")
    without_year = simulator.volteras.add_vehicle(model="Niro")
    flow_id = await start_flow(hass)
    await submit_credentials(hass, flow_id, simulator.url)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    options, _ = vehicle_choice(result)
    assert options == {with_year.vin: "Kia EV9 2025", without_year.vin: "Kia Niro"}


async def test_no_vehicle_selected(hass: HomeAssistant, simulator: Simulator) -> None:
    """An empty choice is refused with a form error, and a choice afterwards succeeds."""
    flow_id = await start_flow(hass)
    await submit_credentials(hass, flow_id, simulator.url)
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": []})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    assert result["errors"] == {"base": "no_vehicles_selected"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": list(DEFAULT_FLEET)}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_EXCLUDED_VEHICLES] == []


@pytest.mark.parametrize(
    ("url", "fault", "error"),
    [
        ("http://127.0.0.1:9", None, {"base": "cannot_connect"}),
        (None, ("server_error", "/v1/oauth2"), {"base": "cannot_connect"}),
        (None, ("malformed", "test-token"), {"base": "cannot_connect"}),
        ("not a url", None, {CONF_URL: "invalid_url"}),
        ("", None, {CONF_URL: "invalid_url"}),
        ("ftp://example.com", None, {CONF_URL: "invalid_url"}),
        ("http://", None, {CONF_URL: "invalid_url"}),
    ],
)
async def test_custom_url_errors_then_recover(
    hass: HomeAssistant,
    simulator: Simulator,
    url: str | None,
    fault: tuple[str, str] | None,
    error: dict[str, str],
) -> None:
    """A wrong or unreachable URL is an error on the URL form; the right URL then works."""
    flow_id = await start_flow(hass)
    if fault:
        simulator.faults.set(fault[0], path=fault[1])
    result = await submit_credentials(hass, flow_id, simulator.url if url is None else url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom_url"
    assert result["errors"] == error
    assert not hass.config_entries.async_entries(DOMAIN)

    simulator.faults.clear()
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: simulator.url})
    assert result["type"] is FlowResultType.MENU


@pytest.mark.parametrize(
    ("secret", "fault"),
    [
        # The token endpoint refuses the secret.
        ("wrong-secret", None),
        # A token is granted, but the API refuses it even when fresh (PermissionDeniedError).
        (CLIENT_SECRET, "test-token"),
    ],
)
async def test_refused_credentials_custom_environment(
    hass: HomeAssistant, simulator: Simulator, secret: str, fault: str | None
) -> None:
    """Refused credentials send the user back to the credentials form, the only one that fixes them.

    The form suggests the client id and environment again, never the secret.
    """
    flow_id = await start_flow(hass)
    if fault:
        simulator.faults.set("unauthorized", path=fault)
    result = await submit_credentials(hass, flow_id, simulator.url, **{CONF_CLIENT_SECRET: secret})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    assert result["errors"] == {"base": "invalid_auth"}
    assert result["description_placeholders"] == {"provider": "Volteras"}
    assert suggested_values(result) == {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
    }

    simulator.faults.clear()
    result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.MENU


@pytest.mark.usefixtures("sandbox_is_simulator")
async def test_hosted_environment_errors_then_recover(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """A hosted environment needs no URL step: errors show on the credentials form itself."""
    flow_id = await start_flow(hass)
    typed = credentials(**{CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**typed, CONF_CLIENT_SECRET: "wrong-secret"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    assert result["errors"] == {"base": "invalid_auth"}
    # The client id comes back, the secret must be typed again.
    assert suggested_values(result) == {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX,
    }
    assert CONF_CLIENT_SECRET not in suggested_values(result)
    assert "wrong-secret" not in suggested_values(result).values()

    simulator.faults.set("server_error", path="/v1/oauth2", count=1)
    result = await hass.config_entries.flow.async_configure(flow_id, typed)
    assert result["step_id"] == "credentials"
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(flow_id, typed)
    assert result["type"] is FlowResultType.MENU
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "vehicles"})
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": list(DEFAULT_FLEET)}
        )
    # No URL is stored for a hosted environment.
    assert result["data"] == {
        CONF_PROVIDER: "volteras",
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX,
        CONF_EXCLUDED_VEHICLES: [],
    }


@pytest.mark.parametrize(
    ("environment", "base_url"),
    [(ENVIRONMENT_PRODUCTION, PRODUCTION_URL), (ENVIRONMENT_SANDBOX, SANDBOX_URL)],
)
async def test_hosted_environments(hass: HomeAssistant, environment: str, base_url: str) -> None:
    """Production and sandbox talk to Volteras's own hosts."""
    flow_id = await start_flow(hass)
    with patch("custom_components.ev_cloud.providers.volteras.VolterasClient") as client_class:
        client_class.return_value.async_identify = AsyncMock(side_effect=TransientError("offline"))
        result = await hass.config_entries.flow.async_configure(
            flow_id, credentials(**{CONF_ENVIRONMENT: environment})
        )
    assert result["step_id"] == "credentials"
    assert result["errors"] == {"base": "cannot_connect"}
    assert client_class.call_args.kwargs["base_url"] == base_url


async def test_unexpected_error(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in validation shows 'unknown' rather than a stack trace, and is logged."""
    flow_id = await start_flow(hass)
    with patch.object(VolterasClient, "async_identify", side_effect=ValueError("boom")):
        result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["step_id"] == "custom_url"
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while checking volteras credentials" in caplog.text


async def test_already_configured(hass: HomeAssistant, simulator: Simulator) -> None:
    """The same organisation cannot be added twice."""
    entry_for(simulator).add_to_hass(hass)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_abandoned_flow_does_not_block_a_new_one(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A flow left at the consent page does not stop a new flow for the same organisation."""
    first = await start_flow(hass)
    await submit_credentials(hass, first, simulator.url)
    result = await hass.config_entries.flow.async_configure(first, {"next_step_id": "consent"})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    # The user closes the dialog without finishing the consent, and starts again.

    second = await start_flow(hass)
    result = await submit_credentials(hass, second, simulator.url)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(second, {"next_step_id": "consent"})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    callback_path = await follow_consent(result["url"], "approve")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(second)
    assert result["step_id"] == "vehicles"
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            second, {"vehicles": vehicle_choice(result)[1]}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_vehicle_list_unreachable(hass: HomeAssistant, simulator: Simulator) -> None:
    """Credentials fine but the vehicle list fails: abort, nothing created."""
    flow_id = await start_flow(hass)
    simulator.faults.set("server_error", path=VEHICLES_PATH)
    result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    assert not hass.config_entries.async_entries(DOMAIN)


def test_oauth2_helper_logs_through_the_integration() -> None:
    """The OAuth2 helper the flow builds on logs to the integration's logger."""
    assert EvCloudConfigFlow().logger is LOGGER
    assert isinstance(LOGGER, logging.Logger)


# --- Consent ----------------------------------------------------------------------------------


async def test_consent_adds_vehicle(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """No vehicle yet: the browser goes to the consent link and comes back through the callback."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["step_id"] == "consent"
    assert result["url"].startswith(f"{simulator.url}/consent/")

    callback_path = await follow_consent(result["url"], "approve")
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 200
    assert "close this window" in await response.text()
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicles"
    (new_car,) = simulator.volteras.vehicles.values()
    assert vehicle_choice(result) == ({new_car.vin: "Kia EV6 (2024)"}, [new_car.vin])
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": [new_car.vin]}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_EXCLUDED_VEHICLES] == []

    # Reloading the finished tab shows the done page again; nothing happens twice.
    response = await client.get(callback_path)
    assert response.status == 200
    assert "close this window" in await response.text()
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_consent_preselects_only_the_new_cars(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """After connecting another car, every car is listed but only the new one is ticked."""
    flow_id = await start_flow(hass)
    await submit_credentials(hass, flow_id, simulator.url)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "consent"})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    callback_path = await follow_consent(result["url"], "approve")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)

    (new_car,) = (v for v in simulator.volteras.vehicles.values() if v.vin not in DEFAULT_FLEET)
    options, default = vehicle_choice(result)
    assert options == {**DEFAULT_FLEET, new_car.vin: "Kia EV6 (2024)"}
    assert default == [new_car.vin]

    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": default})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_EXCLUDED_VEHICLES] == sorted(DEFAULT_FLEET)


async def test_forged_returns(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Forged or tampered returns never reach the flow; the genuine one does, once."""
    flow_id = await start_flow(hass)
    await submit_credentials(hass, flow_id, simulator.url)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "consent"})
    callback_path = await follow_consent(result["url"], "approve")

    client = await hass_client_no_auth()
    forged = await client.get(f"{CALLBACK_PATH}?state=forged&result=success&accountId=x")
    assert forged.status == 400
    assert "invalid or was already used" in await forged.text()
    tampered = await client.get(callback_path.replace("state=", "state=x"))
    assert tampered.status == 400
    missing = await client.get(CALLBACK_PATH)
    assert missing.status == 400
    # Sending the flow an input that did not come through the callback changes nothing.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"nonce": "guess", "result": "success", "account_id": "acc-sim-1"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["step_id"] == "consent"

    response = await client.get(callback_path)
    assert response.status == 200
    # The user reloads the tab before going back to Home Assistant: still "done", no error.
    reloaded = await client.get(callback_path)
    assert reloaded.status == 200
    assert "close this window" in await reloaded.text()
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "vehicles"
    assert len(vehicle_choice(result)[1]) == 1


async def test_expired_return_refused(
    hass: HomeAssistant,
    simulator: Simulator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A return link older than its state's lifetime is refused; the flow keeps waiting."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    callback_path = await follow_consent(result["url"], "approve")
    freezer.tick(timedelta(seconds=STATE_LIFETIME + 1))
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 400
    (progress,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert progress["flow_id"] == flow_id
    assert progress["step_id"] == "consent"


async def test_consent_success_comes_from_the_cars_not_the_result(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """An account that brought cars is a success, whatever the `result` word says."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    callback_path = await follow_consent(result["url"], "approve")
    assert "result=success" in callback_path
    client = await hass_client_no_auth()
    response = await client.get(callback_path.replace("result=success", "result=partial"))
    assert response.status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "vehicles"


async def test_consent_declined(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A declined consent (no account comes back) aborts the flow with a clear reason."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    callback_path = await follow_consent(result["url"], "deny")
    assert "accountId" not in callback_path
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_failed"


async def test_consent_brings_no_car(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """An account came back but brought no car, though the organisation has others: failed."""
    flow_id = await start_flow(hass)
    await submit_credentials(hass, flow_id, simulator.url)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "consent"})
    callback_path = await follow_consent(result["url"], "approve")
    (new_car,) = (v for v in simulator.volteras.vehicles.values() if v.vin not in DEFAULT_FLEET)
    simulator.volteras.remove_vehicle(new_car.id)
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_failed"


@pytest.mark.parametrize(
    "nth",
    [
        1,  # the account's cars
        2,  # then the whole organisation's, for the choice
    ],
)
async def test_consent_then_vehicle_list_unreachable(
    hass: HomeAssistant,
    simulator: Simulator,
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
    nth: int,
) -> None:
    """After the consent a vehicle list cannot be read: abort rather than guess."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    callback_path = await follow_consent(result["url"], "approve")
    fail_nth_request(simulator, monkeypatch, VEHICLES_PATH, nth)
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_consent_link_unavailable(hass: HomeAssistant, simulator: Simulator) -> None:
    """Volteras cannot make a consent link: abort rather than hang."""
    clear_vehicles(simulator)
    simulator.faults.set("server_error", path="accounts:connect")
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_consent_refused_by_the_plan_says_why(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """The plan's device limit is reached: the user reads what to do, not "cannot connect"."""
    simulator.volteras.device_limit = len(simulator.volteras.vehicles)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "consent"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "device_limit_reached"


async def test_consent_without_known_url(hass: HomeAssistant, simulator: Simulator) -> None:
    """Without a URL for Home Assistant the consent page could not come back: say so.

    The reason is EV Cloud's own (with its hint where to set the URL), not Home Assistant's
    generic OAuth2 text of the same name.
    """
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    with patch("custom_components.ev_cloud.consent.get_url", side_effect=NoURLAvailableError):
        result = await submit_credentials(hass, flow_id, simulator.url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_url_available"
    assert result.get("translation_domain", DOMAIN) == DOMAIN


@pytest.mark.parametrize(
    ("headers", "base"),
    [
        (
            {"HA-Frontend-Base": "http://homeassistant.local:8123/"},
            "http://homeassistant.local:8123",
        ),
        ({}, EXTERNAL_URL),
    ],
)
async def test_consent_return_address(
    hass: HomeAssistant, simulator: Simulator, headers: dict[str, str], base: str
) -> None:
    """In the UI the return link uses the address the user reached Home Assistant at."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    request = MagicMock(headers=headers)
    token = http.current_request.set(request)
    try:
        result = await submit_credentials(hass, flow_id, simulator.url)
    finally:
        http.current_request.reset(token)
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{result['url']}/approve", allow_redirects=False) as response,
    ):
        location = response.headers["Location"]
    assert location.startswith(f"{base}{CALLBACK_PATH}?state=")


async def test_callback_after_flow_ended(
    hass: HomeAssistant, simulator: Simulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A genuine return for a flow the user closed is refused politely, also when reloaded."""
    clear_vehicles(simulator)
    flow_id = await start_flow(hass)
    result = await submit_credentials(hass, flow_id, simulator.url)
    callback_path = await follow_consent(result["url"], "approve")
    hass.config_entries.flow.async_abort(flow_id)
    client = await hass_client_no_auth()
    response = await client.get(callback_path)
    assert response.status == 400
    assert "no longer in progress" in await response.text()
    # Reloading must not claim the set-up was done.
    reloaded = await client.get(callback_path)
    assert reloaded.status == 400
    assert "close this window" not in await reloaded.text()


# --- Reauth -----------------------------------------------------------------------------------


async def _start_reauth(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    return result


async def test_reauth(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """A refused secret is replaced; a wrong secret is an error; the entry is reloaded."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("rotated-client", "rotated-secret", ORGANIZATION_ID)
    result = await _start_reauth(hass, config_entry)
    flow_id = result["flow_id"]
    # Only the client id and secret are asked for; the id is filled in, the secret is not.
    assert [str(key) for key in result["data_schema"].schema] == [
        CONF_CLIENT_ID,
        CONF_CLIENT_SECRET,
    ]
    assert suggested_values(result) == {CONF_CLIENT_ID: CLIENT_ID}
    assert result["description_placeholders"]["provider"] == "Volteras"

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_CLIENT_ID: "rotated-client", CONF_CLIENT_SECRET: "nope"}
    )
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {"base": "invalid_auth"}
    assert CONF_CLIENT_SECRET not in suggested_values(result)
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_CLIENT_ID: "rotated-client", CONF_CLIENT_SECRET: "rotated-secret"}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_CLIENT_ID] == "rotated-client"
    assert config_entry.data[CONF_CLIENT_SECRET] == "rotated-secret"
    # The environment and URL stay as they were.
    assert config_entry.data[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM
    assert config_entry.data[CONF_URL] == simulator.url


async def test_reauth_other_organisation(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Credentials of another organisation are refused: the entry keeps its credentials."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("other-client", "other-secret", "other-org")
    result = await _start_reauth(hass, config_entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "other-secret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert config_entry.data[CONF_CLIENT_ID] == CLIENT_ID


# --- Reconfigure ------------------------------------------------------------------------------


async def _start_reconfigure(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> Any:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "reconfigure_credentials",
        "reconfigure_vehicles",
        "reconfigure_consent",
    ]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": step})


async def test_reconfigure_credentials(hass: HomeAssistant, simulator: Simulator) -> None:
    """Credentials and URL change for the same organisation; the vehicle choice stays."""
    entry = entry_for(simulator, **{CONF_EXCLUDED_VEHICLES: ["5YJ3E7EB2NF000001"]})
    entry.add_to_hass(hass)
    result = await _start_reconfigure(hass, entry, "reconfigure_credentials")
    assert result["step_id"] == "reconfigure_credentials"
    flow_id = result["flow_id"]
    # The stored values are filled in, except the secret.
    assert suggested_values(result) == {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
    }

    simulator.volteras.add_client("new-client", "new-secret", ORGANIZATION_ID)
    result = await hass.config_entries.flow.async_configure(
        flow_id, credentials(**{CONF_CLIENT_ID: "new-client", CONF_CLIENT_SECRET: "new-secret"})
    )
    assert result["step_id"] == "custom_url"
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: "ftp://x"})
    assert result["step_id"] == "custom_url"
    assert result["errors"] == {CONF_URL: "invalid_url"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_URL: f"{simulator.url}/"}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == {
        CONF_PROVIDER: "volteras",
        CONF_CLIENT_ID: "new-client",
        CONF_CLIENT_SECRET: "new-secret",
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
        CONF_URL: simulator.url,
        CONF_EXCLUDED_VEHICLES: ["5YJ3E7EB2NF000001"],
    }


async def test_reconfigure_refused_credentials_custom_environment(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """A refused secret after the URL step brings back the reconfigure credentials form."""
    entry = entry_for(simulator)
    entry.add_to_hass(hass)
    result = await _start_reconfigure(hass, entry, "reconfigure_credentials")
    flow_id = result["flow_id"]
    await hass.config_entries.flow.async_configure(
        flow_id, credentials(**{CONF_CLIENT_SECRET: "wrong-secret"})
    )
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: simulator.url})
    assert result["step_id"] == "reconfigure_credentials"
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested_values(result) == {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM,
    }
    await hass.config_entries.flow.async_configure(flow_id, credentials())
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: simulator.url})
        await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"


@pytest.mark.usefixtures("sandbox_is_simulator")
async def test_reconfigure_to_hosted_environment(hass: HomeAssistant, simulator: Simulator) -> None:
    """Moving to a hosted environment checks on the credentials form and drops the URL."""
    entry = entry_for(simulator, **{CONF_EXCLUDED_VEHICLES: ["WVGZZZE2ZNP000002"]})
    entry.add_to_hass(hass)
    result = await _start_reconfigure(hass, entry, "reconfigure_credentials")
    flow_id = result["flow_id"]
    typed = credentials(**{CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**typed, CONF_CLIENT_SECRET: "wrong-secret"}
    )
    assert result["step_id"] == "reconfigure_credentials"
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested_values(result) == {
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX,
    }
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, typed)
        await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == {
        CONF_PROVIDER: "volteras",
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
        CONF_ENVIRONMENT: ENVIRONMENT_SANDBOX,
        CONF_EXCLUDED_VEHICLES: ["WVGZZZE2ZNP000002"],
    }


async def test_reconfigure_other_organisation(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """Reconfiguring onto another organisation is refused."""
    config_entry.add_to_hass(hass)
    simulator.volteras.add_client("other-client", "other-secret", "other-org")
    result = await _start_reconfigure(hass, config_entry, "reconfigure_credentials")
    result = await submit_credentials(
        hass,
        result["flow_id"],
        simulator.url,
        **{CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "other-secret"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert config_entry.data[CONF_CLIENT_ID] == CLIENT_ID


async def test_reconfigure_connects_another_car(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Reconfigure can run the consent flow for one more car, then reloads the entry."""
    config_entry.add_to_hass(hass)
    before = set(simulator.volteras.vehicles)
    result = await _start_reconfigure(hass, config_entry, "reconfigure_consent")
    flow_id = result["flow_id"]
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    callback_path = await follow_consent(result["url"], "approve")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    with patch(SETUP_ENTRY, return_value=True) as setup:
        result = await hass.config_entries.flow.async_configure(flow_id)
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert len(set(simulator.volteras.vehicles) - before) == 1
    assert len(setup.mock_calls) == 1


async def test_reconfigure_consent_declined(
    hass: HomeAssistant,
    simulator: Simulator,
    config_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A declined consent from reconfigure leaves the entry alone."""
    config_entry.add_to_hass(hass)
    result = await _start_reconfigure(hass, config_entry, "reconfigure_consent")
    callback_path = await follow_consent(result["url"], "deny")
    client = await hass_client_no_auth()
    assert (await client.get(callback_path)).status == 200
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_failed"


async def test_reconfigure_vehicles(hass: HomeAssistant, simulator: Simulator) -> None:
    """The vehicle choice can change later; excluded cars are matched by VIN or by old id."""
    tesla, volkswagen, polestar = DEFAULT_FLEET
    # Written by 0.1.0 (the Volteras id) and by this version (the VIN).
    entry = entry_for(simulator, **{CONF_EXCLUDED_VEHICLES: ["veh-tesla-m3", volkswagen]})
    entry.add_to_hass(hass)
    result = await _start_reconfigure(hass, entry, "reconfigure_vehicles")
    assert result["step_id"] == "reconfigure_vehicles"
    flow_id = result["flow_id"]
    options, default = vehicle_choice(result)
    assert options == DEFAULT_FLEET
    assert default == [polestar]

    result = await hass.config_entries.flow.async_configure(flow_id, {"vehicles": []})
    assert result["step_id"] == "reconfigure_vehicles"
    assert result["errors"] == {"base": "no_vehicles_selected"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"vehicles": [tesla, polestar]}
        )
        await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    # Stored as VINs from now on.
    assert entry.data[CONF_EXCLUDED_VEHICLES] == [volkswagen]
    assert vin(simulator, "veh-vw-id4") == volkswagen


async def test_reconfigure_vehicles_unreachable(
    hass: HomeAssistant, simulator: Simulator, config_entry: MockConfigEntry
) -> None:
    """The vehicle list cannot be read: abort instead of showing an empty choice."""
    config_entry.add_to_hass(hass)
    simulator.faults.set("server_error", path=VEHICLES_PATH)
    result = await _start_reconfigure(hass, config_entry, "reconfigure_vehicles")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


# --- Options ----------------------------------------------------------------------------------


async def test_options(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """Polling paces are options; saving them reloads the entry."""
    config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    with patch(SETUP_ENTRY, return_value=True):
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
