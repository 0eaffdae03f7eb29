"""Config flow: provider → credentials → (consent link) → vehicles; reauth, reconfigure, options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.http import current_request
from homeassistant.helpers.network import NoURLAvailableError, get_url
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

from .consent import CALLBACK_PATH, async_get_consent_view
from .const import (
    CONF_ACTIVE_INTERVAL,
    CONF_ENVIRONMENT,
    CONF_EXCLUDED_VEHICLES,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    CONF_PROVIDER,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DEFAULT_PLUGGED_INTERVAL,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
    ENVIRONMENT_PRODUCTION,
    ENVIRONMENT_SANDBOX,
    LOGGER,
)
from .model import ProviderName, VehicleInfo
from .providers.errors import AuthenticationError, ProviderError
from .providers.volteras import VolterasClient
from .runtime import EvCloudConfigEntry, create_client

CONF_VEHICLES = "vehicles"
# The header Home Assistant's frontend sends with the URL the user reached it at.
HEADER_FRONTEND_BASE = "HA-Frontend-Base"

PROVIDER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_PROVIDER, default=ProviderName.VOLTERAS.value): SelectSelector(
            SelectSelectorConfig(
                options=[provider.value for provider in ProviderName],
                translation_key=CONF_PROVIDER,
                mode=SelectSelectorMode.LIST,
            )
        )
    }
)


def _credentials_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_CLIENT_ID, default=defaults.get(CONF_CLIENT_ID, "")): str,
            vol.Required(CONF_CLIENT_SECRET): TextSelector(
                TextSelectorConfig(type=TextSelectorType.PASSWORD)
            ),
            vol.Required(
                CONF_ENVIRONMENT, default=defaults.get(CONF_ENVIRONMENT, ENVIRONMENT_PRODUCTION)
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[ENVIRONMENT_PRODUCTION, ENVIRONMENT_SANDBOX, ENVIRONMENT_CUSTOM],
                    translation_key=CONF_ENVIRONMENT,
                )
            ),
            vol.Optional(CONF_URL, description={"suggested_value": defaults.get(CONF_URL)}): str,
        }
    )


def _credentials_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only what the entry needs; the URL only for a custom environment."""
    data = {
        CONF_PROVIDER: ProviderName.VOLTERAS.value,
        CONF_CLIENT_ID: user_input[CONF_CLIENT_ID].strip(),
        CONF_CLIENT_SECRET: user_input[CONF_CLIENT_SECRET],
        CONF_ENVIRONMENT: user_input[CONF_ENVIRONMENT],
    }
    if user_input[CONF_ENVIRONMENT] == ENVIRONMENT_CUSTOM:
        data[CONF_URL] = user_input.get(CONF_URL, "").strip().rstrip("/")
    return data


def _url_error(data: Mapping[str, Any]) -> str | None:
    if data[CONF_ENVIRONMENT] != ENVIRONMENT_CUSTOM:
        return None
    url = URL(data.get(CONF_URL, ""))
    if url.scheme not in ("http", "https") or not url.host:
        return "invalid_url"
    return None


class EvCloudConfigFlow(ConfigFlow, domain=DOMAIN):
    """Connects a provider account and picks the vehicles to show."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Nothing known yet."""
        self._data: dict[str, Any] = {}
        self._client: VolterasClient | None = None
        self._vehicles: list[VehicleInfo] = []
        self._consent_nonce: str | None = None
        self._consent_url = ""
        self._consent_result: Mapping[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EvCloudConfigEntry) -> EvCloudOptionsFlow:
        """Polling options."""
        return EvCloudOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the cloud the car is reached through."""
        if user_input is not None:
            return await self.async_step_volteras()
        return self.async_show_form(step_id="user", data_schema=PROVIDER_SCHEMA)

    async def async_step_volteras(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Volteras client credentials and environment, checked before anything is created."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_check(_credentials_data(user_input))
            if not errors:
                self._abort_if_unique_id_configured()
                self._data = data
                return await self._async_step_after_login()
        return self.async_show_form(
            step_id="volteras",
            data_schema=self.add_suggested_values_to_schema(
                _credentials_schema(user_input or {}), user_input or {}
            ),
            errors=errors,
        )

    async def _async_check(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The data and the form errors; when valid, the flow's unique id is the organisation."""
        organization_id, error = await self._async_validate(data)
        if error:
            return data, {CONF_URL if error == "invalid_url" else "base": error}
        await self.async_set_unique_id(organization_id)
        return data, {}

    async def _async_validate(self, data: Mapping[str, Any]) -> tuple[str, str | None]:
        """The organisation id for these credentials, or a form error key."""
        if error := _url_error(data):
            return "", error
        client = create_client(self.hass, data)
        try:
            organization_id = await client.async_test_token()
        except AuthenticationError:
            return "", "invalid_auth"
        except ProviderError:
            return "", "cannot_connect"
        except Exception:  # noqa: BLE001 - a form error beats a stack trace in the UI
            LOGGER.exception("Unexpected error while checking Volteras credentials")
            return "", "unknown"
        self._client = client
        return organization_id, None

    async def _async_step_after_login(self) -> ConfigFlowResult:
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

    async def _async_load_vehicles(self) -> bool:
        assert self._client is not None
        try:
            self._vehicles = await self._client.async_get_vehicles()
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
        view = async_get_consent_view(self.hass)
        state, self._consent_nonce = view.issue_state(self.flow_id)
        try:
            return_url = f"{self._base_url()}{CALLBACK_PATH}?{urlencode({'state': state})}"
        except NoURLAvailableError:
            return self.async_abort(reason="no_url_available")
        try:
            authentication_url = await self._client.async_connect_account(return_url)
        except ProviderError:
            return self.async_abort(reason="cannot_connect")
        self._consent_url = authentication_url
        return self.async_external_step(step_id="consent", url=authentication_url)

    def _base_url(self) -> str:
        if (request := current_request.get()) is not None and (
            base := request.headers.get(HEADER_FRONTEND_BASE)
        ):
            return base.rstrip("/")
        return get_url(self.hass, prefer_external=True)

    async def async_step_consent_finished(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Back from the consent page: on success, show the vehicles (or finish a reconfigure)."""
        if self._consent_result.get("result") != "success":
            return self.async_abort(reason="consent_failed")
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(self._get_reconfigure_entry())
        if not await self._async_load_vehicles():
            return self.async_abort(reason="cannot_connect")
        if not self._vehicles:
            return self.async_abort(reason="no_vehicles")
        return await self.async_step_vehicles()

    async def async_step_vehicles(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the vehicles to add; vehicles connected later are added automatically."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if (excluded := self._excluded(user_input)) is not None:
                return self.async_create_entry(
                    title="Volteras", data={**self._data, CONF_EXCLUDED_VEHICLES: excluded}
                )
            errors["base"] = "no_vehicles_selected"
        return self._show_vehicles("vehicles", {v.id for v in self._vehicles}, errors)

    def _excluded(self, user_input: Mapping[str, Any]) -> list[str] | None:
        """The vehicles left out, or None when nothing was chosen."""
        chosen = set(user_input[CONF_VEHICLES])
        if not chosen:
            return None
        return sorted(v.id for v in self._vehicles if v.id not in chosen)

    def _show_vehicles(
        self, step_id: str, selected: set[str], errors: dict[str, str]
    ) -> ConfigFlowResult:
        options = [
            SelectOptionDict(value=vehicle.id, label=_vehicle_label(vehicle))
            for vehicle in self._vehicles
        ]
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_VEHICLES, default=[v.id for v in self._vehicles if v.id in selected]
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=options, multiple=True, mode=SelectSelectorMode.LIST
                    )
                )
            }
        )
        return self.async_show_form(step_id=step_id, data_schema=schema, errors=errors)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The stored secret stopped working."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a working client id and secret for the same organisation."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_check(
                {**entry.data, **_credentials_data({**entry.data, **user_input})}
            )
            if not errors:
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(entry, data=data)
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID, default=entry.data[CONF_CLIENT_ID]): str,
                vol.Required(CONF_CLIENT_SECRET): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.PASSWORD)
                ),
            }
        )
        return self.async_show_form(step_id="reauth_confirm", data_schema=schema, errors=errors)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change credentials or environment, or connect another vehicle."""
        return self.async_show_menu(
            step_id="reconfigure",
            menu_options=[
                "reconfigure_credentials",
                "reconfigure_vehicles",
                "reconfigure_consent",
            ],
        )

    async def async_step_reconfigure_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """New client id, secret or environment for the same organisation."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._async_check(_credentials_data(user_input))
            if not errors:
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                excluded = entry.data.get(CONF_EXCLUDED_VEHICLES, [])
                return self.async_update_reload_and_abort(
                    entry, data={**data, CONF_EXCLUDED_VEHICLES: excluded}
                )
        defaults = user_input or entry.data
        return self.async_show_form(
            step_id="reconfigure_credentials",
            data_schema=_credentials_schema(defaults),
            errors=errors,
        )

    async def async_step_reconfigure_vehicles(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose again which of the organisation's vehicles to show."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is None:
            self._client = create_client(self.hass, entry.data)
            if not await self._async_load_vehicles():
                return self.async_abort(reason="cannot_connect")
        elif (excluded := self._excluded(user_input)) is not None:
            return self.async_update_reload_and_abort(
                entry, data_updates={CONF_EXCLUDED_VEHICLES: excluded}
            )
        else:
            errors["base"] = "no_vehicles_selected"
        hidden = set(entry.data.get(CONF_EXCLUDED_VEHICLES, []))
        shown = {v.id for v in self._vehicles if v.id not in hidden}
        return self._show_vehicles("reconfigure_vehicles", shown, errors)

    async def async_step_reconfigure_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect one more vehicle to the configured organisation."""
        entry = self._get_reconfigure_entry()
        self._client = create_client(self.hass, entry.data)
        return await self.async_step_consent()


def _vehicle_label(vehicle: VehicleInfo) -> str:
    details = " ".join(part for part in (vehicle.model_year, vehicle.make.title()) if part)
    label = vehicle.display_name
    return f"{label} ({details})" if details and details not in label else label


class EvCloudOptionsFlow(OptionsFlowWithReload):
    """How often to poll in each situation."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Three polling paces, in seconds."""
        if user_input is not None:
            return self.async_create_entry(
                data={key: int(value) for key, value in user_input.items()}
            )
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
        return self.async_show_form(step_id="init", data_schema=schema)
