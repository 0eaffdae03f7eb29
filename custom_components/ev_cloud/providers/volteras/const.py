"""Volteras API constants, from its OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Final

from ...model import Capability, CommandType

PRODUCTION_URL: Final = "https://api.volteras.com"
SANDBOX_URL: Final = "https://api.sandbox.volteras.com"

TOKEN_PATH: Final = "/v1/oauth2/token"  # noqa: S105 - a path, not a secret
TEST_TOKEN_PATH: Final = "/v1/oauth2/test-token"  # noqa: S105 - a path, not a secret
CONNECT_PATH: Final = "/v1/accounts:connect"
VEHICLES_PATH: Final = "/v1/vehicles"

# Seconds one HTTP request may take before it counts as a passing failure.
REQUEST_TIMEOUT: Final = 30.0
# Renew this long before the access token expires, so no request races its expiry.
TOKEN_REFRESH_MARGIN: Final = 60.0
PAGE_SIZE: Final = 100

# CommandType → the action suffix of POST /v1/vehicles/{id}/command-execution:<action>.
COMMAND_ACTIONS: Final[dict[CommandType, str]] = {
    CommandType.START_CHARGING: "start-charging",
    CommandType.STOP_CHARGING: "stop-charging",
    CommandType.OPEN_CHARGE_PORT: "open-charge-port",
    CommandType.CLOSE_CHARGE_PORT: "close-charge-port",
    CommandType.SET_CHARGE_LIMIT: "set-charge-limit",
    CommandType.CLIMATE_ON: "climate-on",
    CommandType.CLIMATE_OFF: "climate-off",
    CommandType.SET_TEMPERATURE: "set-temperature",
    CommandType.LOCK_DOORS: "lock-doors",
    CommandType.UNLOCK_DOORS: "unlock-doors",
}

# Volteras has no capability endpoint. Every make gets the commands the API offers for all;
# the charge port only where the port is motorised and known to accept remote commands.
BASE_CAPABILITIES: Final = frozenset(
    {
        Capability.CHARGING_CONTROL,
        Capability.CHARGE_LIMIT_CONTROL,
        Capability.CLIMATE_CONTROL,
        Capability.TEMPERATURE_CONTROL,
        Capability.DOOR_LOCK_CONTROL,
        Capability.ENERGY_REMAINING,
    }
)
MOTORISED_CHARGE_PORT_MAKES: Final = frozenset({"TESLA"})

KM_PER_MILE: Final = 1.609344

# Volteras fails a command that stays PENDING for five minutes.
COMMAND_TIMEOUT: Final = 300.0
# Volteras cannot read climate back; car makers end a remote climate session after about this long.
CLIMATE_SESSION: Final = 1800.0
