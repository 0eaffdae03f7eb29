"""The adaptive polling pace: fast only while it matters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from homeassistant.util import dt as dt_util
import pytest

from custom_components.ev_cloud.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
)
from custom_components.ev_cloud.coordinator import PollingPolicy, PollPlan, PollReason
from custom_components.ev_cloud.model import ChargingState, VehicleState

NOW = datetime(2026, 11, 24, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "recently_commanded", "expected"),
    [
        (VehicleState(fetched_at=NOW, charging=True, plugged_in=True), False, 90),
        (VehicleState(fetched_at=NOW, charging=False, plugged_in=True), False, 900),
        (VehicleState(fetched_at=NOW, charging=False, plugged_in=False), False, 3600),
        (VehicleState(fetched_at=NOW), False, 3600),
        (VehicleState(fetched_at=NOW, charging=False, plugged_in=False), True, 90),
    ],
)
def test_interval(state: VehicleState, recently_commanded: bool, expected: int) -> None:
    """Charging or just commanded → active; plugged → plugged; otherwise idle."""
    policy = PollingPolicy(
        {CONF_ACTIVE_INTERVAL: 90, CONF_PLUGGED_INTERVAL: 900, CONF_IDLE_INTERVAL: 3600}
    )
    assert policy.plan(state, recently_commanded=recently_commanded).interval == timedelta(
        seconds=expected
    )


def test_defaults() -> None:
    """Without options: 5 minutes, 15 minutes, 30 minutes."""
    policy = PollingPolicy({})
    assert (policy.active, policy.plugged, policy.idle) == (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
    )


POLICY = PollingPolicy({})


@pytest.mark.parametrize(
    ("state", "now", "commanded", "expected", "reason"),
    [
        # Charging, the end predicted in 10 minutes: read one minute after it.
        (
            VehicleState(fetched_at=NOW, charging=True, full_at=NOW + timedelta(minutes=10)),
            NOW,
            False,
            timedelta(minutes=11),
            PollReason.CHARGING_ETA,
        ),
        # Three hours to go: a coarse safety read every hour until then.
        (
            VehicleState(fetched_at=NOW, charging=True, full_at=NOW + timedelta(hours=3)),
            NOW,
            False,
            timedelta(hours=1),
            PollReason.CHARGING_ETA,
        ),
        # The predicted end has passed but the car still charges: the active pace.
        (
            VehicleState(fetched_at=NOW, charging=True, full_at=NOW - timedelta(minutes=5)),
            NOW,
            False,
            timedelta(minutes=5),
            PollReason.CHARGING,
        ),
        # A command speeds up whatever the car does.
        (
            VehicleState(fetched_at=NOW, plugged_in=True, battery_level=80, charge_limit=80),
            NOW,
            True,
            timedelta(minutes=5),
            PollReason.AFTER_COMMAND,
        ),
        # Plugged in and complete: nothing will change.
        (
            VehicleState(fetched_at=NOW, plugged_in=True, battery_level=80, charge_limit=80),
            NOW,
            False,
            timedelta(hours=2),
            PollReason.COMPLETE,
        ),
        (
            VehicleState(fetched_at=NOW, plugged_in=True, charging_state=ChargingState.COMPLETE),
            NOW,
            False,
            timedelta(hours=2),
            PollReason.COMPLETE,
        ),
        # Plugged in below the limit: a scheduled charge may start.
        (
            VehicleState(fetched_at=NOW, plugged_in=True, battery_level=60, charge_limit=80),
            NOW,
            False,
            timedelta(minutes=15),
            PollReason.PLUGGED,
        ),
        (
            VehicleState(fetched_at=NOW, asleep=True),
            NOW,
            False,
            timedelta(minutes=30),
            PollReason.ASLEEP,
        ),
    ],
)
def test_plan(
    state: VehicleState,
    now: datetime,
    commanded: bool,
    expected: timedelta,
    reason: PollReason,
) -> None:
    """Read when something is expected to change; say why."""
    plan = POLICY.plan(state, recently_commanded=commanded, now=now)
    assert (plan.interval, plan.reason) == (expected, reason)


def test_parked_overnight_is_slow_and_parked_in_the_evening_is_not() -> None:
    """Local time decides: 02:00 at home is night, 18:00 is when cars get plugged in."""
    state = VehicleState(fetched_at=NOW, plugged_in=False)
    night = dt_util.now().replace(hour=2, minute=0)
    evening = night.replace(hour=18)
    assert POLICY.plan(state, recently_commanded=False, now=night) == PollPlan(
        timedelta(hours=2), PollReason.NIGHT
    )
    assert POLICY.plan(state, recently_commanded=False, now=evening) == PollPlan(
        timedelta(minutes=30), PollReason.PARKED
    )


def test_slow_pace_is_never_faster_than_the_idle_option() -> None:
    policy = PollingPolicy({CONF_IDLE_INTERVAL: 4 * 3600})
    state = VehicleState(fetched_at=NOW, plugged_in=False)
    night = dt_util.now().replace(hour=3)
    assert policy.plan(state, recently_commanded=False, now=night).interval == timedelta(hours=4)


def test_a_known_charging_window_is_read_when_it_opens() -> None:
    """Plugged in, a charge scheduled in 40 minutes: no reads until a minute after it starts."""
    start = NOW + timedelta(minutes=40)
    state = VehicleState(fetched_at=NOW, plugged_in=True, battery_level=50, charge_limit=80)
    with_window = replace(state, scheduled_charge_at=start)
    assert POLICY.plan(with_window, recently_commanded=False, now=NOW) == PollPlan(
        timedelta(minutes=41), PollReason.SCHEDULED
    )
    # A window hours away: read at the slow pace meanwhile.
    later = replace(state, scheduled_charge_at=NOW + timedelta(hours=3))
    assert POLICY.plan(later, recently_commanded=False, now=NOW) == PollPlan(
        timedelta(hours=2), PollReason.SCHEDULED
    )
    # A window that has passed: the plugged pace again.
    passed = replace(state, scheduled_charge_at=NOW - timedelta(minutes=1))
    assert POLICY.plan(passed, recently_commanded=False, now=NOW).reason is PollReason.PLUGGED
