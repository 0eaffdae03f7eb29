"""Volvo Cars: Connected Vehicle API v2, Energy API v2 and Location API, through our own client.

Signing in is Volvo ID's authorization-code flow with PKCE. Every API call also needs the
application's VCC API key: the Home Assistant side passes it in `ClientConfig.extra["api_key"]`
(and may pass the granted scopes, space-separated, in `ClientConfig.extra["scope"]`).
Volvo's API cannot start or stop charging, nor set the charge limit or current: a Volvo offers
climatisation and door locks, and reads.
"""

from __future__ import annotations

import aiohttp

from ..base import ClientConfig, CredentialKind, OAuth2Endpoints, ProviderSpec
from . import const
from .client import VolvoClient
from .const import (
    API_ROOT,
    AUTH_HOST,
    AUTHORIZE_PATH,
    CAPABILITIES,
    CLIMATE_SESSION,
    COMMAND_TIMEOUT,
    EXTRA_API_KEY,
    SCOPES,
    TOKEN_PATH,
)
from .failures import failure_reason


def _create_client(session: aiohttp.ClientSession, config: ClientConfig) -> VolvoClient:
    """A client; without a key yet (sign-in before the key step) every API call is refused."""
    # Read at build time, so a test can shorten Volvo's long waits.
    return VolvoClient(
        session,
        config,
        (config.extra or {}).get(EXTRA_API_KEY, ""),
        answer_wait=const.ANSWER_WAIT,
        request_timeout=const.REQUEST_TIMEOUT,
        command_http_timeout=const.COMMAND_HTTP_TIMEOUT,
        command_timeout=const.COMMAND_TIMEOUT,
    )


def _request_kind(method: str, path: str) -> str:
    """Reads, commands and the rest, against Volvo's 100 requests and 10 commands a minute."""
    if method == "POST" and "/commands/" in path:
        return "command"
    if path.endswith("/token.oauth2"):
        return "token"
    if path.endswith(("/state", "/doors", "/odometer", "/location")):
        return "data"
    return "vehicle_list" if "/vehicles" in path else "other"


SPEC = ProviderSpec(
    name="volvo",
    credential_kind=CredentialKind.OAUTH2_CODE,
    environments={"production": API_ROOT},
    create_client=_create_client,
    capabilities=CAPABILITIES,
    map_failure=failure_reason,
    # Volvo's command call blocks up to 150 s; past this the client has settled every command.
    command_timeout=COMMAND_TIMEOUT,
    climate_session=CLIMATE_SESSION,
    redact_keys=frozenset({EXTRA_API_KEY}),
    developer_portal="https://developer.volvocars.com",
    api_key=True,
    request_kind=_request_kind,
    oauth=OAuth2Endpoints(
        authorize_path=AUTHORIZE_PATH,
        token_path=TOKEN_PATH,
        scopes=SCOPES,
        pkce=True,
        auth_hosts={"production": AUTH_HOST},
    ),
)

__all__ = ["SPEC", "VolvoClient"]
