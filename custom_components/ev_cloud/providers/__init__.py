"""Provider clients: one sub-package per cloud API, no Home Assistant imports, and their registry.

The registry is the one place that lists providers. Everything outside `providers/` reaches a
provider through its `ProviderSpec`, so adding one is a sub-package, an entry here, a config-flow
branch and its translations.
"""

from __future__ import annotations

from typing import Final

from .base import (
    AccountIdentity,
    AccountProvider,
    ClientConfig,
    ClientCredentialsAccount,
    ClosableProvider,
    CredentialKind,
    KeyPairingProvider,
    OAuth2Endpoints,
    ProviderSpec,
    PushedCommand,
    PushedConnection,
    PushedState,
    PushEvent,
    PushReceiver,
    VehicleProvider,
)
from .tesla import SPEC as TESLA
from .volteras import SPEC as VOLTERAS
from .volvo import SPEC as VOLVO

PROVIDERS: Final[dict[str, ProviderSpec]] = {spec.name: spec for spec in (VOLTERAS, TESLA, VOLVO)}


def get_provider(name: str) -> ProviderSpec:
    """The provider an entry was made for."""
    return PROVIDERS[name]


__all__ = [
    "PROVIDERS",
    "AccountIdentity",
    "AccountProvider",
    "ClientConfig",
    "ClientCredentialsAccount",
    "ClosableProvider",
    "CredentialKind",
    "KeyPairingProvider",
    "OAuth2Endpoints",
    "ProviderSpec",
    "PushEvent",
    "PushReceiver",
    "PushedCommand",
    "PushedConnection",
    "PushedState",
    "VehicleProvider",
    "get_provider",
]
