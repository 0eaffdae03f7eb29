"""The owner's one-time Tesla set-up, checked step by step: hosted public key, partner registration.

Tesla fetches the app's public key from its domain when the app registers as a partner, and the
pairing link `tesla.com/_ak/<domain>` enrols the key registered for that domain. Each check here
raises `SetupCheckError` with the neutral name of the step that is missing, so the config flow can
say exactly which one to fix.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from tesla_fleet_api import TeslaFleetApi, exceptions as tesla

from ..errors import ProviderError, SetupCheckError, TransientError
from .errors import provider_call

PUBLIC_KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
PAIRING_LINK = "https://tesla.com/_ak/{domain}"
# What a partner token needs for `partner_accounts`; `openid` alone is refused by Tesla.
PARTNER_SCOPES = "openid vehicle_device_data vehicle_cmds vehicle_charging_cmds"
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=15)


def pem_point(pem: str) -> str | None:
    """A PEM public key as Tesla lists it (the uncompressed P-256 point, hex), or None."""
    try:
        key = load_pem_public_key(pem.strip().encode())
    except ValueError:
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return None
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()


async def check_hosted_key(session: aiohttp.ClientSession, url: str, our_point: str) -> None:
    """The file at `url` is reachable and holds our public key."""
    try:
        async with session.get(url, timeout=FETCH_TIMEOUT, allow_redirects=True) as answer:
            if answer.status != 200:
                raise SetupCheckError("public_key_unreachable", f"HTTP {answer.status} from {url}")
            text = await answer.text()
    except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError) as err:
        raise SetupCheckError("public_key_unreachable", f"{url}: {type(err).__name__}") from err
    if pem_point(text) != our_point:
        raise SetupCheckError("public_key_mismatch", url)


async def partner_token(
    session: aiohttp.ClientSession, token_url: str, client_id: str, secret: str, audience: str
) -> str:
    """A client-credentials token for the app itself (Tesla's "partner token")."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": audience,
        "scope": PARTNER_SCOPES,
    }
    try:
        async with session.post(token_url, data=form, timeout=FETCH_TIMEOUT) as answer:
            if answer.status in (400, 401, 403):
                raise SetupCheckError("partner_login_failed", f"HTTP {answer.status}")
            answer.raise_for_status()
            body: Any = await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise TransientError(f"Tesla's token endpoint failed ({type(err).__name__})") from err
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TransientError("Tesla's token endpoint sent no partner token")
    return token


def _tesla_text(err: ProviderError) -> str:
    """Tesla's own words for a refusal (they name the domain and URL, never a secret)."""
    cause = err.__cause__
    if isinstance(cause, tesla.TeslaFleetError) and isinstance(cause.data, dict):
        text = cause.data.get("error")
        if isinstance(text, str) and text:
            return text
    return str(err)


def _refusal_status(err: ProviderError) -> int | None:
    """The HTTP status of a refusal the owner can act on (4xx but a rate limit); else None."""
    status = getattr(err.__cause__, "status", None)
    if isinstance(status, int) and 400 <= status < 500 and status != 429:
        return status
    return None


async def register(api: TeslaFleetApi, domain: str, our_point: str) -> None:
    """Register the domain for the server `api` points at, then confirm Tesla holds our key."""
    try:
        await provider_call(api.partner.register(domain))
        answer = await provider_call(api.partner.public_key(domain))
    except ProviderError as err:
        # No answer, a 5xx or a rate limit is not the owner's to fix: retry later as usual.
        if (status := _refusal_status(err)) is None:
            raise
        # 412: Tesla says the domain is not the app's allowed origin.
        code = "partner_domain_mismatch" if status == 412 else "partner_registration_failed"
        raise SetupCheckError(code, _tesla_text(err)) from err
    response = answer.get("response") if isinstance(answer, dict) else None
    registered = response.get("public_key") if isinstance(response, dict) else None
    if not isinstance(registered, str) or registered.lower() != our_point:
        raise SetupCheckError("partner_key_mismatch", domain)
