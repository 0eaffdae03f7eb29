"""Tesla Fleet API constants."""

from __future__ import annotations

from typing import Final

from ...model import Capability, CommandType

# Production: the server of the region the token names (`ou_code`); this one until it is known.
PRODUCTION_URL: Final = "https://fleet-api.prd.na.vn.cloud.tesla.com"
# Tesla moved partner token calls to this host in 2025; HA's tesla_fleet signs in here too.
AUTH_HOST: Final = "https://fleet-auth.prd.vn.cloud.tesla.com"
AUTHORIZE_PATH: Final = "/oauth2/v3/authorize"
TOKEN_PATH: Final = "/oauth2/v3/token"  # noqa: S105 - a path, not a secret
SCOPES: Final = (
    "openid",
    "offline_access",
    "vehicle_device_data",
    "vehicle_location",
    "vehicle_cmds",
    "vehicle_charging_cmds",
)
LOCATION_SCOPE: Final = "vehicle_location"

# Only what the entities use: every endpoint more is data Tesla sends (and we parse) for nothing.
DATA_ENDPOINTS: Final = ("charge_state", "climate_state", "vehicle_state")

# Outcomes that mean "already as asked": the user got what they wanted.
ALREADY_SO: Final = frozenset(
    {"already_set", "not_charging", "is_charging", "requested", "complete"}
)

CAPABILITIES: Final = frozenset(
    {
        Capability.CHARGING_CONTROL,
        Capability.CHARGE_PORT_CONTROL,
        Capability.CHARGE_LIMIT_CONTROL,
        Capability.CHARGING_CURRENT_CONTROL,
        Capability.CLIMATE_CONTROL,
        Capability.TEMPERATURE_CONTROL,
        Capability.DOOR_LOCK_CONTROL,
        Capability.WAKE_UP,
        Capability.CLIMATE_READBACK,
        Capability.ENERGY_ADDED,
        Capability.CABIN_TEMPERATURE,
        Capability.OUTSIDE_TEMPERATURE,
        Capability.SLEEP_STATE,
        Capability.CHARGER_TYPE,
    }
)

# CommandType → the library method (the same name as the REST command).
COMMAND_METHODS: Final[dict[CommandType, str]] = {
    CommandType.START_CHARGING: "charge_start",
    CommandType.STOP_CHARGING: "charge_stop",
    CommandType.OPEN_CHARGE_PORT: "charge_port_door_open",
    CommandType.CLOSE_CHARGE_PORT: "charge_port_door_close",
    CommandType.SET_CHARGE_LIMIT: "set_charge_limit",
    CommandType.SET_CHARGING_CURRENT: "set_charging_amps",
    CommandType.CLIMATE_ON: "auto_conditioning_start",
    CommandType.CLIMATE_OFF: "auto_conditioning_stop",
    CommandType.SET_TEMPERATURE: "set_temps",
    CommandType.LOCK_DOORS: "door_lock",
    CommandType.UNLOCK_DOORS: "door_unlock",
}

KM_PER_MILE: Final = 1.609344
# A wake-up takes 10 to 60 s; give up after this and say so.
WAKE_TIMEOUT: Final = 60.0
WAKE_POLL: Final = 3.0
# Seconds one Fleet API call may take; Tesla answers 408 itself after about 30.
REQUEST_TIMEOUT: Final = 35.0
