"""The simulated Tesla partner surface: tokens, registration, the hosted key, the pairing link."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest

from simulator import Simulator

APP = ("sim-oauth-client", "sim-oauth-secret")
RED = "5YJ3E7EB7KF000101"


@pytest.fixture
async def world(socket_enabled: None) -> AsyncGenerator[tuple[Simulator, aiohttp.ClientSession]]:
    async with Simulator(command_delay=0.0) as sim, aiohttp.ClientSession() as session:
        yield sim, session


async def token(session: aiohttp.ClientSession, sim: Simulator, **form: str) -> dict[str, Any]:
    data = {"client_id": APP[0], "client_secret": APP[1], **form}
    async with session.post(f"{sim.url}/oauth2/v3/token", data=data) as answer:
        body: dict[str, Any] = await answer.json()
        body["status"] = answer.status
        return body


def pem_key() -> tuple[str, str]:
    """A fresh public key, as PEM and as Tesla's hex point."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return pem, key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()


async def test_partner_token_registers_a_domain_whose_key_it_downloads(
    world: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = world
    domain = sim.url.removeprefix("http://")
    assert (await token(session, sim, grant_type="client_credentials"))["status"] == 400
    partner = (await token(session, sim, grant_type="client_credentials", audience=sim.url))[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {partner}"}
    register = f"{sim.url}/api/1/partner_accounts"

    async with session.post(register, json={"domain": domain}, headers=headers) as answer:
        assert answer.status == 424  # nothing hosted yet
    sim.tesla.hosted_public_key = "not a key"
    async with session.post(register, json={"domain": domain}, headers=headers) as answer:
        assert answer.status == 422
    async with session.post(register, json={}, headers=headers) as answer:
        assert answer.status == 400
    pem, point = pem_key()
    sim.tesla.hosted_public_key = pem
    async with session.post(register, json={"domain": domain}, headers=headers) as answer:
        assert (await answer.json())["response"]["public_key"] == point
    lookup = f"{sim.url}/api/1/partner_accounts/public_key"
    async with session.get(lookup, params={"domain": domain}, headers=headers) as answer:
        assert (await answer.json())["response"]["public_key"] == point
    async with session.get(lookup, params={"domain": "other.example"}, headers=headers) as answer:
        assert answer.status == 404

    # The pairing link pairs exactly the key registered for the domain.
    sim.pair_tesla_key(RED, domain)
    assert sim.tesla_signed.is_paired(RED, bytes.fromhex(point))
    with pytest.raises(KeyError):
        sim.pair_tesla_key(RED, "unregistered.example")


async def test_owner_calls_need_the_app_registered_and_partner_calls_a_partner_token(
    world: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, session = world
    owner = sim.oauth.issue_tokens(APP[0], "openid vehicle_device_data")["access_token"]
    headers = {"Authorization": f"Bearer {owner}"}
    async with session.get(f"{sim.url}/api/1/products", headers=headers) as answer:
        assert answer.status == 412
        assert "registered" in (await answer.json())["error"]
    async with session.post(
        f"{sim.url}/api/1/partner_accounts", json={"domain": "x.example"}, headers=headers
    ) as answer:
        assert answer.status == 401
    sim.tesla.register_partner(APP[0], "x.example", pem_key()[1])
    async with session.get(f"{sim.url}/api/1/products", headers=headers) as answer:
        assert answer.status == 200


async def test_admin_endpoints_host_the_key_and_pair(
    world: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    """What `scripts/develop` uses: publish a key on the simulator's own site, open the link."""
    sim, session = world
    pem, point = pem_key()
    async with session.put(f"{sim.url}/_sim/tesla/hosted-key", data=pem) as answer:
        assert answer.status == 200
    well_known = f"{sim.url}/.well-known/appspecific/com.tesla.3p.public-key.pem"
    async with session.get(well_known) as answer:
        assert await answer.text() == pem
    pair = f"{sim.url}/_sim/tesla/pair"
    async with session.post(pair, json={"vin": RED, "domain": "x.example"}) as answer:
        assert answer.status == 404
    sim.tesla.register_partner(APP[0], "x.example", point)
    async with session.post(pair, json={"vin": RED, "domain": "x.example"}) as answer:
        assert answer.status == 200
    assert sim.tesla_signed.is_paired(RED, bytes.fromhex(point))
