"""What every provider offers the integration, and how the registry describes a provider."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import aiohttp

from ..model import (
    Capability,
    Command,
    CommandExecution,
    CommandStatus,
    FailureReason,
    VehicleInfo,
    VehicleState,
)


class VehicleProvider(Protocol):
    """What the integration needs from a cloud API to read and command vehicles."""

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        """Return every vehicle the credentials can see."""

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        """Read the vehicle's latest state without waking it."""

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        """Start a command; asynchronous providers answer PENDING."""

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        """Read a pending command's progress."""


@dataclass(frozen=True, kw_only=True)
class PushedState:
    """A provider pushed a vehicle's new readings."""

    vehicle_id: str
    state: VehicleState


@dataclass(frozen=True, kw_only=True)
class PushedCommand:
    """A provider pushed the new status of a command execution."""

    vehicle_id: str
    execution_id: str
    status: CommandStatus
    failed_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class PushedConnection:
    """A vehicle joined or left the account."""

    vehicle_id: str
    connected: bool


type PushEvent = PushedState | PushedCommand | PushedConnection


class PushReceiver(Protocol):
    """Checks and reads the provider's signed push deliveries (webhooks)."""

    counts: Counter[str]

    def receive(self, headers: Mapping[str, str], body: bytes) -> PushEvent:
        """The delivery's event; `PushRejectedError` when it must not be acted on."""


@dataclass(frozen=True, kw_only=True)
class AccountIdentity:
    """Who the credentials belong to: the entry's unique id and a title a person recognises."""

    unique_id: str
    title: str


@runtime_checkable
class KeyPairingProvider(Protocol):
    """A provider whose cars must be paired with the integration's own command key.

    The owner hosts the public key on their developer app's domain, the integration registers
    that domain with the provider, and the owner pairs the key with each car through a link.
    Each check raises `SetupCheckError` naming exactly what is missing.
    """

    @property
    def public_key_pem(self) -> str | None:
        """The public key the owner hosts and pairs, once the key exists."""

    async def async_load_public_key(self) -> str:
        """Create the key pair on first use (kept outside the entry); the public key, PEM."""

    def public_key_url(self, domain: str) -> str:
        """Where the provider fetches the public key from."""

    def pairing_link(self, domain: str) -> str:
        """The link that pairs the key with a car (opened on the owner's phone)."""

    async def async_check_public_key(self, domain: str) -> None:
        """The key file is reachable at `public_key_url` and is our key."""

    async def async_register_partner(self, domain: str) -> None:
        """Register the domain (and so the key) with the provider for the account's region."""


@runtime_checkable
class ClosableProvider(Protocol):
    """A provider holding work of its own (a command it still waits on) to stop on unload."""

    async def async_close(self) -> None:
        """Stop waiting; nothing is sent after this."""


class AccountProvider(VehicleProvider, Protocol):
    """A provider that can say whose account its credentials or token open."""

    async def async_identify(self) -> AccountIdentity:
        """Check the credentials; say which account they belong to."""


class ClientCredentialsAccount(AccountProvider, Protocol):
    """A provider reached with client credentials, whose cars are connected through a consent link."""

    async def async_connect_account(self, return_url: str) -> str:
        """A consent link that brings the browser back to `return_url` with the result."""

    async def async_get_account_vehicles(self, account_id: str) -> list[VehicleInfo]:
        """The vehicles one connected car-maker account brought."""


class CredentialKind(StrEnum):
    """How a provider is signed in to."""

    CLIENT_CREDENTIALS = "client_credentials"
    OAUTH2_CODE = "oauth2_code"


@dataclass(frozen=True, kw_only=True)
class OAuth2Endpoints:
    """Where an authorization-code provider signs the user in.

    Paths are relative to the auth host of the environment: its entry in `auth_hosts`, else the
    API root (a custom URL such as the simulator serves both).
    """

    authorize_path: str
    token_path: str
    scopes: tuple[str, ...]
    pkce: bool = False
    auth_hosts: Mapping[str, str] = field(default_factory=dict)

    def urls(self, environment: str, base_url: str) -> tuple[str, str]:
        """The authorize and token URLs for an environment whose API root is `base_url`."""
        host = self.auth_hosts.get(environment, base_url).rstrip("/")
        return f"{host}{self.authorize_path}", f"{host}{self.token_path}"


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Everything a provider client is built from; the Home Assistant side fills it in."""

    base_url: str
    client_id: str
    client_secret: str
    # OAuth 2.0 code-flow providers get their token from Home Assistant's OAuth2 session.
    access_token: Callable[[], Awaitable[str]] | None = None
    # Refresh now, because the provider refused this (unexpired) access token; the new one.
    refresh_access_token: Callable[[str], Awaitable[str]] | None = None
    extra: Mapping[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """One cloud API as the integration sees it; the registry holds one per provider."""

    name: str
    credential_kind: CredentialKind
    # Environment name → API root; "custom" (a URL the user types, e.g. the simulator) is
    # always possible on top of these.
    environments: Mapping[str, str]
    create_client: Callable[[aiohttp.ClientSession, ClientConfig], VehicleProvider]
    # The most any of its vehicles can do; each vehicle's own set is a subset.
    capabilities: frozenset[Capability]
    map_failure: Callable[[str | None], FailureReason]
    # Entry-data and payload keys diagnostics must hide, beyond the shared ones.
    redact_keys: frozenset[str] = frozenset()
    # Seconds the provider itself keeps a command pending before it gives up.
    command_timeout: float = 300.0
    # Seconds a climate session lasts when the provider cannot say whether it still runs.
    climate_session: float | None = None
    oauth: OAuth2Endpoints | None = None
    # Client-credentials providers whose cars are connected through a consent link.
    supports_consent: bool = False
    # Providers whose cars need the integration's own key (hosted on the app's domain, paired).
    key_pairing: bool = False
    # Where an OAuth provider's developer apps are created.
    developer_portal: str = ""
    # Providers whose every call also carries the developer application's API key (Volvo).
    api_key: bool = False
    # What an HTTP request (method, path) is, for the usage sensor: "data", "command", "wake",
    # "token", "vehicle_list", "command_follow_up", "state_check" or "other".
    request_kind: Callable[[str, str], str] = lambda _method, _path: "other"
    # Dollars per request kind, for providers that bill per request (Tesla).
    request_prices: Mapping[str, float] = field(default_factory=dict)
    # Providers that push changes (webhooks): a receiver for the signing secret the user pastes;
    # it raises ValueError for a secret that cannot be one.
    push_receiver: Callable[[str], PushReceiver] | None = None

    @property
    def default_environment(self) -> str:
        """The first environment listed: production."""
        return next(iter(self.environments))
