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
