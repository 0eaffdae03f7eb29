"""The return leg of Volteras's consent link.

The browser comes back from Volteras to `returnUrl?result=…&accountId=…`. Anyone could call that
URL, so it is protected the way Home Assistant protects its own OAuth2 callback: the `state` in it
is a JWT signed with a key that lives only in this process, names the flow, expires, and carries a
nonce that can be used once. A forged, expired or replayed return is refused and never reaches a flow.
"""

from __future__ import annotations

from http import HTTPStatus
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowManager, UnknownFlow
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView, current_request
from homeassistant.helpers.network import get_url
from homeassistant.util.hass_dict import HassKey
import jwt

from .providers import ClientCredentialsAccount

CALLBACK_PATH = "/api/ev_cloud/consent/callback"
# The header Home Assistant's frontend sends with the URL the user reached it at.
HEADER_FRONTEND_BASE = "HA-Frontend-Base"
# Volteras's link lives one hour; the state cannot outlive it by much.
STATE_LIFETIME = 3600 + 300
_VIEW: HassKey[ConsentCallbackView] = HassKey("ev_cloud_consent_view")

DONE_PAGE = (
    "<!DOCTYPE html><html><head><title>EV Cloud</title></head><body>"
    "<p>Done. You can close this window and return to Home Assistant.</p>"
    "<script>window.close()</script></body></html>"
)


class ConsentCallbackView(HomeAssistantView):
    """Receives the browser back from the consent flow and resumes the config flow."""

    url = CALLBACK_PATH
    name = "api:ev_cloud:consent"
    requires_auth = False

    def __init__(self) -> None:
        """Make a signing key that never leaves this process."""
        self._key = secrets.token_hex(32)
        # nonce → (flow id, expiry); abandoned set-ups leave entries that expire with their state.
        self._nonces: dict[str, tuple[str, int]] = {}
        # Redeemed nonces → expiry: reloading the finished tab shows "done" again, not an error.
        self._redeemed: dict[str, int] = {}

    def issue_state(self, flow_id: str, *, repair: bool = False) -> tuple[str, str]:
        """A signed, single-use state for one flow, and the nonce the flow should expect.

        `repair`: the flow is a repair's fix flow, not a config flow.
        """
        now = int(time.time())
        self._nonces = {n: v for n, v in self._nonces.items() if v[1] > now}
        nonce = secrets.token_urlsafe(16)
        expires = now + STATE_LIFETIME
        self._nonces[nonce] = (flow_id, expires)
        claims = {"flow_id": flow_id, "nonce": nonce, "exp": expires, "repair": repair}
        return jwt.encode(claims, self._key, algorithm="HS256"), nonce

    def redeem_state(self, state: str) -> dict[str, Any] | None:
        """The state's claims if it is ours, unexpired and unused; it cannot be redeemed twice."""
        claims = self._decode(state)
        if claims is None:
            return None
        issued = self._nonces.pop(claims.get("nonce", ""), None)
        if issued is None or issued[0] != claims.get("flow_id"):
            return None
        now = int(time.time())
        self._redeemed = {n: exp for n, exp in self._redeemed.items() if exp > now}
        self._redeemed[claims["nonce"]] = issued[1]
        return claims

    def was_redeemed(self, state: str) -> bool:
        """Whether this genuine state was already used: the user reloaded the finished tab."""
        claims = self._decode(state)
        return claims is not None and claims.get("nonce") in self._redeemed

    def _decode(self, state: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(state, self._key, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None
        return claims

    async def get(self, request: web.Request) -> web.Response:
        """Resume the flow named in a valid state with the consent result."""
        hass = request.app[KEY_HASS]
        state = request.query.get("state", "")
        claims = self.redeem_state(state)
        if claims is None and self.was_redeemed(state):
            return web.Response(text=DONE_PAGE, content_type="text/html")
        if claims is None:
            return web.Response(
                status=HTTPStatus.BAD_REQUEST, text="This link is invalid or was already used."
            )
        manager: FlowManager[Any, Any, Any] | None = (
            repairs_flow_manager(hass) if claims.get("repair") else hass.config_entries.flow
        )
        try:
            await _async_resume(manager, claims, request)
        except UnknownFlow:
            # Nothing was done: reloading the tab must not show the "done" page.
            self._redeemed.pop(claims["nonce"], None)
            return web.Response(
                status=HTTPStatus.BAD_REQUEST, text="This set-up is no longer in progress."
            )
        return web.Response(text=DONE_PAGE, content_type="text/html")


async def _async_resume(
    manager: FlowManager[Any, Any, Any] | None, claims: dict[str, Any], request: web.Request
) -> None:
    """Hand the consent result to the flow that sent the browser out."""
    if manager is None:
        raise UnknownFlow
    await manager.async_configure(
        flow_id=claims["flow_id"],
        user_input={
            "nonce": claims["nonce"],
            "result": request.query.get("result", ""),
            "account_id": request.query.get("accountId"),
        },
    )


def frontend_base_url(hass: HomeAssistant) -> str:
    """Where the user's browser reaches Home Assistant.

    The frontend's own header, else the URL Home Assistant knows itself by (NoURLAvailableError
    when it knows none).
    """
    if (request := current_request.get()) is not None and (
        base := request.headers.get(HEADER_FRONTEND_BASE)
    ):
        return base.rstrip("/")
    return get_url(hass, prefer_external=True)


async def async_consent_link(
    hass: HomeAssistant,
    client: ClientCredentialsAccount,
    flow_id: str,
    *,
    repair: bool = False,
) -> tuple[str, str]:
    """A consent link that brings the browser back to the flow, and the nonce it will carry.

    Raises NoURLAvailableError (no address to come back to) or ProviderError (no link).
    """
    state, nonce = async_get_consent_view(hass).issue_state(flow_id, repair=repair)
    return_url = f"{frontend_base_url(hass)}{CALLBACK_PATH}?{urlencode({'state': state})}"
    return await client.async_connect_account(return_url), nonce


def async_get_consent_view(hass: HomeAssistant) -> ConsentCallbackView:
    """The process-wide callback view, registered on first use."""
    if (view := hass.data.get(_VIEW)) is None:
        view = hass.data[_VIEW] = ConsentCallbackView()
        hass.http.register_view(view)
    return view
