"""Tesla Fleet API: Tesla's own cloud, signed commands through `tesla-fleet-api`."""

from __future__ import annotations

import aiohttp

from ..base import ClientConfig, CredentialKind, OAuth2Endpoints, ProviderSpec
from . import const
from .client import TeslaClient
from .const import AUTH_HOST, AUTHORIZE_PATH, CAPABILITIES, PRODUCTION_URL, SCOPES, TOKEN_PATH
from .failures import failure_reason


def _create_client(session: aiohttp.ClientSession, config: ClientConfig) -> TeslaClient:
    extra = config.extra or {}
    return TeslaClient(
        session,
        config,
        key_path=extra.get("key_path"),
        wake_timeout=const.WAKE_TIMEOUT,
        wake_poll=const.WAKE_POLL,
    )


def _request_kind(method: str, path: str) -> str:
    """Tesla's billing categories, plus the free calls."""
    if path.endswith("/vehicle_data"):
        return "data"
    if "/command/" in path or path.endswith("/signed_command"):
        return "command"
    if path.endswith("/wake_up"):
        return "wake"
    if path.endswith("/token"):
        return "token"
    if path.endswith("/products"):
        return "vehicle_list"
    if method == "GET" and path.startswith("/api/1/vehicles/"):
        return "state_check"
    return "other"


SPEC = ProviderSpec(
    name="tesla",
    credential_kind=CredentialKind.OAUTH2_CODE,
    # The region (and its server) comes from the token: one environment serves every region.
    environments={"production": PRODUCTION_URL},
    create_client=_create_client,
    capabilities=CAPABILITIES,
    map_failure=failure_reason,
    # Commands settle when sent; this bounds only a wake-up before one.
    command_timeout=90.0,
    key_pairing=True,
    request_kind=_request_kind,
    # Tesla's pay-per-use prices (a $10 monthly credit per account is not subtracted).
    request_prices={"data": 0.002, "command": 0.001, "wake": 0.02},
    # The owner's own domain says who they are.
    redact_keys=frozenset({"app_domain"}),
    developer_portal="https://developer.tesla.com",
    oauth=OAuth2Endpoints(
        authorize_path=AUTHORIZE_PATH,
        token_path=TOKEN_PATH,
        scopes=SCOPES,
        auth_hosts={"production": AUTH_HOST},
    ),
)

__all__ = ["SPEC", "TeslaClient"]
