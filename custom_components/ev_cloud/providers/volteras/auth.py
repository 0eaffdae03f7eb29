"""OAuth 2.0 client-credentials tokens for Volteras.

One renewal at a time: concurrent callers wait for it and share its result. Refresh tokens are
single-use, so a refused refresh falls back to a fresh client-credentials grant rather than
failing; only a refused client-credentials grant means the credentials themselves are bad.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthenticationError, TransientError
from ..json_values import finite_number
from .const import TOKEN_REFRESH_MARGIN

type TokenRequest = Callable[[dict[str, str]], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class Token:
    """An access token and what renews it."""

    # Never in a repr: a token object in a log line or a traceback must not leak them.
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float


class TokenManager:
    """Holds the current token and renews it before it expires."""

    def __init__(self, request: TokenRequest, clock: Callable[[], float]) -> None:
        """`request` posts a form to the token endpoint and returns the decoded JSON."""
        self._request = request
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()

    async def async_access_token(self) -> str:
        """A valid access token, renewing it first when needed."""
        token = self._token
        if token is not None and not self._expiring(token):
            return token.access_token
        async with self._lock:
            # Another caller may have renewed it while this one waited for the lock.
            token = self._token
            if token is None or self._expiring(token):
                token = self._token = await self._async_renew(token)
            return token.access_token

    def invalidate(self, access_token: str) -> None:
        """Forget a token the API refused, unless it was already replaced."""
        if self._token is not None and self._token.access_token == access_token:
            self._token = None

    def _expiring(self, token: Token) -> bool:
        return self._clock() >= token.expires_at - TOKEN_REFRESH_MARGIN

    async def _async_renew(self, old: Token | None) -> Token:
        if old is not None and old.refresh_token:
            try:
                return await self._async_grant(
                    {"grant_type": "refresh_token", "refresh_token": old.refresh_token}
                )
            except AuthenticationError:
                pass
        return await self._async_grant({"grant_type": "client_credentials"})

    async def _async_grant(self, form: dict[str, str]) -> Token:
        body = await self._request(form)
        if not isinstance(body, dict):
            raise TransientError("Malformed Volteras token answer")
        access_token = body.get("access_token")
        expires_in = body.get("expires_in")
        refresh_token = body.get("refresh_token")
        lifetime = finite_number(expires_in)
        if not isinstance(access_token, str) or lifetime is None:
            raise TransientError("Malformed Volteras token answer")
        return Token(
            access_token=access_token,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            expires_at=self._clock() + lifetime,
        )
