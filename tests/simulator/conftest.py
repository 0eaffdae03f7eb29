"""A running simulator and a raw HTTP session with a token."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import aiohttp
import pytest

from simulator import Simulator


@dataclass
class Api:
    """Raw access to the simulator, as an API client would have it."""

    sim: Simulator
    session: aiohttp.ClientSession
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"{self.sim.url}{path}"


@pytest.fixture
async def api(socket_enabled: None) -> AsyncGenerator[Api]:
    async with (
        Simulator(command_delay=0.0) as sim,
        aiohttp.ClientSession() as session,
        session.post(
            f"{sim.url}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": aiohttp.encode_basic_auth("sim-client", "sim-secret")},
        ) as response,
    ):
        token = (await response.json())["access_token"]
        yield Api(sim=sim, session=session, token=token)
