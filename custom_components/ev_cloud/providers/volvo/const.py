"""Volvo Cars API constants (Connected Vehicle v2, Energy v2, Location v1)."""

from __future__ import annotations

from typing import Final

from ...model import Capability, CommandType

API_ROOT: Final = "https://api.volvocars.com"
# Volvo ID; a custom environment (the simulator) serves these paths on its API URL.
AUTH_HOST: Final = "https://volvoid.eu.volvocars.com"
AUTHORIZE_PATH: Final = "/as/authorization.oauth2"
TOKEN_PATH: Final = "/as/token.oauth2"  # noqa: S105 - a path, not a secret
LOCATION_SCOPE: Final = "location:read"
SCOPES: Final = (
    "openid",
    "conve:vehicle_relation",
    "conve:commands",
    "conve:command_accessibility",
    "conve:doors_status",
    "conve:lock_status",
    "conve:odometer_status",
    "conve:climatization_start_stop",
    "conve:lock",
    "conve:unlock",
    "energy:state:read",
    "energy:capability:read",
    LOCATION_SCOPE,
)

# The header Azure API Management reads the application's key from.
API_KEY_HEADER: Final = "vcc-api-key"
# `ClientConfig.extra` keys: the application's VCC API key, and the scopes the token was granted
# (space-separated, as in the token answer) when the token itself does not carry them.
EXTRA_API_KEY: Final = "api_key"
EXTRA_SCOPE: Final = "scope"

VEHICLES_PATH: Final = "/connected-vehicle/v2/vehicles"
ENERGY_PATH: Final = "/energy/v2/vehicles"
LOCATION_PATH: Final = "/location/v1/vehicles"

# Volvo's command names in `/commands` → what they let the integration do. Both halves of a pair
# must be listed: a lock that cannot unlock is no lock entity.
CLIMATE_COMMANDS: Final = frozenset({"CLIMATIZATION_START", "CLIMATIZATION_STOP"})
LOCK_COMMANDS: Final = frozenset({"LOCK", "UNLOCK"})

# What the token must be granted for a capability (`conve:lock` and `conve:unlock` are restricted).
COMMAND_SCOPES: Final[dict[Capability, frozenset[str]]] = {
    Capability.CLIMATE_CONTROL: frozenset({"conve:climatization_start_stop"}),
    Capability.DOOR_LOCK_CONTROL: frozenset({"conve:lock", "conve:unlock"}),
}

# CommandType → the path segment after `/commands/`.
COMMAND_PATHS: Final[dict[CommandType, str]] = {
    CommandType.CLIMATE_ON: "climatization-start",
    CommandType.CLIMATE_OFF: "climatization-stop",
    CommandType.LOCK_DOORS: "lock",
    CommandType.UNLOCK_DOORS: "unlock",
}
# Commands whose effect can be read back (the doors' `centralLock`).
LOCK_READBACK: Final = frozenset({CommandType.LOCK_DOORS, CommandType.UNLOCK_DOORS})

# Volvo's API cannot start or stop charging, set the charge limit or the current (research B.9):
# the energy readings are read-only.
CAPABILITIES: Final = frozenset(
    {Capability.CLIMATE_CONTROL, Capability.DOOR_LOCK_CONTROL, Capability.CHARGER_TYPE}
)

KM_PER_MILE: Final = 1.609344

# Reads answer within seconds; 30 s is the ceiling before we call it a time-out.
REQUEST_TIMEOUT: Final = 30.0
# A command's POST blocks until the car answers, up to 150 s (Connected Vehicle v2 release
# notes); our HTTP time-out leaves Volvo room to answer at its own limit.
COMMAND_HTTP_TIMEOUT: Final = 160.0
# Connecting must not take long: a command whose connection never opened was never sent.
CONNECT_TIMEOUT: Final = 15.0
# How long `async_send_command` waits for the POST's answer before it answers PENDING.
ANSWER_WAIT: Final = 10.0
# From the POST's start, when an unanswered command is given up: Volvo's 150 s, the HTTP
# time-out above and a margin. Also `ProviderSpec.command_timeout`.
COMMAND_TIMEOUT: Final = 170.0
# A climatisation started remotely runs about 30 minutes unless the car is started (a third-party
# report, Dielee/volvo2mqtt#118; Volvo documents no duration and the API has no climate read-back).
CLIMATE_SESSION: Final = 1800.0
