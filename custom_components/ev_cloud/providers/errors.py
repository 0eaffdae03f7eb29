"""The small set of errors every provider client raises.

The Home Assistant side maps each to one behaviour (reauth, back-off, unavailable, translated command
error), so a provider must never let a raw aiohttp or JSON error escape.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class; `code` is the provider's own error code when it gave one."""

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        """Keep the provider's code for diagnostics and translations."""
        super().__init__(message or code or self.__class__.__name__)
        self.code = code


class AuthenticationError(ProviderError):
    """Credentials are wrong, revoked or expired beyond refresh: the user must act."""


class PermissionDeniedError(ProviderError):
    """The credentials are fine, but this one vehicle's data or commands are refused to them.

    A car whose consent was withdrawn, or whose plan does not cover it: the user must reconnect
    that car, not re-enter the credentials, and the other cars keep working.
    """


class RateLimitedError(ProviderError):
    """The provider asked us to slow down; `retry_after` is in seconds when it said."""

    def __init__(
        self, message: str = "", *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        """Remember the provider's own reset time."""
        super().__init__(message, code=code)
        self.retry_after = retry_after


class VehicleUnavailableError(ProviderError):
    """The vehicle sleeps or is offline; reading again will not help until it wakes."""


class NotFoundError(ProviderError):
    """The vehicle (or command execution) does not exist, or no longer belongs to us."""


class InvalidInputError(ProviderError):
    """The provider refused the request's arguments; nothing was executed."""


class CommandInProgressError(ProviderError):
    """A command of the same type is already pending at the provider."""


class CommandFailedError(ProviderError):
    """The car or the provider refused or failed the command; `code` holds the reason."""


# A `PermissionDeniedError` code: the provider no longer knows the developer app (Tesla's 412),
# which registering it again fixes for every car at once.
APP_NOT_REGISTERED = "app_not_registered"


class TransientError(ProviderError):
    """Server error, time-out, unreachable host or malformed answer: try again later."""


class TimedOutError(TransientError):
    """No answer in time: the request may still have been carried out."""


class SetupCheckError(ProviderError):
    """One set-up step the owner does outside Home Assistant is not done (or not right).

    `code` names the step and what is wrong, in the provider-neutral words the config flow
    translates (`public_key_unreachable`, `partner_domain_mismatch`, …); `detail` is the
    provider's own explanation, safe to show (it never holds a secret).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        """Name the failed check."""
        super().__init__(detail or code, code=code)
        self.detail = detail


class ApiKeyRejectedError(ProviderError):
    """The provider refused the application's API key (Volvo's `vcc-api-key`), not the user.

    The key belongs to the developer application and is checked by the API gateway before the
    token is even looked at. Signing in again cannot fix it: the owner must enter a valid key (a
    new one from the developer portal, or the subscription renewed). Hence not an
    `AuthenticationError`, which starts a re-authentication.
    """


class PushRejectedError(ProviderError):
    """A push delivery that must not be acted on; `code` says why (never a secret).

    `acknowledge` is set for deliveries that are genuine but useless (a replay, an event we do
    not handle): answering them with success stops the sender retrying.
    """

    def __init__(self, code: str, *, acknowledge: bool = False) -> None:
        """Name the reason."""
        super().__init__(code, code=code)
        self.acknowledge = acknowledge
