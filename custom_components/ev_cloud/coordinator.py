"""Coordinators: one per vehicle for its state, one per entry for the list of vehicles.

Polling is money (Tesla) or rate limit (Volteras, Volvo), and the incumbents poll at one fixed pace.
The vehicle coordinator picks its interval from what the car is doing: fast while it charges or
right after a command, slower while plugged in, slowest when parked and unplugged. A command can
bring the next read earlier, never later, and never earlier than a rate limit allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ACTIVE_INTERVAL,
    CONF_APP_DOMAIN,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
    CONF_PROVIDER,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DEFAULT_PLUGGED_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .model import ChargingState, VehicleInfo, VehicleState, log_hash
from .providers import VehicleProvider, get_provider
from .providers.errors import (
    APP_NOT_REGISTERED,
    ApiKeyRejectedError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    VehicleUnavailableError,
)

if TYPE_CHECKING:
    from .runtime import EvCloudConfigEntry

# A read sooner than this after a command may not show its effect yet (cars take a minute
# to ramp up charging or open the port).
EFFECT_DELAY = timedelta(minutes=2)
# The vehicle list changes when the owner connects or removes a car: rarely.
FLEET_INTERVAL = timedelta(hours=6)
# Parked overnight, or plugged in and complete: nothing is expected to change.
SLOW_INTERVAL = timedelta(hours=2)
# Local hours a parked, unplugged car is not expected to be plugged in.
NIGHT_HOURS = (0, 6)
# While charging with a predicted end: a coarse read in between, in case the prediction is off.
CHARGING_SAFETY = timedelta(hours=1)
# How long after the predicted end of a charge the car is read.
ETA_MARGIN = timedelta(minutes=1)
# While the provider pushes every change, a read only checks nothing was missed.
PUSH_CONSISTENCY = timedelta(hours=4)
# When a rate limit gives no reset time.
DEFAULT_RETRY_AFTER = 60.0


def auth_failed() -> ConfigEntryAuthFailed:
    """The credentials themselves were refused: only the user can fix that."""
    return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed")


def update_failed(err: ProviderError, retry_in: timedelta) -> UpdateFailed:
    """A reading failed for a reason that may pass; say why in words and when the next try is."""
    key = "update_failed_not_found" if isinstance(err, NotFoundError) else "update_failed"
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            "code": err.code or "no valid answer",
            "retry_in": str(round(retry_in.total_seconds())),
        },
    )


def api_key_issue_id(entry: EvCloudConfigEntry) -> str:
    """One repair issue per entry whose application API key the provider refuses."""
    return f"api_key_rejected_{entry.entry_id}"


@callback
def _entry_issue(
    hass: HomeAssistant,
    issue_id: str,
    key: str,
    placeholders: dict[str, str],
    fix: dict[str, str | int | float | None] | None = None,
) -> None:
    """An entry-wide repair issue (not one car's); `fix` makes it fixable and names the fix."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=fix is not None,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        data=fix,
        translation_key=key,
        translation_placeholders=placeholders,
    )


def api_key_rejected(hass: HomeAssistant, entry: EvCloudConfigEntry) -> UpdateFailed:
    """The application's API key was refused: a repair issue says how to enter a new one.

    Not a re-authentication: signing in again cannot fix a key.
    """
    _entry_issue(hass, api_key_issue_id(entry), "api_key_rejected", {"entry": entry.title})
    return UpdateFailed(translation_domain=DOMAIN, translation_key="api_key_rejected")


@callback
def api_key_accepted(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """A call went through: the key works (again)."""
    issue_id = api_key_issue_id(entry)
    if ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def app_issue_id(entry: EvCloudConfigEntry) -> str:
    """One repair issue per entry whose developer app the provider no longer knows."""
    return f"app_not_registered_{entry.entry_id}"


@callback
def app_not_registered(hass: HomeAssistant, entry: EvCloudConfigEntry) -> None:
    """The provider no longer knows the app (Tesla's 412): registering it again fixes all cars."""
    _entry_issue(
        hass,
        app_issue_id(entry),
        "app_not_registered",
        {"entry": entry.title, "domain": entry.data.get(CONF_APP_DOMAIN, "")},
        fix={"entry_id": entry.entry_id, "fix": "register_app"},
    )


def rate_limited(retry_after: float) -> UpdateFailed:
    """Retry when the API said, not at the next regular poll."""
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key="rate_limited",
        translation_placeholders={"retry_after": str(round(retry_after))},
        retry_after=retry_after,
    )


class PollReason(StrEnum):
    """Why the next read is when it is (shown on the polling-interval sensor)."""

    AFTER_COMMAND = "after_command"
    CHARGING_ETA = "charging_eta"
    CHARGING = "charging"
    PLUGGED = "plugged"
    COMPLETE = "complete"
    PARKED = "parked"
    NIGHT = "night"
    ASLEEP = "asleep"
    RATE_LIMITED = "rate_limited"
    UNREADABLE = "unreadable"
    PUSH = "push"
    SCHEDULED = "scheduled"


# Regular paces a fleet's cars may spread over; a predicted moment (end of charge) is kept.
SPREADABLE = frozenset(
    {PollReason.PARKED, PollReason.NIGHT, PollReason.PLUGGED, PollReason.COMPLETE}
)


@dataclass(frozen=True)
class PollPlan:
    """When to read next, and why."""

    interval: timedelta
    reason: PollReason


class PollingPolicy:
    """When to read a car: when something is expected to change, not at a fixed pace.

    While charging with an end time the provider predicts, the car is read just after that
    moment, with a coarse safety read in between; without a prediction, at the active pace. A car
    parked overnight or plugged in with its charge complete is read rarely. A command brings the
    active pace for a while; the three paces come from the entry's options.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Read the intervals (seconds) the user chose."""
        self.active = timedelta(seconds=options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL))
        self.plugged = timedelta(
            seconds=options.get(CONF_PLUGGED_INTERVAL, DEFAULT_PLUGGED_INTERVAL)
        )
        self.idle = timedelta(seconds=options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL))
        # Nothing is expected to change: never faster than the idle pace.
        self.slow = max(SLOW_INTERVAL, self.idle)

    def plan(
        self, state: VehicleState, *, recently_commanded: bool, now: datetime | None = None
    ) -> PollPlan:
        """When to read next for what the car is doing now, and why."""
        now = now or dt_util.utcnow()
        if state.asleep:
            return PollPlan(self.idle, PollReason.ASLEEP)
        if recently_commanded:
            return PollPlan(self.active, PollReason.AFTER_COMMAND)
        if state.charging:
            return self._charging(state, now)
        if state.plugged_in:
            if _charge_complete(state):
                return PollPlan(self.slow, PollReason.COMPLETE)
            if (start := state.scheduled_charge_at) is not None and start > now:
                # A known charging window: nothing changes before it opens; read just after.
                return PollPlan(min(start - now + ETA_MARGIN, self.slow), PollReason.SCHEDULED)
            return PollPlan(self.plugged, PollReason.PLUGGED)
        if NIGHT_HOURS[0] <= dt_util.as_local(now).hour < NIGHT_HOURS[1]:
            return PollPlan(self.slow, PollReason.NIGHT)
        return PollPlan(self.idle, PollReason.PARKED)

    def _charging(self, state: VehicleState, now: datetime) -> PollPlan:
        if state.full_at is None or state.full_at <= now:
            return PollPlan(self.active, PollReason.CHARGING)
        # Just after the predicted end, so the completion shows within a minute or two.
        until_end = state.full_at - now + ETA_MARGIN
        safety = max(CHARGING_SAFETY, self.active)
        if until_end <= safety:
            return PollPlan(until_end, PollReason.CHARGING_ETA)
        return PollPlan(safety, PollReason.CHARGING_ETA)


def _charge_complete(state: VehicleState) -> bool:
    """Plugged in at (or above) its limit: nothing will change until it is unplugged."""
    if state.charging_state is ChargingState.COMPLETE:
        return True
    if state.battery_level is None or state.charge_limit is None:
        return False
    return state.battery_level >= state.charge_limit - 1


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
            name=f"{DOMAIN} {vehicle.log_name}",
            update_interval=self.policy.active,
        )
        self.provider = provider
        self.vehicle = vehicle
        self.next_read_at: datetime = dt_util.utcnow() + self.policy.active
        self._commanded_at: datetime | None = None
        self._backoff_until: datetime | None = None
        self._extra_read: CALLBACK_TYPE | None = None
        self._extra_read_at: datetime | None = None
        # Whether this car's access repair is up: a read clears it only then.
        self._access_issue_raised = False
        self.poll_reason: PollReason | None = None
        # Where in its first regular interval a car of a fleet is read (0..1), so hundreds of
        # cars set up together do not all read again in the same minute.
        self._phase: float | None = None
        # Whether the entry's push channel delivers (set when pushes are configured).
        self.push_alive: Callable[[], bool] = lambda: False

    @callback
    def spread_first_read(self, phase: float) -> None:
        """Read this car after `phase` of its next regular interval (at least half of it)."""
        self._phase = phase

    async def async_shutdown(self) -> None:
        """Stop the extra read a command scheduled, the regular ones, and this car's issue."""
        self._cancel_extra_read()
        if self._access_issue_raised:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        await super().async_shutdown()

    @property
    def issue_id(self) -> str:
        """The repair issue raised when the provider refuses this car to our credentials."""
        return f"vehicle_access_{self.config_entry.entry_id}_{log_hash(self.vehicle.key)}"

    @callback
    def note_command(self) -> None:
        """A command was confirmed: read the car within the active pace, never later than planned."""
        now = dt_util.utcnow()
        self._commanded_at = now
        if self.push_alive():
            # The provider pushes the car's new readings: no read needed.
            return
        wanted = now + self.policy.active
        if self._backoff_until is not None and wanted < self._backoff_until:
            wanted = self._backoff_until
        if wanted >= self.next_read_at:
            return
        if self._extra_read_at is not None and self._extra_read_at <= wanted:
            return
        self._cancel_extra_read()
        self._extra_read_at = wanted
        self._extra_read = async_track_point_in_utc_time(self.hass, self._async_extra_read, wanted)

    @property
    def extra_read_at(self) -> datetime | None:
        """When the read a command asked for happens, if one is planned before the regular one."""
        return self._extra_read_at

    async def _async_extra_read(self, _now: datetime) -> None:
        self._extra_read = self._extra_read_at = None
        await self.async_request_refresh()

    @callback
    def _cancel_extra_read(self) -> None:
        if self._extra_read is not None:
            self._extra_read()
        self._extra_read = self._extra_read_at = None

    def _recently_commanded(self, now: datetime) -> bool:
        """A read this soon after a command may predate its effect: read again at the active pace.

        The read a command asks for (at the active pace) shows the effect; after it, the car is
        read as what it now does, not faster because of the command.
        """
        return self._commanded_at is not None and now - self._commanded_at < EFFECT_DELAY

    def _set_interval(self, interval: timedelta, reason: PollReason) -> None:
        self.update_interval = interval
        self.poll_reason = reason
        self.next_read_at = dt_util.utcnow() + interval

    async def _async_update_data(self) -> VehicleState:
        try:
            state = await self.provider.async_get_state(self.vehicle)
        except AuthenticationError as err:
            raise auth_failed() from err
        except ApiKeyRejectedError as err:
            self._set_interval(self.policy.idle, PollReason.UNREADABLE)
            raise api_key_rejected(self.hass, self.config_entry) from err
        except RateLimitedError as err:
            return self._back_off(err)
        except PermissionDeniedError as err:
            self._backoff_until = None
            if err.code == APP_NOT_REGISTERED:
                # Not this car's access: the app's, for every car (one entry-level repair).
                app_not_registered(self.hass, self.config_entry)
            else:
                self._raise_access_issue()
            self._set_interval(self.policy.idle, PollReason.UNREADABLE)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="vehicle_access_denied",
                translation_placeholders={"retry_in": str(round(self.policy.idle.total_seconds()))},
            ) from err
        except VehicleUnavailableError as err:
            # None before the first successful read, whatever the base class's annotation says.
            previous: VehicleState | None = self.data
            if previous is None:
                self._set_interval(self.policy.idle, PollReason.UNREADABLE)
                raise UpdateFailed(
                    translation_domain=DOMAIN, translation_key="vehicle_unavailable"
                ) from err
            # Said by an error rather than a state: the same sleeping car as below.
            state = VehicleState(fetched_at=dt_util.utcnow(), asleep=True)
        except ProviderError as err:
            self._backoff_until = None
            self._set_interval(self.policy.active, PollReason.UNREADABLE)
            raise update_failed(err, self.policy.active) from err
        if state.asleep and self.data is not None:
            # The provider says the car sleeps: keep its last readings, do not wake it.
            state = replace(self.data, asleep=True, fetched_at=state.fetched_at)
        if self._backoff_until is not None:
            LOGGER.info("Rate limit for %s lifted", self.vehicle.log_name)
            self._backoff_until = None
        if self._access_issue_raised:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            self._access_issue_raised = False
        api_key_accepted(self.hass, self.config_entry)
        ir.async_delete_issue(self.hass, DOMAIN, app_issue_id(self.config_entry))
        now = dt_util.utcnow()
        plan = self._plan(state, now)
        interval = plan.interval
        if self._phase is not None and plan.reason in SPREADABLE:
            # Earlier, never later: the car keeps this offset from the others from now on.
            interval *= 0.5 + self._phase / 2
            self._phase = None
        self._set_interval(interval, plan.reason)
        return state

    def _plan(self, state: VehicleState, now: datetime) -> PollPlan:
        if self.push_alive() and not state.asleep:
            return PollPlan(PUSH_CONSISTENCY, PollReason.PUSH)
        return self.policy.plan(state, recently_commanded=self._recently_commanded(now), now=now)

    @callback
    def async_push_state(self, state: VehicleState) -> None:
        """New readings the provider pushed: shown at once, and the next poll moves out."""
        plan = self._plan(state, dt_util.utcnow())
        self._set_interval(plan.interval, plan.reason)
        # Also re-arms the refresh timer at the new interval.
        self.async_set_updated_data(state)

    def _raise_access_issue(self) -> None:
        self._access_issue_raised = True
        # Where the provider connects cars through a consent link, the repair does it.
        fixable = get_provider(self.config_entry.data[CONF_PROVIDER]).supports_consent
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=fixable,
            data={"entry_id": self.config_entry.entry_id, "vehicle": self.vehicle.display_name},
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="vehicle_access_denied" if fixable else "vehicle_access_denied_manual",
            translation_placeholders={"vehicle": self.vehicle.display_name},
        )

    def _back_off(self, err: RateLimitedError) -> VehicleState:
        """Wait as long as the API asks, keeping the last good data and the entry's credentials.

        A back-off never reads sooner than the pace the car was already read at.
        """
        wait = max(
            timedelta(seconds=err.retry_after or DEFAULT_RETRY_AFTER),
            self.update_interval or timedelta(0),
        )
        retry_after = wait.total_seconds()
        first = self._backoff_until is None
        self._backoff_until = dt_util.utcnow() + wait
        self._set_interval(wait, PollReason.RATE_LIMITED)
        if first:
            LOGGER.warning(
                "Rate limited reading %s; keeping the last data and retrying in %.0f s",
                self.vehicle.log_name,
                retry_after,
            )
        if self.data is None:
            raise rate_limited(retry_after) from err
        return self.data


class FleetCoordinator(DataUpdateCoordinator[list[VehicleInfo]]):
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

    async def _async_update_data(self) -> list[VehicleInfo]:
        try:
            vehicles = await self.provider.async_get_vehicles()
        except AuthenticationError as err:
            raise auth_failed() from err
        except ApiKeyRejectedError as err:
            raise api_key_rejected(self.hass, self.config_entry) from err
        except RateLimitedError as err:
            raise rate_limited(err.retry_after or DEFAULT_RETRY_AFTER) from err
        except ProviderError as err:
            raise update_failed(err, FLEET_INTERVAL) from err
        api_key_accepted(self.hass, self.config_entry)
        return vehicles
