"""Coordinators: one per vehicle for its state, one per entry for the list of vehicles.

Polling is money (Tesla) or rate limit (Volteras, Volvo), and the incumbents poll at one fixed pace.
The vehicle coordinator picks its interval from what the car is doing: fast while it charges or
right after a command, slower while plugged in, slowest when parked and unplugged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DEFAULT_PLUGGED_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .model import VehicleInfo, VehicleState
from .providers import VehicleProvider
from .providers.errors import (
    AuthenticationError,
    ProviderError,
    RateLimitedError,
    VehicleUnavailableError,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import EvCloudConfigEntry

# How long after a command the car is watched closely: its effect (charging ramping up, the
# port opening) shows in the next readings.
ACTIVE_AFTER_COMMAND = timedelta(minutes=10)
# The vehicle list changes when the owner connects or removes a car: rarely.
FLEET_INTERVAL = timedelta(hours=1)
# When a rate limit gives no reset time.
DEFAULT_RETRY_AFTER = 60.0


def _auth_failed() -> ConfigEntryAuthFailed:
    return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed")


def _update_failed(err: ProviderError) -> UpdateFailed:
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key="update_failed",
        translation_placeholders={"error": type(err).__name__},
    )


def _rate_limited(retry_after: float) -> UpdateFailed:
    """Retry when the API said, not at the next regular poll."""
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key="rate_limited",
        translation_placeholders={"retry_after": str(round(retry_after))},
        retry_after=retry_after,
    )


class PollingPolicy:
    """The three polling paces, from the entry's options."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Read the intervals (seconds) the user chose."""
        self.active = timedelta(seconds=options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL))
        self.plugged = timedelta(
            seconds=options.get(CONF_PLUGGED_INTERVAL, DEFAULT_PLUGGED_INTERVAL)
        )
        self.idle = timedelta(seconds=options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL))

    def interval(self, state: VehicleState, *, recently_commanded: bool) -> timedelta:
        """Pick the pace for what the car is doing now."""
        if state.charging or recently_commanded:
            return self.active
        if state.plugged_in:
            return self.plugged
        return self.idle


class VehicleCoordinator(DataUpdateCoordinator[VehicleState]):
    """Reads one vehicle's state at an adaptive pace; never wakes the car."""

    config_entry: EvCloudConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvCloudConfigEntry,
        provider: VehicleProvider,
        vehicle: VehicleInfo,
    ) -> None:
        """Start at the active pace; the first reading sets the real one."""
        self.policy = PollingPolicy(entry.options)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} vehicle {vehicle.id}",
            update_interval=self.policy.active,
        )
        self.provider = provider
        self.vehicle = vehicle
        self._commanded_at: float | None = None
        self._rate_limited = False

    def note_command(self) -> None:
        """A command was sent: watch the car closely for a while, starting now."""
        self._commanded_at = dt_util.utcnow().timestamp()
        self.update_interval = self.policy.active
        if self._listeners:
            # The next poll may be half an hour away; bring it within the active pace.
            self._schedule_refresh()

    def _recently_commanded(self) -> bool:
        if self._commanded_at is None:
            return False
        elapsed = dt_util.utcnow().timestamp() - self._commanded_at
        return elapsed < ACTIVE_AFTER_COMMAND.total_seconds()

    async def _async_update_data(self) -> VehicleState:
        try:
            state = await self.provider.async_get_state(self.vehicle)
        except AuthenticationError as err:
            raise _auth_failed() from err
        except RateLimitedError as err:
            return self._back_off(err)
        except VehicleUnavailableError as err:
            if self.data is None:
                raise UpdateFailed(
                    translation_domain=DOMAIN, translation_key="vehicle_unavailable"
                ) from err
            # The car sleeps: keep its last readings, say it sleeps, and do not wake it.
            self.update_interval = self.policy.idle
            return replace(self.data, asleep=True, fetched_at=dt_util.utcnow())
        except ProviderError as err:
            raise _update_failed(err) from err
        if self._rate_limited:
            LOGGER.info("Rate limit for vehicle %s lifted", self.vehicle.id)
            self._rate_limited = False
        self.update_interval = self.policy.interval(
            state, recently_commanded=self._recently_commanded()
        )
        return state

    def _back_off(self, err: RateLimitedError) -> VehicleState:
        """Wait as long as the API asks, keeping the last good data and the entry's credentials."""
        retry_after = err.retry_after or DEFAULT_RETRY_AFTER
        if self.data is None:
            raise _rate_limited(retry_after) from err
        if not self._rate_limited:
            LOGGER.warning(
                "Rate limited reading vehicle %s; keeping the last data and retrying in %.0f s",
                self.vehicle.id,
                retry_after,
            )
            self._rate_limited = True
        self.update_interval = max(timedelta(seconds=retry_after), self.policy.active)
        return self.data


class FleetCoordinator(DataUpdateCoordinator[dict[str, VehicleInfo]]):
    """Keeps the list of vehicles the credentials can see, so new cars appear without a reload."""

    config_entry: EvCloudConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: EvCloudConfigEntry, provider: VehicleProvider
    ) -> None:
        """Poll the vehicle list hourly."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} fleet",
            update_interval=FLEET_INTERVAL,
        )
        self.provider = provider

    async def _async_update_data(self) -> dict[str, VehicleInfo]:
        try:
            vehicles = await self.provider.async_get_vehicles()
        except AuthenticationError as err:
            raise _auth_failed() from err
        except RateLimitedError as err:
            raise _rate_limited(err.retry_after or DEFAULT_RETRY_AFTER) from err
        except ProviderError as err:
            raise _update_failed(err) from err
        return {vehicle.id: vehicle for vehicle in vehicles}
