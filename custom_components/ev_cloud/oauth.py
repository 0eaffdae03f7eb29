"""OAuth 2.0 authorization code for providers that sign the user in (Tesla, Volvo).

Home Assistant's application-credentials store is keyed by integration domain and cannot say
which car maker or environment a credential is for, so each entry registers its own
implementation, built from the developer app and environment stored in the entry, under a domain
of its own. Home Assistant's `OAuth2Session` then refreshes tokens one at a time and persists each
new (single-use) refresh token before it is used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import ClientError, ClientSession
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import OAuth2TokenRequestBaseError, OAuth2TokenRequestReauthError
from homeassistant.helpers.config_entry_oauth2_flow import (
    LocalOAuth2Implementation,
    LocalOAuth2ImplementationWithPkce,
    OAuth2Session,
    async_register_implementation,
)

from .const import CONF_ENVIRONMENT, DOMAIN
from .providers import CredentialKind, ProviderSpec, VehicleProvider
from .providers.errors import AuthenticationError, TransientError
from .runtime import base_url, create_client, provider_spec


def implementation_domain(spec: ProviderSpec, data: Mapping[str, Any]) -> str:
    """One implementation per provider, developer app and environment."""
    environment = data.get(CONF_ENVIRONMENT, spec.default_environment)
    return f"{DOMAIN}_{spec.name}_{environment}_{data[CONF_CLIENT_ID]}"


def async_register(
    hass: HomeAssistant, spec: ProviderSpec, data: Mapping[str, Any]
) -> LocalOAuth2Implementation:
    """Build the implementation for these app credentials and register it with Home Assistant."""
    assert spec.oauth is not None
    environment = data.get(CONF_ENVIRONMENT, spec.default_environment)
    authorize_url, token_url = spec.oauth.urls(environment, base_url(spec, data))
    cls = LocalOAuth2ImplementationWithPkce if spec.oauth.pkce else LocalOAuth2Implementation
    implementation = cls(
        hass,
        implementation_domain(spec, data),
        data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        authorize_url=authorize_url,
        token_url=token_url,
    )
    async_register_implementation(hass, DOMAIN, implementation)
    return implementation


def create_entry_client(
    hass: HomeAssistant, entry: ConfigEntry[Any], session: ClientSession | None = None
) -> VehicleProvider:
    """The provider client for a stored entry; OAuth providers get their token from the entry."""
    spec = provider_spec(entry.data)
    if spec.credential_kind is not CredentialKind.OAUTH2_CODE:
        return create_client(hass, entry.data, session=session)
    access_token, refresh_access_token = async_token_functions(hass, entry, spec)
    return create_client(hass, entry.data, access_token, refresh_access_token, session=session)


def async_token_functions(
    hass: HomeAssistant, entry: ConfigEntry[Any], spec: ProviderSpec
) -> tuple[Callable[[], Awaitable[str]], Callable[[str], Awaitable[str]]]:
    """A valid access token, refreshed (once at a time) when needed; and a forced refresh.

    Both go through one `OAuth2Session`, whose lock keeps two refreshes from racing for a
    single-use refresh token.
    """
    session = OAuth2Session(hass, entry, async_register(hass, spec, entry.data))

    async def access_token() -> str:
        try:
            await session.async_ensure_token_valid()
        except OAuth2TokenRequestReauthError as err:
            # The token endpoint refused the refresh token: only signing in again helps.
            raise AuthenticationError("The refresh token was refused") from err
        except (OAuth2TokenRequestBaseError, ClientError, TimeoutError) as err:
            raise TransientError("The token endpoint could not be reached") from err
        return str(session.token["access_token"])

    async def refresh_access_token(refused: str) -> str:
        # Marked expired only while it is still the refused one: callers that met the same
        # refusal together refresh once, the others get the token the first one fetched.
        if session.token["access_token"] == refused:
            hass.config_entries.async_update_entry(
                entry, data={**entry.data, "token": {**session.token, "expires_at": 0}}
            )
        return await access_token()

    return access_token, refresh_access_token
