"""Tesla's one-time set-up, checked step by step in the config flow.

What `tesla_fleet` users get lost in: the public key on the app's domain, the partner registration
and pairing the key with the car. Each step is checked against the simulator (which plays Tesla
and the app's web site) and the form names exactly the step that is missing.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_cloud.const import (
    CONF_APP_DOMAIN,
    CONF_ENVIRONMENT,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
)
from simulator import Simulator

from .test_oauth_flow import APP, reconfigure, sign_in
from .test_tesla import (
    BLUE,
    RED,
    add_tesla,
    app_domain,
    host_public_key,
    http_pieces,  # noqa: F401 - the autouse fixture of the Tesla tests
    open_tesla_sign_in,
)

KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"


def someone_elses_key() -> str:
    """A valid P-256 public key that is not EV Cloud's."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


async def submit(hass: HomeAssistant, result: dict[str, Any], data: Any = None) -> dict[str, Any]:
    """Press the form's button."""
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], data or {}))


async def test_public_key_must_be_online_and_ours(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Not published, then someone else's key, then ours: each says exactly what is wrong."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    placeholders = result["description_placeholders"]
    assert placeholders["url"] == f"http://{app_domain(simulator)}{KEY_PATH}"
    assert placeholders["public_key"].startswith("-----BEGIN PUBLIC KEY-----")

    result = await submit(hass, result)
    assert (result["step_id"], result["errors"]) == (
        "public_key",
        {"base": "public_key_unreachable"},
    )
    assert "HTTP 404" in result["description_placeholders"]["detail"]

    simulator.tesla.hosted_public_key = someone_elses_key()
    result = await submit(hass, result)
    assert result["errors"] == {"base": "public_key_mismatch"}
    # Nothing was registered while the key was wrong.
    assert simulator.tesla.partners == {}

    host_public_key(simulator, result)
    result = await submit(hass, result)
    assert result["step_id"] == "pair_key"
    domain, registered = simulator.tesla.partners[APP["client_id"]]
    assert domain == app_domain(simulator)
    assert simulator.tesla.hosted_public_key is not None
    assert registered == _point(simulator.tesla.hosted_public_key)


def _point(pem: str) -> str:
    from custom_components.ev_cloud.providers.tesla.partner import pem_point

    point = pem_point(pem)
    assert point is not None
    return point


async def test_partner_registration_names_the_domain_problem_and_retries(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Tesla refuses a domain that is not the app's allowed origin; fixed, a retry registers."""
    simulator.tesla.allowed_origins[APP["client_id"]] = "ev.example.com"
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    result = await submit(hass, result)
    assert (result["step_id"], result["errors"]) == ("partner", {"base": "partner_domain_mismatch"})
    assert "allowed origin ev.example.com" in result["description_placeholders"]["detail"]

    # A passing server error is not the owner's fault: "cannot connect", and the retry works.
    del simulator.tesla.allowed_origins[APP["client_id"]]
    simulator.faults.set("server_error", count=1, path="/api/1/partner_accounts")
    result = await submit(hass, result)
    assert result["errors"] == {"base": "cannot_connect"}
    result = await submit(hass, result)
    assert result["step_id"] == "pair_key"


async def test_partner_sign_in_refused(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The app's secret was rotated in the portal after the owner signed in."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    simulator.oauth.clients[APP["client_id"]] = ("rotated-secret", "sim-account")
    result = await submit(hass, result)
    assert result["errors"] == {"base": "partner_login_failed"}


async def test_partner_registration_needs_the_key_tesla_can_download(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The file vanished between the check and the registration: Tesla's words are shown."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    result = await submit(hass, result)
    assert result["step_id"] == "pair_key"
    # Pairing later keeps the flow going; a new flow for another account would register again.
    simulator.tesla.hosted_public_key = None
    simulator.tesla.partners.clear()
    flow = hass.config_entries.flow._progress[result["flow_id"]]
    result = dict(await flow.async_step_partner())
    assert result["errors"] == {"base": "partner_registration_failed"}
    assert "Public key download failed" in result["description_placeholders"]["detail"]


async def test_pairing_is_checked_with_fleet_status(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Submitting before pairing says so; after the pairing link, the entry has no repair issue."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    result = await submit(hass, result)
    assert result["step_id"] == "pair_key"
    link = f"https://tesla.com/_ak/{app_domain(simulator)}"
    assert result["description_placeholders"]["pairing_link"] == link

    result = await submit(hass, result, {"pair_later": False})
    assert result["errors"] == {"base": "key_not_paired"}

    simulator.pair_tesla_key(RED, app_domain(simulator))
    result = await submit(hass, result, {"pair_later": False})
    assert result["step_id"] == "vehicles"
    result = await submit(hass, result, {"vehicles": [RED, BLUE]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_APP_DOMAIN] == app_domain(simulator)
    # The private key never enters the entry; only where to find the public one.
    assert "PRIVATE" not in str(result["data"])
    await hass.async_block_till_done()
    assert not [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("https://ev.example.com/keys", {"app_domain": "invalid_domain"}),
        ("not a domain", {"app_domain": "invalid_domain"}),
        ("https://[::1", {"app_domain": "invalid_domain"}),
    ],
)
async def test_domain_must_be_a_domain(
    hass: HomeAssistant, simulator: Simulator, typed: str, error: dict[str, str]
) -> None:
    """A path or spaces are refused at once, with the typed values kept (not the secret)."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": "tesla"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_APP_DOMAIN: typed, CONF_ENVIRONMENT: "production"}
    )
    assert (result["step_id"], result["errors"]) == ("oauth_app", error)


async def test_domain_typed_as_a_url_is_kept_as_its_host(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """People paste the origin with its scheme and a slash; the host is what Tesla wants."""
    result = await open_tesla_sign_in(
        hass,
        hass_client_no_auth,
        simulator,
        **{CONF_APP_DOMAIN: f"HTTP://{app_domain(simulator)}/"},
    )
    assert result["description_placeholders"]["url"].startswith(f"http://{app_domain(simulator)}/")


@pytest.mark.parametrize(
    ("fault", "reason"), [("server_error", "cannot_connect"), ("forbidden", "oauth_unauthorized")]
)
async def test_car_list_failing_after_registration_aborts_in_words(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
    fault: str,
    reason: str,
) -> None:
    """Registered, then Tesla cannot list the cars: nothing is created, the reason is said."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    simulator.faults.set(fault, path="/api/1/products")
    result = await submit(hass, result)
    assert result == result | {"type": FlowResultType.ABORT, "reason": reason}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_pairing_check_that_cannot_reach_tesla_keeps_the_step(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """A passing outage while checking the pairing: say so, keep the link, check again."""
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator)
    host_public_key(simulator, result)
    result = await submit(hass, result)
    simulator.faults.set("server_error", count=1, path="/api/1/products")
    result = await submit(hass, result, {"pair_later": False})
    assert (result["step_id"], result["errors"]) == ("pair_key", {"base": "cannot_connect"})
    simulator.pair_tesla_key(RED, app_domain(simulator))
    result = await submit(hass, result, {"pair_later": False})
    assert result["step_id"] == "vehicles"


async def test_key_that_cannot_be_stored_aborts(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The storage folder holds a directory where the key file belongs: say so, do not crash."""
    key_file = Path(hass.config.path(".storage", "ev_cloud_tesla_sim-oauth-client.pem"))
    await hass.async_add_executor_job(partial(key_file.mkdir, parents=True))
    result = await open_tesla_sign_in(hass, hass_client_no_auth, simulator, expect="abort")
    assert result["reason"] == "key_unavailable"


async def test_reconfigure_keeps_the_domain_rules(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """A new domain must be a domain; a good one signs in again and is stored."""
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    result = await reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_credentials"}
    )
    typed = {**APP, CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**typed, CONF_APP_DOMAIN: "ev.example.com/path"}
    )
    assert result["errors"] == {CONF_APP_DOMAIN: "invalid_domain"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**typed, CONF_APP_DOMAIN: "EV.example.com"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": simulator.url}
    )
    result = await sign_in(hass, hass_client_no_auth, simulator, result, scope=None)
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_APP_DOMAIN] == "ev.example.com"
