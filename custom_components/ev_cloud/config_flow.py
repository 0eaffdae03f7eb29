"""Config flow: provider → credentials → (consent link) → vehicles; reauth, reconfigure, options.

One flow class for every provider. Client-credentials providers (Volteras) take a client id and
secret and connect cars through a consent link; OAuth 2.0 code-flow providers take the user's own
developer app, whose implementation is registered under its own domain (Home Assistant's
application-credentials store cannot tell two vendors of one integration apart) before the
standard OAuth2 steps run.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
import re
from typing import Any, cast

from homeassistant.components import webhook
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_URL,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import callback
from homeassistant.helpers.config_entry_oauth2_flow import (
    AbstractOAuth2FlowHandler,
    async_get_redirect_uri,
)
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol
from yarl import URL

from .consent import async_consent_link
from .const import (
    CONF_ACTIVE_INTERVAL,
    CONF_APP_DOMAIN,
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    CONF_PROVIDER,
    CONF_WEBHOOK_SECRET,
    CONFIG_VERSION,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DEFAULT_PLUGGED_INTERVAL,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    LOGGER,
)
from .model import VehicleInfo
from .oauth import async_register, create_entry_client
from .providers import (
    PROVIDERS,
    AccountProvider,
    ClientCredentialsAccount,
    CredentialKind,
    KeyPairingProvider,
    ProviderSpec,
    get_provider,
)
from .providers.errors import (
    ApiKeyRejectedError,
    AuthenticationError,
    PermissionDeniedError,
    ProviderError,
    SetupCheckError,
)
from .push import async_webhook_url
from .runtime import EvCloudConfigEntry, create_client

CONF_VEHICLES = "vehicles"
CONF_PAIR_LATER = "pair_later"
# Why a provider will not connect another car, in words the user can act on.
CONSENT_REFUSALS = {
    "DEVICE_LIMIT_REACHED": "device_limit_reached",
    "UNSUPPORTED_OEM": "unsupported_make",
}
# Dot-separated letters, digits and inner hyphens (an IPv4 address matches too).
HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# Keys a step shows again after an error; secrets are typed again, never echoed into a form.
NOT_SUGGESTED = frozenset({CONF_CLIENT_SECRET, CONF_API_KEY, CONF_WEBHOOK_SECRET})


PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


def _provider_schema() -> vol.Schema:
    names = list(PROVIDERS)
    return vol.Schema(
        {
            vol.Required(CONF_PROVIDER, default=names[0]): SelectSelector(
                SelectSelectorConfig(
                    options=names, translation_key=CONF_PROVIDER, mode=SelectSelectorMode.LIST
                )
            )
        }
    )


def _credentials_schema(spec: ProviderSpec, *, with_environment: bool = True) -> vol.Schema:
    fields: dict[Any, Any] = {
        vol.Required(CONF_CLIENT_ID): str,
        vol.Required(CONF_CLIENT_SECRET): PASSWORD,
    }
    if spec.key_pairing:
        fields[vol.Required(CONF_APP_DOMAIN)] = str
    if spec.api_key:
        fields[vol.Required(CONF_API_KEY)] = PASSWORD
    if with_environment:
        fields[vol.Required(CONF_ENVIRONMENT, default=spec.default_environment)] = SelectSelector(
            SelectSelectorConfig(
                options=[*spec.environments, ENVIRONMENT_CUSTOM],
                translation_key=CONF_ENVIRONMENT,
            )
        )
    return vol.Schema(fields)


URL_SCHEMA = vol.Schema({vol.Required(CONF_URL): str})
API_KEY_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): PASSWORD})


def _suggested(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in NOT_SUGGESTED}


def _url_error(url: str) -> str | None:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "invalid_url"
    return None


def _app_domain(text: str) -> str | None:
    """The host (and port) of what the user typed: "https://Ev.Example.com/" → "ev.example.com"."""
    raw = text.strip().lower()
    try:
        url = URL(raw if "://" in raw else f"https://{raw}")
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        return None
    if url.query_string or url.fragment or url.user or not HOSTNAME.fullmatch(url.host):
        return None
    return f"{url.host}:{url.explicit_port}" if url.explicit_port else url.host


def _vehicle_label(vehicle: VehicleInfo) -> str:
    """The name and, when the name does not say it, the model year: "Kia EV6 (2024)"."""
    label = vehicle.display_name
    year = vehicle.model_year
    return f"{label} ({year})" if year and year not in label else label


class EvCloudConfigFlow(AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Connects a provider account and picks the vehicles to show."""

    # The OAuth2 helper refuses to build a flow without it; `domain=` above only registers.
    DOMAIN = DOMAIN
    VERSION = CONFIG_VERSION
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Nothing known yet."""
        super().__init__()
        self._spec: ProviderSpec | None = None
        self._data: dict[str, Any] = {}
        self._title = ""
        self._client: ClientCredentialsAccount | None = None
        self._vehicles: list[VehicleInfo] = []
        self._new_vehicles: set[str] | None = None
        self._consent_nonce: str | None = None
        self._consent_url = ""
        self._consent_result: Mapping[str, Any] = {}
        # OAuth providers with key pairing: the signed-in client during the set-up checks.
        self._keys: KeyPairingProvider | None = None
        self._account: AccountProvider | None = None

    @property
    def logger(self) -> logging.Logger:
        """The integration's logger, for the OAuth2 helper."""
        return LOGGER

    @property
    def spec(self) -> ProviderSpec:
        """The provider this flow is for."""
        assert self._spec is not None
        return self._spec

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EvCloudConfigEntry) -> EvCloudOptionsFlow:
        """Polling options."""
        return EvCloudOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the cloud the car is reached through."""
        if user_input is not None:
            self._spec = get_provider(user_input[CONF_PROVIDER])
            if self._uses_oauth:
                return await self.async_step_oauth_app()
            return await self.async_step_credentials()
        return self.async_show_form(step_id="user", data_schema=_provider_schema())

    @property
    def _uses_oauth(self) -> bool:
        return self.spec.credential_kind is CredentialKind.OAUTH2_CODE

    # Client-credentials branch (Volteras) ------------------------------------------------------

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Client id, secret and environment, checked before anything is created."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = self._credentials_data(user_input)
            if user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
                return await self.async_step_custom_url()
            if not (errors := await self._async_check()):
                return await self._async_step_after_login()
        return self.async_show_form(
            step_id="credentials",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(self.spec), _suggested(user_input or {})
            ),
            errors=errors,
            description_placeholders={"provider": self.spec.name.title()},
        )

    async def async_step_custom_url(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Where a custom environment (such as the local simulator) lives."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].strip().rstrip("/")
            self._data[CONF_URL] = url
            if (error := _url_error(url)) is not None:
                errors[CONF_URL] = error
            elif self._uses_oauth:
                return await self._async_start_oauth()
            elif not (errors := await self._async_check()):
                return await self._async_step_after_login()
            elif errors["base"] == "invalid_auth":
                # The URL answered but refused the credentials: only their own form can fix them.
                return self._async_show_credentials(errors)
        return self.async_show_form(
            step_id="custom_url",
            data_schema=self.add_suggested_values_to_schema(URL_SCHEMA, user_input or {}),
            errors=errors,
        )

    def _async_show_credentials(self, errors: dict[str, str]) -> ConfigFlowResult:
        """The credentials form of this flow again, filled in except for the secret."""
        reconfigure = self.source == SOURCE_RECONFIGURE
        return self.async_show_form(
            step_id="reconfigure_credentials" if reconfigure else "credentials",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(self.spec), _suggested(self._data)
            ),
            errors=errors,
            description_placeholders=None if reconfigure else {"provider": self.spec.name.title()},
        )

    def _credentials_data(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """Keep only what the entry needs."""
        data = {
            CONF_PROVIDER: self.spec.name,
            CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
            CONF_CLIENT_SECRET: user_input[CONF_CLIENT_SECRET],
            CONF_ENVIRONMENT: user_input.get(CONF_ENVIRONMENT, self.spec.default_environment),
        }
        if self.spec.key_pairing:
            data[CONF_APP_DOMAIN] = _app_domain(user_input[CONF_APP_DOMAIN]) or ""
        if self.spec.api_key:
            data[CONF_API_KEY] = user_input[CONF_API_KEY].strip()
        return data

    def _app_errors(self) -> dict[str, str]:
        """Form errors of the developer-app step: only a domain can be malformed."""
        if self.spec.key_pairing and not self._data[CONF_APP_DOMAIN]:
            return {CONF_APP_DOMAIN: "invalid_domain"}
        return {}

    async def _async_check(self) -> dict[str, str]:
        """Form errors for `self._data`; when valid, the flow's unique id is the account."""
        client = cast("ClientCredentialsAccount", create_client(self.hass, self._data))
        try:
            identity = await client.async_identify()
        except AuthenticationError, PermissionDeniedError:
            return {"base": "invalid_auth"}
        except ProviderError:
            return {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - a form error beats a stack trace in the UI
            LOGGER.exception("Unexpected error while checking %s credentials", self.spec.name)
            return {"base": "unknown"}
        self._client = client
        self._title = identity.title
        # An abandoned flow for the same account must not block this one.
        await self.async_set_unique_id(identity.unique_id, raise_on_progress=False)
        if self.source == SOURCE_USER:
            self._abort_if_unique_id_configured()
        return {}

    async def _async_step_after_login(self) -> ConfigFlowResult:
        if self.source == SOURCE_RECONFIGURE:
            return self._async_finish_reconfigure()
        if self.source != SOURCE_USER:
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            return self.async_update_reload_and_abort(
                self._get_reauth_entry(), data_updates=self._data
            )
        if not await self._async_load_vehicles():
            return self.async_abort(reason="cannot_connect")
        if not self._vehicles:
            return await self.async_step_consent()
        return await self.async_step_vehicle_source()

    async def async_step_vehicle_source(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Vehicles exist already: pick from them, or connect another car first."""
        return self.async_show_menu(step_id="vehicle_source", menu_options=["vehicles", "consent"])

    async def _async_load_vehicles(self, account_id: str | None = None) -> bool:
        assert self._client is not None
        try:
            if account_id is None:
                self._vehicles = await self._client.async_get_vehicles()
            else:
                self._vehicles = await self._client.async_get_account_vehicles(account_id)
        except ProviderError:
            return False
        return True

    async def async_step_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Send the browser to the consent link; the callback view brings the answer back."""
        if user_input is None:
            return await self._async_start_consent()
        if user_input.get("nonce") != self._consent_nonce:
            # Not the return we sent the browser on: ignore it and keep waiting for that one.
            return self.async_external_step(step_id="consent", url=self._consent_url)
        self._consent_nonce = None
        self._consent_result = user_input
        return self.async_external_step_done(next_step_id="consent_finished")

    async def _async_start_consent(self) -> ConfigFlowResult:
        assert self._client is not None
        try:
            self._consent_url, self._consent_nonce = await async_consent_link(
                self.hass, self._client, self.flow_id
            )
        except NoURLAvailableError:
            # Our own text: the OAuth2 base class would send this reason to Home Assistant's.
            return self.async_abort(reason="no_url_available", translation_domain=DOMAIN)
        except ProviderError as err:
            if err.code in CONSENT_REFUSALS:
                return self.async_abort(reason=CONSENT_REFUSALS[err.code])
            return self.async_abort(reason="cannot_connect")
        return self.async_external_step(step_id="consent", url=self._consent_url)

    async def async_step_consent_finished(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Back from the consent page: success is a connected account that brought cars."""
        account_id = self._consent_result.get("account_id")
        if not account_id:
            return self.async_abort(reason="consent_failed")
        if not await self._async_load_vehicles(account_id):
            return self.async_abort(reason="cannot_connect")
        if not self._vehicles:
            return self.async_abort(reason="consent_failed")
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(self._get_reconfigure_entry())
        self._new_vehicles = {vehicle.key for vehicle in self._vehicles}
        if not await self._async_load_vehicles():
            return self.async_abort(reason="cannot_connect")
        return await self.async_step_vehicles()

    async def async_step_vehicles(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the vehicles to add; vehicles connected later are added automatically."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if (excluded := self._excluded(user_input)) is not None:
                return self.async_create_entry(
                    title=self._title, data={**self._data, CONF_EXCLUDED_VEHICLES: excluded}
                )
            errors["base"] = "no_vehicles_selected"
        # After a consent, exactly the newly connected cars are ticked.
        selected = self._new_vehicles or {v.key for v in self._vehicles}
        return self._show_vehicles("vehicles", selected, errors)

    def _excluded(self, user_input: Mapping[str, Any]) -> list[str] | None:
        """The vehicles left out, or None when nothing was chosen."""
        chosen = set(user_input[CONF_VEHICLES])
        if not chosen:
            return None
        return sorted(v.key for v in self._vehicles if v.key not in chosen)

    def _show_vehicles(
        self, step_id: str, selected: set[str], errors: dict[str, str]
    ) -> ConfigFlowResult:
        options = [
            SelectOptionDict(value=vehicle.key, label=_vehicle_label(vehicle))
            for vehicle in self._vehicles
        ]
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_VEHICLES, default=[v.key for v in self._vehicles if v.key in selected]
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=options, multiple=True, mode=SelectSelectorMode.LIST
                    )
                )
            }
        )
        return self.async_show_form(step_id=step_id, data_schema=schema, errors=errors)

    # OAuth 2.0 code-flow branch ----------------------------------------------------------------

    async def async_step_oauth_app(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The user's own developer app at the car maker, then its sign-in page."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = self._credentials_data(user_input)
            errors = self._app_errors()
            if not errors and user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
                return await self.async_step_custom_url()
            if not errors:
                return await self._async_start_oauth()
        return self.async_show_form(
            step_id="oauth_app",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(self.spec), _suggested(user_input or self._data)
            ),
            errors=errors,
            description_placeholders={
                "provider": self.spec.name.title(),
                "portal": self.spec.developer_portal,
                "redirect_uri": self._redirect_uri(),
            },
        )

    def _redirect_uri(self) -> str:
        """The callback the developer app must allow; shown so the user can paste it."""
        try:
            return async_get_redirect_uri(self.hass)
        except NoURLAvailableError:
            return "<your Home Assistant URL>/auth/external/callback"

    @property
    def extra_authorize_data(self) -> dict[str, Any]:
        """The scopes the provider's API needs (only OAuth providers get here)."""
        assert self.spec.oauth is not None
        return {"scope": " ".join(self.spec.oauth.scopes)}

    async def _async_start_oauth(self) -> ConfigFlowResult:
        implementation = async_register(self.hass, self.spec, self._data)
        return await self.async_step_pick_implementation({"implementation": implementation.domain})

    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Signed in: find whose account it is, then (new entries) choose the vehicles."""
        self._data.update(data)
        client = self._signed_in_client()
        try:
            identity = await client.async_identify()
            await self.async_set_unique_id(identity.unique_id, raise_on_progress=False)
            if self.source != SOURCE_USER:
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                entry = self._get_reauth_or_reconfigure_entry()
                excluded = entry.data.get(CONF_EXCLUDED_VEHICLES, [])
                return self.async_update_reload_and_abort(
                    entry, data={**self._data, CONF_EXCLUDED_VEHICLES: excluded}
                )
            self._abort_if_unique_id_configured()
        except AuthenticationError, PermissionDeniedError:
            return self.async_abort(reason="oauth_unauthorized")
        except ProviderError:
            return self.async_abort(reason="cannot_connect")
        self._title = identity.title
        self._account = client
        if self.spec.key_pairing and isinstance(client, KeyPairingProvider):
            self._keys = client
            return await self.async_step_public_key()
        return await self._async_step_oauth_vehicles()

    def _signed_in_client(self) -> AccountProvider:
        """A client on the token the sign-in just gave (and the API key typed so far)."""
        token = str(self._data["token"]["access_token"])

        async def access_token() -> str:
            return token

        return cast("AccountProvider", create_client(self.hass, self._data, access_token))

    async def _async_step_oauth_vehicles(self) -> ConfigFlowResult:
        """The signed-in account's cars; cars still missing the key are paired first."""
        assert self._account is not None
        try:
            self._vehicles = await self._account.async_get_vehicles()
        except ApiKeyRejectedError:
            return await self.async_step_api_key()
        except AuthenticationError, PermissionDeniedError:
            return self.async_abort(reason="oauth_unauthorized")
        except ProviderError:
            return self.async_abort(reason="cannot_connect")
        if not self._vehicles:
            return self.async_abort(reason="no_vehicles")
        if any(vehicle.key_paired is False for vehicle in self._vehicles):
            return await self.async_step_pair_key()
        return await self.async_step_vehicles()

    async def async_step_api_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The application's API key was refused: a new one, checked against the car list."""
        if user_input is not None:
            self._data[CONF_API_KEY] = user_input[CONF_API_KEY].strip()
            self._account = self._signed_in_client()
            return await self._async_step_oauth_vehicles()
        return self.async_show_form(
            step_id="api_key",
            data_schema=API_KEY_SCHEMA,
            # Only ever shown because the key was refused.
            errors={"base": "invalid_api_key"},
            description_placeholders={
                "provider": self.spec.name.title(),
                "portal": self.spec.developer_portal,
            },
        )

    # Key pairing: host the public key, register the domain, pair the cars --------------------

    @property
    def _domain(self) -> str:
        return str(self._data[CONF_APP_DOMAIN])

    async def async_step_public_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the public key and where to host it; check it is there before going on."""
        assert self._keys is not None
        errors: dict[str, str] = {}
        detail = ""
        try:
            public_key = await self._keys.async_load_public_key()
        except ProviderError:
            return self.async_abort(reason="key_unavailable")
        if user_input is not None:
            try:
                await self._keys.async_check_public_key(self._domain)
            except SetupCheckError as err:
                errors["base"], detail = str(err.code), err.detail
            else:
                return await self.async_step_partner()
        return self.async_show_form(
            step_id="public_key",
            errors=errors,
            description_placeholders={
                "public_key": public_key,
                "url": self._keys.public_key_url(self._domain),
                "detail": detail,
            },
        )

    async def async_step_partner(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Register the app's domain with the provider; on a refusal, say why and try again."""
        assert self._keys is not None
        errors: dict[str, str] = {}
        detail = ""
        try:
            await self._keys.async_register_partner(self._domain)
        except SetupCheckError as err:
            errors["base"], detail = str(err.code), err.detail
        except ProviderError:
            errors["base"] = "cannot_connect"
        else:
            return await self._async_step_oauth_vehicles()
        return self.async_show_form(
            step_id="partner",
            errors=errors,
            description_placeholders={"domain": self._domain, "detail": detail},
        )

    async def async_step_pair_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The pairing link for cars that take only signed commands; checked on submit."""
        assert self._keys is not None
        assert self._account is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input.get(CONF_PAIR_LATER):
                return await self.async_step_vehicles()
            try:
                self._vehicles = await self._account.async_get_vehicles()
            except ProviderError:
                errors["base"] = "cannot_connect"
            else:
                if not any(vehicle.key_paired is False for vehicle in self._vehicles):
                    return await self.async_step_vehicles()
                errors["base"] = "key_not_paired"
        unpaired = [_vehicle_label(v) for v in self._vehicles if v.key_paired is False]
        return self.async_show_form(
            step_id="pair_key",
            data_schema=vol.Schema({vol.Optional(CONF_PAIR_LATER, default=False): bool}),
            errors=errors,
            description_placeholders={
                "pairing_link": self._keys.pairing_link(self._domain),
                "vehicles": ", ".join(unpaired),
            },
        )

    def _get_reauth_or_reconfigure_entry(self) -> EvCloudConfigEntry:
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_entry()
        return self._get_reauth_entry()

    # Reauth, reconfigure --------------------------------------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The stored secret (or, for OAuth providers, the sign-in) stopped working."""
        self._spec = get_provider(entry_data[CONF_PROVIDER])
        if self._uses_oauth:
            return await self.async_step_reauth_oauth()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_oauth(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in to the same account again with the stored developer app."""
        if user_input is None:
            return self.async_show_form(
                step_id="reauth_oauth",
                description_placeholders={"provider": self.spec.name.title()},
            )
        self._data = {k: v for k, v in self._get_reauth_entry().data.items() if k != "token"}
        return await self._async_start_oauth()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a working client id and secret for the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = {**entry.data, **self._credentials_data({**entry.data, **user_input})}
            if not (errors := await self._async_check()):
                return await self._async_step_after_login()
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(self.spec, with_environment=False),
                {CONF_CLIENT_ID: entry.data[CONF_CLIENT_ID]},
            ),
            errors=errors,
            description_placeholders={"provider": self.spec.name.title()},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change credentials or environment, choose vehicles, or connect another one."""
        self._spec = get_provider(self._get_reconfigure_entry().data[CONF_PROVIDER])
        options = ["reconfigure_credentials", "reconfigure_vehicles"]
        if self.spec.supports_consent:
            options.append("reconfigure_consent")
        return self.async_show_menu(step_id="reconfigure", menu_options=options)

    async def async_step_reconfigure_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """New client id, secret or environment for the same account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = self._credentials_data(user_input)
            if not (errors := self._app_errors()):
                if user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
                    return await self.async_step_custom_url()
                if self._uses_oauth:
                    return await self._async_start_oauth()
                if not (errors := await self._async_check()):
                    return self._async_finish_reconfigure()
        return self.async_show_form(
            step_id="reconfigure_credentials",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(self.spec), _suggested(user_input or entry.data)
            ),
            errors=errors,
        )

    def _async_finish_reconfigure(self) -> ConfigFlowResult:
        self._abort_if_unique_id_mismatch(reason="wrong_account")
        entry = self._get_reconfigure_entry()
        excluded = entry.data.get(CONF_EXCLUDED_VEHICLES, [])
        return self.async_update_reload_and_abort(
            entry, data={**self._data, CONF_EXCLUDED_VEHICLES: excluded}
        )

    async def async_step_reconfigure_vehicles(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose again which of the account's vehicles to show."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is None:
            if entry.state is ConfigEntryState.LOADED:
                # The loaded entry's client: a second OAuth session could race it for the
                # single-use refresh token.
                client = entry.runtime_data.client
            else:
                client = create_entry_client(self.hass, entry)
            self._client = cast("ClientCredentialsAccount", client)
            if not await self._async_load_vehicles():
                return self.async_abort(reason="cannot_connect")
        elif (excluded := self._excluded(user_input)) is not None:
            return self.async_update_reload_and_abort(
                entry, data_updates={CONF_EXCLUDED_VEHICLES: excluded}
            )
        else:
            errors["base"] = "no_vehicles_selected"
        hidden = set(entry.data.get(CONF_EXCLUDED_VEHICLES, []))
        shown = {v.key for v in self._vehicles if v.key not in hidden and v.id not in hidden}
        return self._show_vehicles("reconfigure_vehicles", shown, errors)

    async def async_step_reconfigure_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect one more vehicle to the configured account."""
        entry = self._get_reconfigure_entry()
        self._client = cast("ClientCredentialsAccount", create_client(self.hass, entry.data))
        return await self.async_step_consent()


class EvCloudOptionsFlow(OptionsFlowWithReload):
    """How often to poll in each situation, and (providers that push) the webhook's secret."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Three polling paces, in seconds; the webhook signing secret where pushes exist."""
        entry = self.config_entry
        spec = get_provider(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        if user_input is not None:
            options: dict[str, Any] = {
                key: int(value) for key, value in user_input.items() if key != CONF_WEBHOOK_SECRET
            }
            # Left empty: the stored secret stays (it is never shown again).
            secret = str(user_input.get(CONF_WEBHOOK_SECRET, "")).strip()
            secret = secret or entry.options.get(CONF_WEBHOOK_SECRET, "")
            if secret and spec.push_receiver is not None:
                try:
                    spec.push_receiver(secret)
                except ValueError:
                    errors[CONF_WEBHOOK_SECRET] = "invalid_webhook_secret"
                options[CONF_WEBHOOK_SECRET] = secret
            if not errors:
                return self.async_create_entry(data=options)
        schema = self._schema(spec)
        placeholders: dict[str, str] = {}
        if spec.push_receiver is not None:
            placeholders["webhook_url"] = await self._webhook_url()
        return self.async_show_form(
            # Providers that push get the form that also explains the webhook.
            step_id="init" if spec.push_receiver is None else "push",
            data_schema=self.add_suggested_values_to_schema(
                schema, _suggested(user_input or entry.options)
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async_step_push = async_step_init

    async def _webhook_url(self) -> str:
        """The entry's webhook address, making its id on first use."""
        entry = self.config_entry
        if not (webhook_id := entry.data.get(CONF_WEBHOOK_ID)):
            webhook_id = webhook.async_generate_id()
            self.hass.config_entries.async_update_entry(
                entry, data={**entry.data, CONF_WEBHOOK_ID: webhook_id}
            )
        url = await async_webhook_url(self.hass, webhook_id)
        return url or "<set Home Assistant's URL under Settings → System → Network>"

    def _schema(self, spec: ProviderSpec) -> vol.Schema:
        options = self.config_entry.options

        def seconds(minimum: int, maximum: int) -> NumberSelector:
            return NumberSelector(
                NumberSelectorConfig(
                    min=minimum,
                    max=maximum,
                    step=30,
                    unit_of_measurement="s",
                    mode=NumberSelectorMode.BOX,
                )
            )

        schema = vol.Schema(
            {
                vol.Required(
                    CONF_ACTIVE_INTERVAL,
                    default=options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL),
                ): seconds(60, 3600),
                vol.Required(
                    CONF_PLUGGED_INTERVAL,
                    default=options.get(CONF_PLUGGED_INTERVAL, DEFAULT_PLUGGED_INTERVAL),
                ): seconds(120, 7200),
                vol.Required(
                    CONF_IDLE_INTERVAL,
                    default=options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL),
                ): seconds(300, 86400),
            }
        )
        if spec.push_receiver is not None:
            schema = schema.extend({vol.Optional(CONF_WEBHOOK_SECRET): PASSWORD})
        return schema
