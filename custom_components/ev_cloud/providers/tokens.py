"""An OAuth access token refused before its expiry: refresh once, retry once.

Car makers refuse an unexpired token when the owner changed their password or the grant was
renewed elsewhere. Waiting for the expiry would leave the cars unavailable for hours; a refresh
the token endpoint refuses, or a fresh token refused again, means the owner must sign in again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from .errors import AuthenticationError, TransientError

# The code a provider gives the `TransientError` for "the API refused this access token".
TOKEN_REFUSED: Final = "token_refused"  # noqa: S105 - an error code, not a secret


class RefusedTokenRetry:
    """Hands out access tokens and retries a call once with a forcibly refreshed one."""

    def __init__(
        self,
        access_token: Callable[[], Awaitable[str]],
        refresh_access_token: Callable[[str], Awaitable[str]] | None,
    ) -> None:
        """`refresh_access_token` gets the refused token (None: no forced refresh possible)."""
        self._access_token = access_token
        self._refresh = refresh_access_token
        self._last: str | None = None

    async def token(self) -> str:
        """The token for the next request, remembered so a refusal can name the one refused."""
        self._last = await self._access_token()
        return self._last

    async def call[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """`request()`; after a token refusal, once more with a fresh token."""
        try:
            return await request()
        except TransientError as err:
            if err.code != TOKEN_REFUSED or self._refresh is None:
                raise
        await self._refresh(self._last or "")
        try:
            return await request()
        except TransientError as err:
            if err.code == TOKEN_REFUSED:
                raise AuthenticationError("A fresh token was refused too", code=err.code) from err
            raise
