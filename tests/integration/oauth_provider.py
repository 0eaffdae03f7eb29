"""A minimal OAuth 2.0 code-flow provider for tests of the flow branch Tesla and Volvo will use.

It reads nothing but the simulator's `userinfo` endpoint with the bearer token Home Assistant's
OAuth2 machinery obtained, so every read proves the token (and its refresh) really works.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from custom_components.ev_cloud.model import (
    Command,
    CommandExecution,
    FailureReason,
    VehicleInfo,
    VehicleState,
)
from custom_components.ev_cloud.providers import (
    AccountIdentity,
    ClientConfig,
    CredentialKind,
    OAuth2Endpoints,
    ProviderSpec,
)
from custom_components.ev_cloud.providers.errors import (
    AuthenticationError,
    InvalidInputError,
    TransientError,
)

CAR = VehicleInfo(id="sim-car-1", vin="SIMOAUTH000000001", make="SIMCARS", model="Roadster")


class SimAccountClient:
    """Identifies the account behind the token; one car whose battery is always 55 %."""

    def __init__(self, session: aiohttp.ClientSession, config: ClientConfig) -> None:
        self._session = session
        self._config = config
        self.identify_calls = 0

    async def async_identify(self) -> AccountIdentity:
        assert self._config.access_token is not None
        token = await self._config.access_token()
        async with self._session.get(
            f"{self._config.base_url}/oauth2/userinfo",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            if response.status == 401:
                raise AuthenticationError("token refused", code="invalid_token")
            if response.status != 200:
                raise TransientError(f"userinfo answered {response.status}")
            body = await response.json()
        return AccountIdentity(unique_id=body["sub"], title=f"Sim account {body['sub']}")

    async def async_get_vehicles(self) -> list[VehicleInfo]:
        await self.async_identify()
        return [CAR]

    async def async_get_state(self, vehicle: VehicleInfo) -> VehicleState:
        await self.async_identify()
        return VehicleState(fetched_at=datetime.now(UTC), battery_level=55.0)

    async def async_send_command(self, vehicle: VehicleInfo, command: Command) -> CommandExecution:
        raise InvalidInputError("no commands")

    async def async_get_command_execution(
        self, vehicle: VehicleInfo, execution: CommandExecution
    ) -> CommandExecution:
        raise InvalidInputError("no commands")


SIM_OAUTH = ProviderSpec(
    name="simcloud",
    credential_kind=CredentialKind.OAUTH2_CODE,
    environments={"production": "https://simcloud.invalid"},
    create_client=SimAccountClient,
    capabilities=frozenset(),
    map_failure=lambda _code: FailureReason.UNKNOWN,
    oauth=OAuth2Endpoints(
        authorize_path="/oauth2/authorize",
        token_path="/oauth2/token",
        scopes=("openid", "offline_access", "vehicle_device_data"),
        pkce=True,
    ),
)
