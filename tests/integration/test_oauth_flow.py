"""The OAuth 2.0 code-flow branch, driven as the UI and a browser drive it.

The provider is a small test double (`oauth_provider.py`); the sign-in is real: the simulator's
authorize page and token endpoint over HTTP, Home Assistant's own OAuth2 helpers, its
`/auth/external/callback` view, PKCE, and single-use refresh tokens.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.ev_cloud.const import CONF_ENVIRONMENT, DOMAIN, ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.providers import PROVIDERS
from simulator import Simulator

from .oauth_provider import CAR, SIM_OAUTH, SimAccountClient

APP = {CONF_CLIENT_ID: "sim-oauth-client", CONF_CLIENT_SECRET: "sim-oauth-secret"}
REDIRECT_URI = "https://example.com/auth/external/callback"


@pytest.fixture(autouse=True)
async def simcloud(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, current_request_with_host: None
) -> None:
    """Register the test provider and the HTTP pieces the sign-in needs."""
    monkeypatch.setitem(PROVIDERS, SIM_OAUTH.name, SIM_OAUTH)
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "auth", {})


async def open_sign_in(hass: HomeAssistant, sim: Simulator, **app: str) -> dict[str, Any]:
    """Provider, developer app, custom URL: the flow waits at the sign-in page."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": SIM_OAUTH.name}
    )
    assert result["step_id"] == "oauth_app"
    assert result["description_placeholders"]["redirect_uri"] == REDIRECT_URI
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM, **app}
    )
    assert result["step_id"] == "custom_url"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_URL: sim.url})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    return result


async def sign_in(
    hass: HomeAssistant,
    client: ClientSessionGenerator,
    sim: Simulator,
    result: dict[str, Any],
    decision: str = "approve",
    *,
    scope: str | None = "openid offline_access vehicle_device_data",
) -> dict[str, Any]:
    """Act as the browser on the sign-in page, come back through Home Assistant's callback."""
    authorize = URL(result["url"])
    assert str(authorize.origin()) == sim.url
    assert authorize.path.endswith(("/authorize", "/authorization.oauth2"))
    if scope is not None:
        # The test provider: its scopes, with PKCE.
        assert authorize.query["scope"] == scope
        assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["redirect_uri"] == REDIRECT_URI
    async with aiohttp.ClientSession() as browser:
        async with browser.get(str(authorize)) as page:
            link = re.search(rf'href="([^"]+/{decision})"', await page.text())
        assert link is not None
        async with browser.get(f"{sim.url}{link.group(1)}", allow_redirects=False) as answer:
            back = URL(answer.headers["Location"])
    assert f"{back.origin()}{back.path}" == REDIRECT_URI
    http = await client()
    response = await http.get(f"/auth/external/callback?{back.query_string}")
    assert response.status == 200
    return await hass.config_entries.flow.async_configure(result["flow_id"])


async def add_entry(
    hass: HomeAssistant, client: ClientSessionGenerator, sim: Simulator
) -> config_entries.ConfigEntry[Any]:
    """The whole user flow, ending with the car chosen."""
    result = await sign_in(hass, client, sim, await open_sign_in(hass, sim))
    assert result["step_id"] == "vehicles"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"vehicles": [CAR.key]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return result["result"]


async def reconfigure(
    hass: HomeAssistant, entry: config_entries.ConfigEntry[Any]
) -> dict[str, Any]:
    """Open the entry's reconfigure menu."""
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


def battery(hass: HomeAssistant) -> str:
    """The test car's battery sensor."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"simcloud_{CAR.vin}_battery_level"
    )
    assert entity_id is not None
    return entity_id


def expire_token(hass: HomeAssistant, entry: config_entries.ConfigEntry[Any]) -> None:
    """Make the stored access token due for a refresh."""
    token = {**entry.data["token"], "expires_at": time.time() - 10}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


async def test_sign_in_creates_the_entry(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Developer app → sign-in page → callback → token (PKCE) → account → vehicles → entry."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    assert entry.title == "Sim account sim-account"
    assert entry.unique_id == "sim-account"
    assert entry.data["auth_implementation"] == "ev_cloud_simcloud_custom_sim-oauth-client"
    assert entry.data["token"]["access_token"] in simulator.oauth.access_tokens
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(battery(hass)).state == "55.0"

    # The same account cannot be added twice.
    result = await sign_in(
        hass, hass_client_no_auth, simulator, await open_sign_in(hass, simulator)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_refresh_tokens_are_single_use_and_refreshed_once(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Concurrent reads with an expired token make one refresh; the new token is stored."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    old = entry.data["token"]
    expire_token(hass, entry)
    simulator.oauth.request_log.clear()
    vehicle = next(iter(entry.runtime_data.vehicles.values()))
    await asyncio.gather(
        vehicle.coordinator.async_refresh(),
        entry.runtime_data.fleet.async_refresh(),
        vehicle.coordinator.async_refresh(),
    )
    assert simulator.oauth.request_log.count(("POST", "/oauth2/token")) == 1
    new = entry.data["token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert old["refresh_token"] not in simulator.oauth.refresh_tokens
    assert new["refresh_token"] in simulator.oauth.refresh_tokens
    assert hass.states.get(battery(hass)).state == "55.0"


async def test_token_endpoint_down_is_not_a_reauth(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """A 5xx from the token endpoint leaves the car unavailable for a while, no sign-in asked."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    expire_token(hass, entry)
    simulator.faults.set("server_error", path="/oauth2/token")
    vehicle = next(iter(entry.runtime_data.vehicles.values()))
    await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(battery(hass)).state == STATE_UNAVAILABLE
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    simulator.faults.clear()
    await vehicle.coordinator.async_refresh()
    assert hass.states.get(battery(hass)).state == "55.0"


async def test_refused_refresh_asks_to_sign_in_again(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Only a refused refresh starts reauth; signing in again restores the entry."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    expire_token(hass, entry)
    simulator.oauth.revoke_tokens()
    vehicle = next(iter(entry.runtime_data.vehicles.values()))
    await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_oauth"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await sign_in(hass, hass_client_no_auth, simulator, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data["token"]["access_token"] in simulator.oauth.access_tokens
    assert hass.states.get(battery(hass)).state == "55.0"


async def test_reauth_with_another_account(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Signing in as someone else does not hijack the entry."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    simulator.oauth.clients["sim-oauth-client"] = ("sim-oauth-secret", "someone-else")
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=dict(entry.data),
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await sign_in(hass, hass_client_no_auth, simulator, result)
    assert result["reason"] == "wrong_account"


async def test_denied_sign_in(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Deny on the sign-in page: the flow ends with that reason, nothing is created."""
    result = await open_sign_in(hass, simulator)
    result = await sign_in(hass, hass_client_no_auth, simulator, result, decision="deny")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "user_rejected_authorize"
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [("refused", "oauth_unauthorized"), ("down", "cannot_connect"), ("empty", "no_vehicles")],
)
async def test_account_check_failures(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    reason: str,
) -> None:
    """After the token: a refused token, an unreachable API or an empty account each abort."""
    result = await open_sign_in(hass, simulator)
    if failure == "refused":
        simulator.faults.set("unauthorized", path="/oauth2/userinfo")
    elif failure == "down":
        simulator.faults.set("server_error", path="/oauth2/userinfo")
    else:

        async def no_cars(self: SimAccountClient) -> list[object]:
            return []

        monkeypatch.setattr(SimAccountClient, "async_get_vehicles", no_cars)
    result = await sign_in(hass, hass_client_no_auth, simulator, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_hosted_environment_and_unknown_url(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production goes straight to the provider's sign-in page; no URL step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": SIM_OAUTH.name}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_ENVIRONMENT: "production"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["url"].startswith("https://simcloud.invalid/oauth2/authorize?")


async def test_redirect_uri_placeholder_without_a_known_url(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a URL Home Assistant knows itself by, the form still says what to allow."""
    monkeypatch.setattr(
        "custom_components.ev_cloud.config_flow.async_get_redirect_uri",
        _no_url,
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": SIM_OAUTH.name}
    )
    assert result["description_placeholders"]["redirect_uri"].endswith("/auth/external/callback")


def _no_url(hass: HomeAssistant) -> str:
    from homeassistant.helpers.network import NoURLAvailableError

    raise NoURLAvailableError


async def test_reconfigure(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """New app credentials sign in again; the vehicle choice reads through the stored token."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    result = await reconfigure(hass, entry)
    assert result["menu_options"] == ["reconfigure_credentials", "reconfigure_vehicles"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_vehicles"}
    )
    assert result["step_id"] == "reconfigure_vehicles"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"vehicles": [CAR.key]}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    result = await reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_credentials"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: simulator.url}
    )
    result = await sign_in(hass, hass_client_no_auth, simulator, result)
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_hosted_environment_goes_to_sign_in(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Switching to a hosted environment starts its sign-in directly."""
    entry = await add_entry(hass, hass_client_no_auth, simulator)
    result = await reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_credentials"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_ENVIRONMENT: "production"}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["url"].startswith("https://simcloud.invalid/oauth2/authorize?")
