"""A simulator and an HTTP session for the client tests; the clock is ours to move."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from custom_components.ev_cloud.providers.volteras import VolterasClient
from simulator import Simulator


class Clock:
    """A virtual clock shared by the client and the simulator."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """Virtual time."""
    return Clock()


@pytest.fixture
async def simulator(socket_enabled: None, clock: Clock) -> AsyncGenerator[Simulator]:
    """The Volteras simulator on a free loopback port."""
    async with Simulator(command_delay=0.0, now=clock) as sim:
        yield sim


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """The session a caller would inject."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def client(session: aiohttp.ClientSession, simulator: Simulator, clock: Clock) -> VolterasClient:
    """A client with the simulator's default credentials."""
    return VolterasClient(
        session,
        client_id="sim-client",
        client_secret="sim-secret",
        base_url=simulator.url,
        now=clock,
        request_timeout=5,
    )
