"""The adaptive polling pace: fast only while it matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.ev_cloud.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    CONF_PLUGGED_INTERVAL,
)
from custom_components.ev_cloud.coordinator import PollingPolicy
from custom_components.ev_cloud.model import VehicleState

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
    assert policy.interval(state, recently_commanded=recently_commanded) == timedelta(
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
