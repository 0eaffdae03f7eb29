"""Provider-neutral vehicle model.

Every provider client turns its own wire format into these types, and the Home Assistant side reads
nothing else. This module must not import Home Assistant: provider clients, the simulator and the
benchmark use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ProviderName(StrEnum):
    """The clouds EV Cloud can talk to."""

    VOLTERAS = "volteras"


class Capability(StrEnum):
    """What a vehicle can do through its provider; entities exist only for these."""

    CHARGING_CONTROL = "charging_control"
    CHARGE_PORT_CONTROL = "charge_port_control"
    CHARGE_LIMIT_CONTROL = "charge_limit_control"
    CLIMATE_CONTROL = "climate_control"
    TEMPERATURE_CONTROL = "temperature_control"
    DOOR_LOCK_CONTROL = "door_lock_control"
    WAKE_UP = "wake_up"


class ChargingState(StrEnum):
    """Normalised charging state; `unknown` when the provider gives none or an invalid one."""

    STARTING = "starting"
    CHARGING = "charging"
    STOPPED = "stopped"
    COMPLETE = "complete"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NO_POWER = "no_power"
    UNKNOWN = "unknown"


class ConnectionStatus(StrEnum):
    """Charger connection, in the vocabulary of Volvo's Energy API (seed 004)."""

    CONNECTED_AC = "connected_ac"
    CONNECTED_DC = "connected_dc"
    DISCONNECTED = "disconnected"
    FAULT = "fault"
    UNKNOWN = "unknown"


class CommandType(StrEnum):
    """Commands the integration can send, whatever the provider calls them."""

    START_CHARGING = "start_charging"
    STOP_CHARGING = "stop_charging"
    OPEN_CHARGE_PORT = "open_charge_port"
    CLOSE_CHARGE_PORT = "close_charge_port"
    SET_CHARGE_LIMIT = "set_charge_limit"
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


class CommandStatus(StrEnum):
    """Lifecycle of a command: pending until the car confirms or refuses it."""

    PENDING = "pending"
    EXECUTED = "executed"
    FAILED = "failed"


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
    vin: str
    make: str
    model: str | None = None
    model_year: str | None = None
    name: str | None = None
    account_id: str | None = None
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    charge_limit_range: NumberRange = NumberRange(minimum=50, maximum=100, step=1)
    temperature_range: NumberRange = NumberRange(minimum=15, maximum=28, step=0.5)

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
    charging_state: ChargingState = ChargingState.UNKNOWN
    connection_status: ConnectionStatus = ConnectionStatus.UNKNOWN
    plugged_in: bool | None = None
    charging: bool | None = None
    charge_port_open: bool | None = None
    charge_limit: float | None = None
    charging_power_kw: float | None = None
    charging_current_limit_a: float | None = None
    full_at: datetime | None = None
    energy_remaining_kwh: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    locked: bool | None = None
    # The provider says the car sleeps or cannot be reached; readings are the last it had.
    asleep: bool = False
