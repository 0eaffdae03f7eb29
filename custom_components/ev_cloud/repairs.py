"""Fix flows of the fixable repairs.

A car the cloud no longer shares: the flow sends the browser to the same consent link the config
flow uses; when the car maker account is connected again, the entry re-reads its cars and the
repair clears itself with the car's next successful read.

A developer app the provider no longer knows (Tesla's 412): the flow registers the app's domain
again, as the config flow's partner step does, and reloads the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError

from .consent import async_consent_link
from .const import CONF_APP_DOMAIN, DOMAIN
from .coordinator import app_issue_id
from .providers import ClientCredentialsAccount, KeyPairingProvider
from .providers.errors import ProviderError, SetupCheckError
from .runtime import EvCloudConfigEntry


class ReconnectVehicleFlow(RepairsFlow):
    """Connect the car maker account again, then read the cars again."""

    def __init__(self, entry_id: str, vehicle: str) -> None:
        """Remember which entry and car the repair is about."""
        self._entry_id = entry_id
        self._vehicle = vehicle
        self._nonce: str | None = None
        self._url = ""
        self._account_id: str | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Say what will happen."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """On submit, open the consent page."""
        if user_input is None:
            return self.async_show_form(
                step_id="confirm", description_placeholders={"vehicle": self._vehicle}
            )
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        client = cast("ClientCredentialsAccount", entry.runtime_data.client)
        try:
            self._url, self._nonce = await async_consent_link(
                self.hass, client, self.flow_id, repair=True
            )
        except NoURLAvailableError:
            return self.async_abort(reason="no_url_available")
        except ProviderError:
            return self.async_abort(reason="cannot_connect")
        return self._async_show_consent()

    def _async_show_consent(self) -> RepairsFlowResult:
        return self.async_external_step(
            step_id="consent", url=self._url, description_placeholders={"vehicle": self._vehicle}
        )

    async def async_step_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Back from the consent page (only the return we sent counts)."""
        if user_input is None or user_input.get("nonce") != self._nonce:
            return self._async_show_consent()
        self._account_id = user_input.get("account_id")
        return self.async_external_step_done(next_step_id="reconnected")

    async def async_step_reconnected(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Connected: read the cars again now, so the car comes back without waiting."""
        if not self._account_id:
            return self.async_abort(reason="consent_failed")
        if (entry := self._entry()) is not None:
            await self.hass.config_entries.async_reload(entry.entry_id)
        return self.async_create_entry(data={})

    def _entry(self) -> EvCloudConfigEntry | None:
        return _loaded_entry(self.hass, self._entry_id)


class RegisterAppFlow(RepairsFlow):
    """Register the developer app's domain with the provider again, then read the cars again."""

    def __init__(self, entry_id: str) -> None:
        """Remember which entry the repair is about."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Say what will happen."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """On submit, register; a refusal is shown with the provider's own words."""
        entry = _loaded_entry(self.hass, self._entry_id)
        if entry is None or not isinstance(entry.runtime_data.client, KeyPairingProvider):
            return self.async_abort(reason="entry_not_loaded")
        domain = str(entry.data.get(CONF_APP_DOMAIN, ""))
        placeholders = {"domain": domain, "detail": ""}
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await entry.runtime_data.client.async_register_partner(domain)
            except SetupCheckError as err:
                errors["base"] = err.code or "partner_registration_failed"
                if err.detail:
                    placeholders["detail"] = f"\n\nTesla said: {err.detail}"
            except ProviderError:
                errors["base"] = "cannot_connect"
            else:
                ir.async_delete_issue(self.hass, DOMAIN, app_issue_id(entry))
                await self.hass.config_entries.async_reload(entry.entry_id)
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm", description_placeholders=placeholders, errors=errors
        )


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> EvCloudConfigEntry | None:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    return cast("EvCloudConfigEntry", entry)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: Mapping[str, Any] | None
) -> RepairsFlow:
    """The fix flow of a fixable EV Cloud repair: register the app, or reconnect a car."""
    data = data or {}
    if data.get("fix") == "register_app":
        return RegisterAppFlow(str(data.get("entry_id", "")))
    return ReconnectVehicleFlow(str(data.get("entry_id", "")), str(data.get("vehicle", "")))
