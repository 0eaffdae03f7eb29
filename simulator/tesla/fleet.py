"""Simulated Tesla cars and the account that owns them, with Tesla's billing meter.

A car charges at its charger's power up to its limit, falls asleep after some idle minutes (a
charging car stays awake), wakes a few seconds after `wake_up`, and answers commands with the
reasons real cars give (`already_set`, `is_charging`, `not_charging`, `complete`, `disconnected`).
The meter counts what Tesla bills: data reads $0.002, commands $0.001, wakes $0.02.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PRICES = {"data": 0.002, "command": 0.001, "wake": 0.02}
KM_PER_MILE = 1.609344


@dataclass(kw_only=True)
class TeslaCar:
    """One car's state as the Fleet API reports it."""

    vin: str
    id: int
    display_name: str
    last_activity: datetime
    command_signing: str = "required"
    online: bool = True
    # When a requested wake-up completes.
    waking_until: datetime | None = None
    battery_level: float = 60.0
    battery_capacity_kwh: float = 75.0
    charge_limit_soc: int = 80
    charge_limit_soc_min: int = 50
    charge_limit_soc_max: int = 100
    charge_current_request: int = 16
    charge_current_request_max: int = 32
    plugged_in: bool = False
    dc_charger: bool = False
    charging: bool = False
    charger_power_kw: float = 11.0
    charge_energy_added: float = 0.0
    charge_port_door_open: bool = False
    climate_on: bool = False
    driver_temp_setting: float = 21.0
    inside_temp: float = 14.0
    outside_temp: float = 9.0
    locked: bool = True
    odometer_mi: float = 12_345.6
    latitude: float = 52.3702
    longitude: float = 4.8952
    sleep_after: float = 900.0
    wake_delay: float = 5.0
    # A remote climate session ends by itself after this long, as on the real cars.
    climate_session: float = 1800.0
    climate_until: datetime | None = None
    simulated_to: datetime | None = None

    def advance(self, now: datetime) -> None:
        """Bring charging, waking and sleep up to `now`."""
        if self.waking_until is not None and now >= self.waking_until:
            self.online, self.waking_until = True, None
            self.last_activity = now
        if self.climate_until is not None and now >= self.climate_until:
            self.climate_on, self.climate_until = False, None
            self.last_activity = now
        since = self.simulated_to or now
        hours = max(0.0, (now - since).total_seconds() / 3600)
        self.simulated_to = now
        if self.charging and hours:
            added = self.charger_power_kw * hours
            room = (self.charge_limit_soc - self.battery_level) / 100 * self.battery_capacity_kwh
            added = max(0.0, min(added, room))
            self.charge_energy_added += added
            self.battery_level += added / self.battery_capacity_kwh * 100
            if self.battery_level >= self.charge_limit_soc - 0.01:
                self.battery_level = float(self.charge_limit_soc)
                self.charging = False
                self.last_activity = now
        idle = (now - self.last_activity).total_seconds()
        if self.online and not self.charging and not self.climate_on and idle >= self.sleep_after:
            self.online = False

    @property
    def state(self) -> str:
        """`online` or `asleep`, as `GET /vehicles/{vin}` says."""
        return "online" if self.online else "asleep"

    @property
    def asleep(self) -> bool:
        """Whether the car would answer 408."""
        return not self.online

    @property
    def charging_state(self) -> str:
        """Tesla's `charging_state`."""
        if not self.plugged_in:
            return "Disconnected"
        if self.charging:
            return "Charging"
        if self.battery_level >= self.charge_limit_soc - 0.01:
            return "Complete"
        return "Stopped"

    def touch(self, now: datetime) -> None:
        """Something happened: the idle timer restarts."""
        self.last_activity = now

    def start_climate(self) -> str | None:
        """Climate on for one session."""
        self.climate_on = True
        if self.simulated_to is not None:
            self.climate_until = self.simulated_to + timedelta(seconds=self.climate_session)
        return None

    def run_command(self, name: str, args: dict[str, Any]) -> str | None:
        """Apply a command; None when done, else the reason the car refuses it."""
        handler = _COMMANDS.get(name)
        if handler is None:
            return "unknown_command"
        return handler(self, args)

    def product(self) -> dict[str, Any]:
        """The item `GET /products` and `GET /vehicles/{vin}` answer."""
        return {
            "id": self.id,
            "vehicle_id": self.id + 1000,
            "vin": self.vin,
            "display_name": self.display_name,
            "state": self.state,
            "in_service": False,
            "access_type": "OWNER",
            "command_signing": self.command_signing,
            "api_version": 81,
        }

    def vehicle_data(self, endpoints: set[str]) -> dict[str, Any]:
        """`vehicle_data` with only the requested endpoints (all when none are named)."""
        blocks: dict[str, Any] = {
            "charge_state": self._charge_state(),
            "climate_state": {
                "is_climate_on": self.climate_on,
                "is_auto_conditioning_on": self.climate_on,
                "inside_temp": self.inside_temp,
                "outside_temp": self.outside_temp,
                "driver_temp_setting": self.driver_temp_setting,
                "passenger_temp_setting": self.driver_temp_setting,
                "min_avail_temp": 15.0,
                "max_avail_temp": 28.0,
                "timestamp": 0,
            },
            "vehicle_state": {"locked": self.locked, "odometer": round(self.odometer_mi, 1)},
            "drive_state": {"shift_state": None, "speed": None, "power": 0},
            "location_data": {"latitude": self.latitude, "longitude": self.longitude},
            "vehicle_config": {"car_type": "model3", "trim_badging": "74d"},
        }
        if not endpoints:
            endpoints = set(blocks) - {"location_data"}
        chosen = {name: block for name, block in blocks.items() if name in endpoints}
        # Tesla folds location_data into drive_state.
        if "location_data" in chosen:
            location = chosen.pop("location_data")
            chosen["drive_state"] = {**chosen.get("drive_state", {}), **location}
        return {**self.product(), **chosen}

    def _charge_state(self) -> dict[str, Any]:
        plugged = self.plugged_in
        remaining = (self.charge_limit_soc - self.battery_level) / 100 * self.battery_capacity_kwh
        hours = remaining / self.charger_power_kw if self.charging and self.charger_power_kw else 0
        return {
            "battery_level": round(self.battery_level),
            "usable_battery_level": round(self.battery_level),
            "battery_range": round(self.battery_level * 3.1, 2),
            "charge_limit_soc": self.charge_limit_soc,
            "charge_limit_soc_min": self.charge_limit_soc_min,
            "charge_limit_soc_max": self.charge_limit_soc_max,
            "charge_limit_soc_std": 90,
            "charge_current_request": self.charge_current_request,
            "charge_current_request_max": self.charge_current_request_max,
            "charger_actual_current": self.charge_current_request if self.charging else 0,
            "charger_power": round(self.charger_power_kw) if self.charging else 0,
            "charger_voltage": 230 if self.charging and not self.dc_charger else 0,
            "charging_state": self.charging_state,
            "charge_energy_added": round(self.charge_energy_added, 2),
            "minutes_to_full_charge": round(hours * 60),
            "time_to_full_charge": round(hours, 2),
            "charge_port_door_open": self.charge_port_door_open,
            "charge_port_latch": "Engaged" if plugged else "Disengaged",
            "conn_charge_cable": ("IEC" if not self.dc_charger else "Combo")
            if plugged
            else "<invalid>",
            "fast_charger_present": plugged and self.dc_charger,
            "fast_charger_type": "Combo" if plugged and self.dc_charger else "<invalid>",
            "timestamp": 0,
        }


def _charge_start(car: TeslaCar, _args: dict[str, Any]) -> str | None:
    if not car.plugged_in:
        return "disconnected"
    if car.charging:
        return "is_charging"
    if car.battery_level >= car.charge_limit_soc - 0.01:
        return "complete"
    car.charging = True
    return None


def _charge_stop(car: TeslaCar, _args: dict[str, Any]) -> str | None:
    if not car.charging:
        return "not_charging"
    car.charging = False
    return None


def _set_limit(car: TeslaCar, args: dict[str, Any]) -> str | None:
    percent = int(args.get("percent", -1))
    if not car.charge_limit_soc_min <= percent <= car.charge_limit_soc_max:
        return "invalid_charge_limit"
    if percent == car.charge_limit_soc:
        return "already_set"
    car.charge_limit_soc = percent
    return None


def _set_amps(car: TeslaCar, args: dict[str, Any]) -> str | None:
    amps = int(args.get("charging_amps", -1))
    if not 0 <= amps <= car.charge_current_request_max:
        return "invalid_charging_amps"
    car.charge_current_request = amps
    return None


def _setter(attribute: str, value: bool) -> Callable[[TeslaCar, dict[str, Any]], str | None]:
    def apply(car: TeslaCar, _args: dict[str, Any]) -> str | None:
        setattr(car, attribute, value)
        return None

    return apply


def _set_temps(car: TeslaCar, args: dict[str, Any]) -> str | None:
    car.driver_temp_setting = float(args.get("driver_temp", car.driver_temp_setting))
    return None


_COMMANDS: dict[str, Callable[[TeslaCar, dict[str, Any]], str | None]] = {
    "charge_start": _charge_start,
    "charge_stop": _charge_stop,
    "set_charge_limit": _set_limit,
    "set_charging_amps": _set_amps,
    "auto_conditioning_start": lambda car, _args: car.start_climate(),
    "auto_conditioning_stop": _setter("climate_on", False),
    "set_temps": _set_temps,
    "charge_port_door_open": _setter("charge_port_door_open", True),
    "charge_port_door_close": _setter("charge_port_door_open", False),
    "door_lock": _setter("locked", True),
    "door_unlock": _setter("locked", False),
}
COMMAND_NAMES = frozenset(_COMMANDS)


@dataclass(kw_only=True)
class TeslaAccount:
    """The owner's cars, the partner registrations and the billing meter."""

    now: Callable[[], datetime]
    cars: dict[str, TeslaCar] = field(default_factory=dict)
    # developer app (client id) → (its registered domain, that domain's public key as hex)
    partners: dict[str, tuple[str, str]] = field(default_factory=dict)
    # The allowed origin each developer app was created with; an app not listed allows any.
    allowed_origins: dict[str, str] = field(default_factory=dict)
    # The key file the simulator hosts at its own `/.well-known/` path, playing the app's domain.
    hosted_public_key: str | None = None
    meter: Counter[str] = field(default_factory=Counter)
    request_log: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Two cars: one plugged in and awake, one parked and asleep."""
        now = self.now()
        self.add_car(
            vin="5YJ3E7EB7KF000101",
            display_name="Red Model 3",
            plugged_in=True,
            battery_level=45.0,
            last_activity=now,
        )
        self.add_car(
            vin="7SAYGDEE5PF000202",
            display_name="Blue Model Y",
            online=False,
            battery_level=72.0,
            command_signing="off",
            last_activity=now,
        )

    def add_car(self, **fields: Any) -> TeslaCar:
        """A new car on the account."""
        car = TeslaCar(id=1_000_000 + len(self.cars), **fields)
        self.cars[car.vin] = car
        return car

    def register_partner(self, client_id: str, domain: str, public_key: str) -> None:
        """What `POST /api/1/partner_accounts` records once the domain's key was fetched."""
        self.partners[client_id] = (domain, public_key)

    def partner_key(self, client_id: str | None) -> str | None:
        """The public key (hex point) the app registered, if it did."""
        registered = self.partners.get(client_id or "")
        return registered[1] if registered else None

    def domain_key(self, domain: str) -> str | None:
        """The public key registered for a domain: what its pairing link pairs."""
        return next((key for known, key in self.partners.values() if known == domain), None)

    def settle(self) -> None:
        """Bring every car up to the clock."""
        now = self.now()
        for car in self.cars.values():
            car.advance(now)

    def bill(self, kind: str) -> None:
        """Count one billable call."""
        self.meter[kind] += 1

    @property
    def dollars(self) -> float:
        """What the metered calls cost at Tesla's prices."""
        return sum(PRICES[kind] * count for kind, count in self.meter.items())
