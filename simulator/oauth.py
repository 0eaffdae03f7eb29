"""An OAuth 2.0 authorization-code server, as Tesla's and Volvo's sign-in work.

The authorize page offers approve and deny links (a browser, or a test acting as one, follows
them); the token endpoint redeems single-use codes, checks PKCE when the authorize request carried
a challenge, and rotates refresh tokens: each may be used once, as Tesla's are. `userinfo` tells
an access token's account, so a client can check who signed in.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web
import jwt

PREFIX = "/oauth2/"
AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"
USERINFO_PATH = "/oauth2/userinfo"
# Volvo ID's sign-in paths (volvoid.eu.volvocars.com), served by the same handlers.
VOLVO_PREFIX = "/as/"
VOLVO_AUTHORIZE_PATH = "/as/authorization.oauth2"
VOLVO_TOKEN_PATH = "/as/token.oauth2"
# Signs the simulator's JWT access tokens; clients read them unverified, as they do Tesla's.
SIGNING_KEY = "ev-cloud-simulator-signing-key-not-a-secret"


@dataclass(kw_only=True)
class _Authorization:
    client_id: str
    redirect_uri: str
    state: str
    scope: str
    code_challenge: str | None


@dataclass(kw_only=True)
class OAuthServer:
    """Registered apps, pending sign-ins, codes and tokens."""

    now: Callable[[], datetime]
    token_lifetime: int = 3600
    # client id → (client secret, account the sign-in lands on)
    clients: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "sim-oauth-client": ("sim-oauth-secret", "sim-account"),
            "sim-volvo-client": ("sim-volvo-secret", "sim-volvo-account"),
        }
    )
    pending: dict[str, _Authorization] = field(default_factory=dict)
    codes: dict[str, _Authorization] = field(default_factory=dict)
    access_tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    # refresh token → (client id, granted scope)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    # client-credentials (partner) token → (client id, expiry); they open no owner's account
    partner_tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    request_log: list[tuple[str, str]] = field(default_factory=list)

    def issue_tokens(self, client_id: str, scope: str = "") -> dict[str, Any]:
        """A token answer; the refresh token works once.

        The access token is a JWT with the claims Tesla's carry (`sub`, `scp`, `ou_code`), so a
        client can read the account and region from it as it would from Tesla's.
        """
        now = self.now()
        expires = now + timedelta(seconds=self.token_lifetime)
        claims = {
            "sub": self.clients[client_id][1],
            "scp": scope.split(),
            "ou_code": "EU",
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        access = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
        refresh = secrets.token_urlsafe(24)
        self.access_tokens[access] = (client_id, expires)
        self.refresh_tokens[refresh] = (client_id, scope)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }

    def issue_partner_token(self, client_id: str, audience: str) -> dict[str, Any]:
        """A client-credentials token: the app itself, for partner calls; no refresh token."""
        now = self.now()
        expires = now + timedelta(seconds=self.token_lifetime)
        claims = {
            "sub": client_id,
            "aud": audience,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        access = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
        self.partner_tokens[access] = (client_id, expires)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def partner_for(self, access_token: str) -> str | None:
        """The developer app behind a valid partner token."""
        entry = self.partner_tokens.get(access_token)
        if entry is None or entry[1] <= self.now():
            return None
        return entry[0]

    def client_for(self, access_token: str) -> str | None:
        """The developer app an owner's valid access token was issued to."""
        entry = self.access_tokens.get(access_token)
        if entry is None or entry[1] <= self.now():
            return None
        return entry[0]

    def account_for(self, access_token: str) -> str | None:
        """The account behind a valid access token."""
        entry = self.access_tokens.get(access_token)
        if entry is None or entry[1] <= self.now():
            return None
        return self.clients[entry[0]][1]

    def revoke_tokens(self) -> None:
        """Every access and refresh token stops working."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()
        self.partner_tokens.clear()


OAUTH: web.AppKey[OAuthServer] = web.AppKey("oauth_server")


def _server(request: web.Request) -> OAuthServer:
    server = request.app[OAUTH]
    server.request_log.append((request.method, request.path))
    return server


def _redirect(redirect_uri: str, params: dict[str, str]) -> web.HTTPFound:
    parts = urlsplit(redirect_uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return web.HTTPFound(urlunsplit(parts._replace(query=query)))


async def authorize(request: web.Request) -> web.Response:
    """GET /oauth2/authorize: a sign-in page with approve and deny links."""
    server = _server(request)
    query = request.query
    client_id = query.get("client_id", "")
    if client_id not in server.clients or query.get("response_type") != "code":
        return web.Response(status=400, text="unknown client or response type")
    if not query.get("redirect_uri") or not query.get("state"):
        return web.Response(status=400, text="redirect_uri and state are required")
    if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
        return web.Response(status=400, text="only S256 code challenges")
    ticket = secrets.token_urlsafe(16)
    server.pending[ticket] = _Authorization(
        client_id=client_id,
        redirect_uri=query["redirect_uri"],
        state=query["state"],
        scope=query.get("scope", ""),
        code_challenge=query.get("code_challenge"),
    )
    page = (
        "<!DOCTYPE html><html><body><h1>Simulated sign-in</h1>"
        f"<p>Allow access ({query.get('scope', '')})?</p>"
        f'<a href="{AUTHORIZE_PATH}/{ticket}/approve">Allow</a> '
        f'<a href="{AUTHORIZE_PATH}/{ticket}/deny">Deny</a></body></html>'
    )
    return web.Response(text=page, content_type="text/html")


async def approve(request: web.Request) -> web.Response:
    """Back to the app with a single-use code."""
    server = _server(request)
    pending = server.pending.pop(request.match_info["ticket"], None)
    if pending is None:
        return web.Response(status=404, text="unknown or used sign-in")
    code = secrets.token_urlsafe(16)
    server.codes[code] = pending
    raise _redirect(pending.redirect_uri, {"code": code, "state": pending.state})


async def deny(request: web.Request) -> web.Response:
    """Back to the app with `access_denied`."""
    server = _server(request)
    pending = server.pending.pop(request.match_info["ticket"], None)
    if pending is None:
        return web.Response(status=404, text="unknown or used sign-in")
    raise _redirect(pending.redirect_uri, {"error": "access_denied", "state": pending.state})


def _pkce_ok(challenge: str | None, verifier: str | None) -> bool:
    if challenge is None:
        return True
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


def _basic_credentials(request: web.Request) -> tuple[str, str]:
    """The app's credentials sent as HTTP Basic, as Volvo's clients do; empty when absent."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return "", ""
    return client_id, secret


async def token(request: web.Request) -> web.Response:
    """POST /oauth2/token: authorization code, (single-use) refresh token, client credentials."""
    server = _server(request)
    form = await request.post()
    client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if not client_id:
        client_id, client_secret = _basic_credentials(request)
    known = server.clients.get(client_id)
    if known is None or not secrets.compare_digest(known[0], client_secret):
        return web.json_response({"error": "invalid_client"}, status=401)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        pending = server.codes.pop(str(form.get("code", "")), None)
        if (
            pending is None
            or pending.client_id != client_id
            or pending.redirect_uri != form.get("redirect_uri")
            or not _pkce_ok(pending.code_challenge, str(form.get("code_verifier", "")) or None)
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(server.issue_tokens(client_id, pending.scope))
    if grant == "refresh_token":
        granted = server.refresh_tokens.pop(str(form.get("refresh_token", "")), None)
        if granted is None or granted[0] != client_id:
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(server.issue_tokens(client_id, granted[1]))
    if grant == "client_credentials":
        # Tesla's partner token: `audience` must name the Fleet API server it is for.
        if not (audience := str(form.get("audience", ""))):
            return web.json_response({"error": "invalid_request"}, status=400)
        return web.json_response(server.issue_partner_token(client_id, audience))
    return web.json_response({"error": "unsupported_grant_type"}, status=400)


async def userinfo(request: web.Request) -> web.Response:
    """GET /oauth2/userinfo: the account behind the bearer token."""
    server = _server(request)
    header = request.headers.get("Authorization", "")
    account = server.account_for(header.removeprefix("Bearer "))
    if account is None:
        return web.json_response({"error": "invalid_token"}, status=401)
    return web.json_response({"sub": account})


def add_routes(app: web.Application, server: OAuthServer) -> None:
    """Register the sign-in surface, also under Tesla's `/oauth2/v3/` and Volvo ID's paths."""
    app[OAUTH] = server
    for authorize_path, token_path in (
        (AUTHORIZE_PATH, TOKEN_PATH),
        ("/oauth2/v3/authorize", "/oauth2/v3/token"),
        (VOLVO_AUTHORIZE_PATH, VOLVO_TOKEN_PATH),
    ):
        app.router.add_get(authorize_path, authorize)
        app.router.add_post(token_path, token)
    app.router.add_get(AUTHORIZE_PATH + "/{ticket}/approve", approve)
    app.router.add_get(AUTHORIZE_PATH + "/{ticket}/deny", deny)
    app.router.add_get(USERINFO_PATH, userinfo)
