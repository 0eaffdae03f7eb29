"""Volteras: an aggregator API for 30+ car makes."""

from __future__ import annotations

import aiohttp

from ...model import Capability
from ..base import ClientConfig, CredentialKind, ProviderSpec
from . import const
from .client import VolterasClient
from .const import BASE_CAPABILITIES, CLIMATE_SESSION, COMMAND_TIMEOUT, PRODUCTION_URL, SANDBOX_URL
from .failures import failure_reason
from .push import VolterasPushReceiver


def _create_client(session: aiohttp.ClientSession, config: ClientConfig) -> VolterasClient:
    return VolterasClient(
        session,
        client_id=config.client_id,
        client_secret=config.client_secret,
        base_url=config.base_url,
        request_timeout=const.REQUEST_TIMEOUT,
    )


def _request_kind(method: str, path: str) -> str:
    """Telemetry reads, command sends and follow-ups, tokens and the vehicle list."""
    if path.endswith("/telemetry"):
        return "data"
    if "/command-execution:" in path:
        return "command"
    if "/command-executions/" in path:
        return "command_follow_up"
    if path.endswith("/token"):
        return "token"
    if path.endswith("/vehicles") or "/accounts/" in path:
        return "vehicle_list"
    return "other"


SPEC = ProviderSpec(
    name="volteras",
    credential_kind=CredentialKind.CLIENT_CREDENTIALS,
    environments={"production": PRODUCTION_URL, "sandbox": SANDBOX_URL},
    create_client=_create_client,
    capabilities=BASE_CAPABILITIES | {Capability.CHARGE_PORT_CONTROL},
    map_failure=failure_reason,
    command_timeout=COMMAND_TIMEOUT,
    climate_session=CLIMATE_SESSION,
    supports_consent=True,
    request_kind=_request_kind,
    push_receiver=VolterasPushReceiver,
)

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "SPEC", "VolterasClient"]
