"""The Tesla set-up checks on their own: odd key files, a dead web site, odd token answers."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest
from tesla_fleet_api import TeslaFleetApi

from custom_components.ev_cloud.providers.errors import SetupCheckError, TransientError
from custom_components.ev_cloud.providers.tesla import partner
from simulator import Simulator


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def test_only_p256_public_keys_have_a_point() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    p384_pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert partner.pem_point("<html>Not found</html>") is None
    assert partner.pem_point(rsa_pem) is None
    assert partner.pem_point(p384_pem) is None


async def test_a_web_site_that_does_not_answer(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """Nothing listens on the port: unreachable, with the address in the detail."""
    url = "http://127.0.0.1:9/.well-known/appspecific/com.tesla.3p.public-key.pem"
    with pytest.raises(SetupCheckError) as err:
        await partner.check_hosted_key(session, url, "04")
    assert err.value.code == "public_key_unreachable"
    assert url in err.value.detail


async def test_partner_token_answers_that_are_not_tokens(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """A 5xx or an answer without a token is passing, not the owner's mistake."""
    async with Simulator(command_delay=0.0) as sim:
        token_url = f"{sim.url}/oauth2/v3/token"
        sim.faults.set("server_error", count=1, path="/oauth2/v3/token")
        with pytest.raises(TransientError):
            await partner.partner_token(
                session, token_url, "sim-oauth-client", "sim-oauth-secret", sim.url
            )
        sim.faults.set("malformed", count=1, path="/oauth2/v3/token")
        with pytest.raises(TransientError):
            await partner.partner_token(
                session, token_url, "sim-oauth-client", "sim-oauth-secret", sim.url
            )
        token = await partner.partner_token(
            session, token_url, "sim-oauth-client", "sim-oauth-secret", sim.url
        )
        assert sim.oauth.partner_for(token) == "sim-oauth-client"


async def test_registration_outage_is_retried_not_blamed_on_the_owner(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """A 503 while registering is raised as passing; Tesla holding another key is named."""
    async with Simulator(command_delay=0.0) as sim:
        token = sim.oauth.issue_partner_token("sim-oauth-client", sim.url)["access_token"]
        api = TeslaFleetApi(session, access_token=token, server=sim.url)
        sim.faults.set("server_error", count=1, path="/api/1/partner_accounts")
        with pytest.raises(TransientError):
            await partner.register(api, "ev.example.com", "04")
        # Registered earlier with another key (the hosted file changed since).
        sim.tesla.register_partner("sim-oauth-client", "ev.example.com", "04" + "22" * 64)
        sim.tesla.hosted_public_key = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        domain = sim.url.removeprefix("http://")
        with pytest.raises(SetupCheckError) as err:
            await partner.register(api, domain, "04" + "33" * 64)
        assert err.value.code == "partner_key_mismatch"
