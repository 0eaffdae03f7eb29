"""Provider-neutral vehicle model.

Every provider client turns its own wire format into these types, and the Home Assistant side reads
nothing else. This module must not import Home Assistant: provider clients, the simulator and the
benchmark use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
import hashlib


class Capability(StrEnum):
    """What a vehicle can do through its provider; entities exist only for these."""

    CHARGING_CONTROL = "charging_control"
    CHARGE_PORT_CONTROL = "charge_port_control"
    CHARGE_LIMIT_CONTROL = "charge_limit_control"
    CLIMATE_CONTROL = "climate_control"
    TEMPERATURE_CONTROL = "temperature_control"
    DOOR_LOCK_CONTROL = "door_lock_control"
    CHARGING_CURRENT_CONTROL = "charging_current_control"
    WAKE_UP = "wake_up"
    # Readings only some providers send; without them the entity would sit at "unknown" forever.
    CLIMATE_READBACK = "climate_readback"
    ENERGY_REMAINING = "energy_remaining"
    ENERGY_ADDED = "energy_added"
    CABIN_TEMPERATURE = "cabin_temperature"
    OUTSIDE_TEMPERATURE = "outside_temperature"
    SLEEP_STATE = "sleep_state"
    # The provider tells an AC charger from a DC one (else a connected car's charger is unknown).
    CHARGER_TYPE = "charger_type"


class ChargingState(StrEnum):
    """Normalised charging state; a provider that gives none or an invalid one leaves it `None`."""

    STARTING = "starting"
    CHARGING = "charging"
    STOPPED = "stopped"
    COMPLETE = "complete"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NO_POWER = "no_power"


class ConnectionStatus(StrEnum):
    """Charger connection, in the vocabulary of Volvo's Energy API (seed 004).

    There is no `unknown` member: when a provider cannot tell AC from DC the state is `None`, which
    Home Assistant shows as unknown, instead of a literal state automations would have to filter.
    """

    CONNECTED_AC = "connected_ac"
    CONNECTED_DC = "connected_dc"
    DISCONNECTED = "disconnected"
    FAULT = "fault"


class CommandType(StrEnum):
    """Commands the integration can send, whatever the provider calls them."""

    START_CHARGING = "start_charging"
    STOP_CHARGING = "stop_charging"
    OPEN_CHARGE_PORT = "open_charge_port"
    CLOSE_CHARGE_PORT = "close_charge_port"
    SET_CHARGE_LIMIT = "set_charge_limit"
    SET_CHARGING_CURRENT = "set_charging_current"
    CLIMATE_ON = "climate_on"
    CLIMATE_OFF = "climate_off"
    SET_TEMPERATURE = "set_temperature"
    LOCK_DOORS = "lock_doors"
    UNLOCK_DOORS = "unlock_doors"
    WAKE_UP = "wake_up"

    @property
    def slot(self) -> str:
        """Commands that undo each other share a slot: only one of them may be in flight."""
        return _COMMAND_SLOTS.get(self, self.value)


_COMMAND_SLOTS = {
    CommandType.START_CHARGING: "charging",
    CommandType.STOP_CHARGING: "charging",
    CommandType.OPEN_CHARGE_PORT: "charge_port",
    CommandType.CLOSE_CHARGE_PORT: "charge_port",
    CommandType.CLIMATE_ON: "climate",
    CommandType.CLIMATE_OFF: "climate",
    CommandType.LOCK_DOORS: "door_lock",
    CommandType.UNLOCK_DOORS: "door_lock",
}


class FailureReason(StrEnum):
    """Why a command failed, in words that mean the same for every provider.

    Each provider maps its own codes onto these; the provider's code stays beside it (last-command
    sensor attributes, error text) so nothing is lost for a bug report.
    """

    OFFLINE = "offline"
    ASLEEP = "asleep"
    NOT_PLUGGED_IN = "not_plugged_in"
    ALREADY_IN_STATE = "already_in_state"
    CHARGING_REFUSED = "charging_refused"
    BUSY = "busy"
    IN_USE = "in_use"
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    UNSUPPORTED = "unsupported"
    NOT_PERMITTED = "not_permitted"
    CONSENT_EXPIRED = "consent_expired"
    ACCOUNT_ACTION_REQUIRED = "account_action_required"
    NOT_AT_LOCATION = "not_at_location"
    RATE_LIMITED = "rate_limited"
    CLOUD_ERROR = "cloud_error"
    INVALID_VALUE = "invalid_value"
    SUPERSEDED = "superseded"
    UNKNOWN = "unknown"


class CommandStatus(StrEnum):
    """Lifecycle of a command: pending until the car confirms or refuses it."""

    PENDING = "pending"
    # The car sleeps and is woken first (providers that can wake cars).
    WAKING = "waking"
    EXECUTED = "executed"
    FAILED = "failed"


def shows_in_a_reading(info: VehicleInfo, command: CommandType) -> bool:
    """Whether reading the car can show the command's effect (else no read is spent on it)."""
    if command in (CommandType.CLIMATE_ON, CommandType.CLIMATE_OFF, CommandType.SET_TEMPERATURE):
        return Capability.CLIMATE_READBACK in info.capabilities
    return True


def command_shown(command: Command, state: VehicleState) -> bool | None:
    """Whether a reading shows the command carried out; None where the reading cannot say.

    For a command whose answer never came: the car may have acted on it all the same.
    """

    def equal(reading: float | None, half_step: float) -> bool | None:
        # Providers send the value rounded to the car's step: within half a step is the same.
        if reading is None or command.value is None:
            return None
        return abs(reading - command.value) <= half_step

    charging = state.charging
    if charging is None and state.charging_state is not None:
        charging = state.charging_state in (ChargingState.STARTING, ChargingState.CHARGING)
    match command.type:
        case CommandType.START_CHARGING:
            return charging
        case CommandType.STOP_CHARGING:
            return None if charging is None else not charging
        case CommandType.OPEN_CHARGE_PORT | CommandType.CLOSE_CHARGE_PORT:
            wanted = command.type is CommandType.OPEN_CHARGE_PORT
            return None if state.charge_port_open is None else state.charge_port_open is wanted
        case CommandType.CLIMATE_ON | CommandType.CLIMATE_OFF:
            wanted = command.type is CommandType.CLIMATE_ON
            return None if state.climate_on is None else state.climate_on is wanted
        case CommandType.LOCK_DOORS | CommandType.UNLOCK_DOORS:
            wanted = command.type is CommandType.LOCK_DOORS
            return None if state.locked is None else state.locked is wanted
        case CommandType.SET_CHARGE_LIMIT:
            return equal(state.charge_limit, 0.5)
        case CommandType.SET_CHARGING_CURRENT:
            return equal(state.charging_current_a, 0.5)
        case CommandType.SET_TEMPERATURE:
            return equal(state.target_temperature_c, 0.25)
        case CommandType.WAKE_UP:
            return not state.asleep


def phase(value: str) -> float:
    """A stable number in [0, 1) for `value`: where in an interval this car's reads fall."""
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) / 2**32


def log_hash(value: str) -> str:
    """A stable, short stand-in for an identifier in log lines."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


@dataclass(frozen=True, kw_only=True)
class Command:
    """A command to send; `value` carries the argument of the `set_*` commands."""

    type: CommandType
    value: float | None = None


@dataclass(frozen=True, kw_only=True)
class CommandExecution:
    """A provider's answer about one command. Synchronous providers answer EXECUTED/FAILED at once."""

    id: str | None
    type: CommandType
    status: CommandStatus
    # The provider's own code, kept verbatim for the user and for bug reports.
    failed_reason: str | None = None
    # Seconds after which the provider itself gives up on a pending command.
    timeout: float | None = None


@dataclass(frozen=True, kw_only=True)
class NumberRange:
    """Bounds of a settable value as the provider accepts them."""

    minimum: float
    maximum: float
    step: float


@dataclass(frozen=True, kw_only=True)
class VehicleInfo:
    """What does not change between polls: identity, names, capabilities and setpoint bounds."""

    id: str
    vin: str | None
    make: str
    model: str | None = None
    model_year: str | None = None
    name: str | None = None
    account_id: str | None = None
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    # Fallback bounds; a provider that reports the car's own bounds puts them in VehicleState.
    charge_limit_range: NumberRange = NumberRange(minimum=50, maximum=100, step=1)
    temperature_range: NumberRange = NumberRange(minimum=15, maximum=28, step=0.5)
    charging_current_range: NumberRange = NumberRange(minimum=0, maximum=32, step=1)
    # Cars that take only signed commands: whether our key is paired (None: no pairing needed).
    key_paired: bool | None = None
    # Readings this car never sends (entity keys, e.g. "battery_level" on a petrol car), so their
    # entities are not created at all instead of sitting at "unknown" forever.
    unsupported: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> str:
        """What identifies the car across reconnections: the VIN, else the provider's id."""
        return self.vin or self.id

    @property
    def log_name(self) -> str:
        """How logs name the car: a short hash, so no VIN or provider id reaches a log file."""
        return f"vehicle {log_hash(self.key)}"

    @property
    def model_description(self) -> str | None:
        """Model and model year for the device page, e.g. "ID.4 (2023)"."""
        if self.model and self.model_year:
            return f"{self.model} ({self.model_year})"
        return self.model or self.model_year

    @property
    def display_name(self) -> str:
        """A name for the device: the one the owner gave, else make and model."""
        if self.name:
            return self.name
        return " ".join(part for part in (self.make.title(), self.model) if part)


@dataclass(frozen=True, kw_only=True)
class VehicleState:
    """One poll's worth of readings. `None` means the provider did not report that value."""

    fetched_at: datetime
    # Newest timestamp among the readings: how fresh the car's data really is.
    reported_at: datetime | None = None
    battery_level: float | None = None
    range_km: float | None = None
    odometer_km: float | None = None
    charging_state: ChargingState | None = None
    connection_status: ConnectionStatus | None = None
    plugged_in: bool | None = None
    charging: bool | None = None
    charge_port_open: bool | None = None
    charge_limit: float | None = None
    charging_power_kw: float | None = None
    charging_current_limit_a: float | None = None
    # The current the car is asked to draw (a setpoint), where the provider lets us set it.
    charging_current_a: float | None = None
    energy_added_kwh: float | None = None
    full_at: datetime | None = None
    energy_remaining_kwh: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    locked: bool | None = None
    climate_on: bool | None = None
    target_temperature_c: float | None = None
    cabin_temperature_c: float | None = None
    outside_temperature_c: float | None = None
    # The car's own bounds where the API sends them (Tesla); `VehicleInfo` holds the fallback.
    charge_limit_range: NumberRange | None = None
    charging_current_range: NumberRange | None = None
    # When the car will start a charge it has scheduled (a known charging window), if it says.
    scheduled_charge_at: datetime | None = None
    # The provider says the car sleeps or cannot be reached; readings are the last it had.
    asleep: bool = False
    # Readings the provider answered with an error this time (entity keys): those entities are
    # unavailable, the rest of the car is not.
    failed: frozenset[str] = frozenset()
