"""Simulated Volvo cars, the account that owns them and Volvo's per-minute request quota.

A car charges with the clock at its charger's power until its target level, then reports DONE;
the Energy API only reads, as Volvo's does (charging is steered at the wallbox). Commands are
synchronous: the call lasts the car's command delay and its outcome is `invokeStatus`. The quota is
Volvo's published one, counted per (account, client id): 100 API calls and 10 commands a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math
from typing import Any

API_KEY = "sim-vcc-api-key"
NOT_SUPPORTED = ("NOT_SUPPORTED", "Resource is not supported for this vehicle")
PROPERTY_NOT_FOUND = (
    "PROPERTY_NOT_FOUND",
    "No valid value could be found for the requested property",
)
# The Energy API v2 state keys, in the order Volvo answers them.
ENERGY_KEYS = (
    "batteryChargeLevel",
    "electricRange",
    "chargerConnectionStatus",
    "chargingStatus",
    "chargingType",
    "chargerPowerStatus",
    "estimatedChargingTimeToTargetBatteryChargeLevel",
    "chargingCurrentLimit",
    "targetBatteryChargeLevel",
    "chargingPower",
)
# Capabilities name one resource differently from the state (HA maps them the same way).
CAPABILITY_KEYS = {key: key for key in ENERGY_KEYS} | {"chargingStatus": "chargingSystemStatus"}
# Command name as `/commands` lists it → the path segment of its POST.
COMMAND_PATHS = {
    "LOCK": "lock",
    "LOCK_REDUCED_GUARD": "lock-reduced-guard",
    "UNLOCK": "unlock",
    "HONK": "honk",
    "FLASH": "flash",
    "HONK_AND_FLASH": "honk-flash",
    "CLIMATIZATION_START": "climatization-start",
    "CLIMATIZATION_STOP": "climatization-stop",
    "ENGINE_START": "engine-start",
    "ENGINE_STOP": "engine-stop",
}
COMMAND_NAMES = {path: name for name, path in COMMAND_PATHS.items()}
GOOGLE_BUILT_IN_COMMANDS = (
    "LOCK",
    "LOCK_REDUCED_GUARD",
    "UNLOCK",
    "HONK_AND_FLASH",
    "CLIMATIZATION_START",
    "CLIMATIZATION_STOP",
)
CLASSIC_COMMANDS = (
    "LOCK",
    "UNLOCK",
    "HONK",
    "FLASH",
    "HONK_AND_FLASH",
    "CLIMATIZATION_START",
    "CLIMATIZATION_STOP",
    "ENGINE_START",
    "ENGINE_STOP",
)
INVOKE_STATUSES = frozenset(
    {
        "RUNNING",
        "WAITING",
        "COMPLETED",
        "REJECTED",
        "UNKNOWN",
        "TIMEOUT",
        "CONNECTION_FAILURE",
        "VEHICLE_IN_SLEEP",
        "DELIVERED",
        "CAR_ERROR",
        "NOT_ALLOWED_PRIVACY_ENABLED",
        "NOT_ALLOWED_WRONG_USAGE_MODE",
    }
)
# Outcomes after which the car did what it was told: HA's Volvo locks count DELIVERED as success.
APPLIED_STATUSES = frozenset({"COMPLETED", "DELIVERED"})
UNAVAILABLE_REASONS = frozenset(
    {"POWER_SAVING_MODE", "CAR_IN_USE", "NO_INTERNET", "OTA_INSTALLATION_IN_PROGRESS"}
)
PLUGS = ("NONE", "AC", "DC")


def timestamp(moment: datetime, *, millis: bool = False) -> str:
    """Volvo's UTC timestamps: seconds in the Energy API, milliseconds in Connected Vehicle."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def _choice(allowed: tuple[str, ...] | frozenset[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"{value!r} is not one of {sorted(allowed)}")
        return str(value)

    return check


def _invoke_status(value: Any) -> str | None:
    return None if value is None else _choice(INVOKE_STATUSES)(value)


# What the admin endpoint may set, each with how a JSON value becomes the field's type.
PATCHABLE: dict[str, Callable[[Any], Any]] = {
    "battery_level": float,
    "target_level": int,
    "current_limit": int,
    "plugged": _choice(PLUGS),
    "fault": bool,
    "charging_power_w": int,
    "locked": bool,
    "climate_on": bool,
    "engine_running": bool,
    "command_delay": float,
    "next_invoke_status": _invoke_status,
    "available": bool,
    "unavailable_reason": _choice(UNAVAILABLE_REASONS),
    "odometer_km": int,
    "latitude": float,
    "longitude": float,
    "heading": int,
}


@dataclass(kw_only=True)
class VolvoCar:
    """One car as Volvo's Connected Vehicle, Energy and Location APIs report it."""

    vin: str
    model: str
    model_year: int
    fuel_type: str
    external_colour: str
    upholstery: str
    # None for a car without a traction battery: the details then leave the key out.
    battery_capacity_kwh: float | None
    changed_at: datetime
    energy_api: bool = True
    # Energy state keys the car reports; the others answer ERROR NOT_SUPPORTED.
    supported: frozenset[str] = frozenset(ENERGY_KEYS)
    commands: tuple[str, ...] = GOOGLE_BUILT_IN_COMMANDS
    battery_level: float = 50.0
    # The electric range at 100 %, in `range_unit`; the range scales with the battery level.
    range_at_full: float = 400.0
    range_unit: str = "km"
    target_level: int = 80
    current_limit: int = 32
    # "NONE" (unplugged), "AC" or "DC".
    plugged: str = "NONE"
    # A fault in the charging system: connection FAULT, charging ERROR.
    fault: bool = False
    # What the charger gives while charging; 0 is a wallbox that holds the charge back.
    charging_power_w: int = 11_000
    # Some cars (the EX30) report chargingPower as PROPERTY_NOT_FOUND instead of 0 when idle.
    power_missing_when_idle: bool = False
    locked: bool = True
    climate_on: bool = False
    engine_running: bool = False
    odometer_km: int = 30_000
    latitude: float = 57.7089
    longitude: float = 11.9746
    heading: int = 90
    # Seconds a command call blocks before it answers (Volvo allows up to 150).
    command_delay: float = 3.0
    # The outcome the next command gets instead of COMPLETED; used once.
    next_invoke_status: str | None = None
    available: bool = True
    unavailable_reason: str = "POWER_SAVING_MODE"
    simulated_to: datetime | None = None

    @property
    def plugged_in(self) -> bool:
        """Whether a cable is connected."""
        return self.plugged != "NONE"

    @property
    def charging(self) -> bool:
        """Whether energy flows into the battery now."""
        return (
            self.plugged_in
            and not self.fault
            and self.charging_power_w > 0
            and self.battery_capacity_kwh is not None
            and self.battery_level < self.target_level - 0.01
        )

    @property
    def charging_status(self) -> str:
        """The Energy API's `chargingStatus`."""
        if self.fault:
            return "ERROR"
        if not self.plugged_in:
            return "IDLE"
        if self.battery_level >= self.target_level - 0.01:
            return "DONE"
        return "CHARGING" if self.charging else "IDLE"

    @property
    def charger_power_status(self) -> str:
        """The Energy API's `chargerPowerStatus`."""
        if self.fault:
            return "FAULT"
        if self.charging:
            return "PROVIDING_POWER"
        if self.charging_status == "DONE":
            return "POWER_AVAILABLE_BUT_NOT_ACTIVATED"
        return "NO_POWER_AVAILABLE"

    def advance(self, now: datetime) -> None:
        """Bring the battery up to `now`: it fills at the charger's power, stopping at the target."""
        since = self.simulated_to or now
        hours = max(0.0, (now - since).total_seconds() / 3600)
        self.simulated_to = now
        if not (self.charging and hours and self.battery_capacity_kwh):
            return
        added = self.charging_power_w / 1000 * hours / self.battery_capacity_kwh * 100
        self.battery_level = min(self.battery_level + added, float(self.target_level))

    def update(self, changes: dict[str, Any], now: datetime) -> None:
        """Set fields (the admin endpoint), charging up to `now` at the old settings first.

        Raises:
            KeyError: a field that cannot be set.
            ValueError: a value the field does not take.
        """
        self.advance(now)
        converted = {name: PATCHABLE[name](value) for name, value in changes.items()}
        for name, value in converted.items():
            setattr(self, name, value)
        if "locked" in converted:
            self.changed_at = now

    def take_invoke_status(self) -> str:
        """The outcome of the command now sent: the forced one once, else COMPLETED."""
        status, self.next_invoke_status = self.next_invoke_status or "COMPLETED", None
        return status

    def apply(self, command: str) -> None:
        """What a command that reached the car changes."""
        match command:
            case "LOCK" | "LOCK_REDUCED_GUARD":
                self.locked = True
            case "UNLOCK":
                self.locked = False
            case "CLIMATIZATION_START":
                self.climate_on = True
            case "CLIMATIZATION_STOP":
                self.climate_on = False
            case "ENGINE_START":
                self.engine_running = True
            case "ENGINE_STOP":
                self.engine_running = False
            case _:  # honk and flash change nothing that can be read
                pass

    def details(self) -> dict[str, Any]:
        """`GET /connected-vehicle/v2/vehicles/{vin}`'s data."""
        slug = self.model.lower()
        body: dict[str, Any] = {
            "vin": self.vin,
            "modelYear": self.model_year,
            "gearbox": "AUTOMATIC",
            "fuelType": self.fuel_type,
            "externalColour": self.external_colour,
        }
        if self.battery_capacity_kwh is not None:
            body["batteryCapacityKWH"] = self.battery_capacity_kwh
        return body | {
            "images": {
                "exteriorImageUrl": f"https://sim.volvocars.invalid/{slug}/exterior.png",
                "internalImageUrl": f"https://sim.volvocars.invalid/{slug}/interior.jpg",
            },
            "descriptions": {
                "model": self.model,
                "upholstery": self.upholstery,
                "steering": "LEFT",
            },
        }

    def doors(self) -> dict[str, Any]:
        """`…/doors`: the central lock, every door, hood, tailgate and tank lid closed."""
        stamp = timestamp(self.changed_at, millis=True)
        closed = {"value": "CLOSED", "timestamp": stamp}
        parts = (
            "frontLeftDoor",
            "frontRightDoor",
            "rearLeftDoor",
            "rearRightDoor",
            "hood",
            "tailgate",
            "tankLid",
        )
        lock = {"value": "LOCKED" if self.locked else "UNLOCKED", "timestamp": stamp}
        return {"centralLock": lock} | {part: dict(closed) for part in parts}

    def odometer(self, now: datetime) -> dict[str, Any]:
        """`…/odometer`."""
        stamp = timestamp(now, millis=True)
        return {"odometer": {"value": self.odometer_km, "unit": "km", "timestamp": stamp}}

    def command_list(self) -> list[dict[str, str]]:
        """`…/commands`: what this car accepts, each with the path to POST."""
        base = f"/connected-vehicle/v2/vehicles/{self.vin}/commands"
        return [
            {"command": name, "href": f"{base}/{COMMAND_PATHS[name]}"} for name in self.commands
        ]

    def accessibility(self, now: datetime) -> dict[str, Any]:
        """`…/command-accessibility`: the reason only while unavailable."""
        stamp = timestamp(now, millis=True)
        status = "AVAILABLE" if self.available else "UNAVAILABLE"
        body: dict[str, Any] = {"availabilityStatus": {"value": status, "timestamp": stamp}}
        if not self.available:
            body["unavailableReason"] = {"value": self.unavailable_reason, "timestamp": stamp}
        return body

    def location(self, now: datetime) -> dict[str, Any]:
        """`GET /location/v1/vehicles/{vin}/location`: a GeoJSON feature, [lon, lat, alt]."""
        return {
            "type": "Feature",
            "properties": {"timestamp": timestamp(now, millis=True), "heading": str(self.heading)},
            "geometry": {"type": "Point", "coordinates": [self.longitude, self.latitude, 0.0]},
        }

    def energy_state(self, now: datetime) -> dict[str, Any]:
        """`GET /energy/v2/vehicles/{vin}/state`: every key, OK with a value or ERROR with a code."""
        charging = self.charging
        remaining_kwh = (
            (self.target_level - self.battery_level) / 100 * (self.battery_capacity_kwh or 0.0)
        )
        minutes = math.ceil(remaining_kwh / (self.charging_power_w / 1000) * 60) if charging else 0
        values: dict[str, tuple[Any, str | None]] = {
            "batteryChargeLevel": (round(self.battery_level, 1), "percentage"),
            "electricRange": (
                round(self.battery_level / 100 * self.range_at_full),
                self.range_unit,
            ),
            "chargerConnectionStatus": (
                "FAULT" if self.fault else "CONNECTED" if self.plugged_in else "DISCONNECTED",
                None,
            ),
            "chargingStatus": (self.charging_status, None),
            "chargingType": (self.plugged, None),
            "chargerPowerStatus": (self.charger_power_status, None),
            "estimatedChargingTimeToTargetBatteryChargeLevel": (minutes, "minutes"),
            "chargingCurrentLimit": (self.current_limit, "ampere"),
            "targetBatteryChargeLevel": (self.target_level, "percentage"),
            "chargingPower": (self.charging_power_w if charging else 0, "watts"),
        }
        stamp = timestamp(now)
        state: dict[str, Any] = {}
        for key in ENERGY_KEYS:
            if not self.energy_api or key not in self.supported:
                state[key] = _resource_error(NOT_SUPPORTED)
            elif key == "chargingPower" and not charging and self.power_missing_when_idle:
                state[key] = _resource_error(PROPERTY_NOT_FOUND)
            else:
                value, unit = values[key]
                resource: dict[str, Any] = {"status": "OK", "value": value}
                if unit is not None:
                    resource["unit"] = unit
                state[key] = resource | {"updatedAt": stamp}
        return state

    def energy_capabilities(self) -> dict[str, Any]:
        """`GET /energy/v2/vehicles/{vin}/capabilities`: all false without the Energy API."""
        children = {
            CAPABILITY_KEYS[key]: {"isSupported": self.energy_api and key in self.supported}
            for key in ENERGY_KEYS
        }
        return {"getEnergyState": {"isSupported": self.energy_api, **children}}

    def state(self) -> dict[str, Any]:
        """Every settable field and what the car reports from it, for the admin endpoints."""
        return {
            **{name: getattr(self, name) for name in PATCHABLE},
            "vin": self.vin,
            "model": self.model,
            "charging": self.charging,
            "charging_status": self.charging_status,
            "commands": list(self.commands),
        }


def _resource_error(error: tuple[str, str]) -> dict[str, str]:
    return {"status": "ERROR", "code": error[0], "message": error[1]}


@dataclass
class _Window:
    """One fixed quota window: it opens with its first request and lasts a period."""

    opened: datetime
    count: int = 0


@dataclass(kw_only=True)
class Quota:
    """A fixed-window request limit per key, as Volvo's gateway counts it."""

    limit: int
    period: timedelta = timedelta(minutes=1)
    windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def retry_after(self, key: tuple[str, str], now: datetime) -> int | None:
        """None when one more request fits, else whole seconds until the window resets."""
        window = self.windows.get(key)
        if window is None or now >= window.opened + self.period or window.count < self.limit:
            return None
        return max(1, math.ceil((window.opened + self.period - now).total_seconds()))

    def count(self, key: tuple[str, str], now: datetime) -> None:
        """One more request in the key's current window (opening a new one when it ran out)."""
        window = self.windows.get(key)
        if window is None or now >= window.opened + self.period:
            window = self.windows[key] = _Window(opened=now)
        window.count += 1


@dataclass(kw_only=True)
class VolvoAccount:
    """The owner's cars, the valid API keys, the quota and a log of the calls made."""

    now: Callable[[], datetime]
    # Each new car's command delay (the Simulator passes its own).
    command_delay: float = 3.0
    api_keys: set[str] = field(default_factory=lambda: {API_KEY})
    cars: dict[str, VolvoCar] = field(default_factory=dict)
    general_quota: Quota = field(default_factory=lambda: Quota(limit=100))
    command_quota: Quota = field(default_factory=lambda: Quota(limit=10))
    # (method, route template) of every API call, accepted or not.
    request_log: list[tuple[str, str]] = field(default_factory=list)
    # (vin, command, invokeStatus) of every command answered or still running.
    command_log: list[tuple[str, str, str]] = field(default_factory=list)
    # Commands whose car part still runs; the reference keeps each alive after its caller left.
    running: set[asyncio.Task[dict[str, Any]]] = field(default_factory=set)

    def __post_init__(self) -> None:
        """The contract's four cars: two electric, a plug-in hybrid and a petrol car."""
        self.add_car(
            vin="YV1XZEFV8R2000001",
            model="EX30",
            model_year=2024,
            fuel_type="ELECTRIC",
            external_colour="Crystal White Pearl",
            upholstery="R310",
            battery_capacity_kwh=66.0,
            battery_level=38.0,
            range_at_full=237.0,
            target_level=90,
            current_limit=32,
            power_missing_when_idle=True,
            odometer_km=12_480,
        )
        self.add_car(
            vin="YV1XZK9V5R2000002",
            model="XC40",
            model_year=2024,
            fuel_type="ELECTRIC",
            external_colour="Silver Dawn",
            upholstery="R7C0",
            battery_capacity_kwh=79.0,
            battery_level=53.0,
            range_at_full=260.0,
            range_unit="mi",
            target_level=80,
            current_limit=16,
            plugged="AC",
            charging_power_w=11_000,
            odometer_km=21_305,
            latitude=57.7213,
            longitude=11.9443,
        )
        self.add_car(
            vin="YV1UZL1V1L1000003",
            model="XC60",
            model_year=2020,
            fuel_type="PETROL/ELECTRIC",
            external_colour="Bright Silver",
            upholstery="CHARCOAL/LEABR3/CHARC/SPO",
            battery_capacity_kwh=11.832,
            battery_level=70.0,
            range_at_full=45.0,
            target_level=80,
            charging_power_w=3_700,
            supported=frozenset(
                {"chargerConnectionStatus", "chargingStatus", "targetBatteryChargeLevel"}
            ),
            commands=tuple(c for c in GOOGLE_BUILT_IN_COMMANDS if c != "LOCK_REDUCED_GUARD"),
            odometer_km=68_912,
        )
        self.add_car(
            vin="YV4A22PK7K1000004",
            model="XC90",
            model_year=2019,
            fuel_type="PETROL",
            external_colour="Passion Red Solid",
            upholstery="CHARCOAL/LEABR/CHARC/S",
            battery_capacity_kwh=None,
            battery_level=0.0,
            range_at_full=0.0,
            energy_api=False,
            supported=frozenset(),
            commands=CLASSIC_COMMANDS,
            odometer_km=104_220,
        )

    def add_car(self, **fields: Any) -> VolvoCar:
        """A new car on the account, settled to the clock."""
        now = self.now()
        fields.setdefault("command_delay", self.command_delay)
        car = VolvoCar(changed_at=now, simulated_to=now, **fields)
        self.cars[car.vin] = car
        return car

    def settle(self) -> None:
        """Bring every car up to the clock."""
        now = self.now()
        for car in self.cars.values():
            car.advance(now)

    def admit(self, account: str, client_id: str, *, command: bool) -> int | None:
        """Count a call against the quota; None if it may go ahead, else its Retry-After.

        Every call counts toward the general 100 a minute, commands also toward their 10. A refused
        call counts toward neither, so the first call after the window resets goes through.
        """
        key, now = (account, client_id), self.now()
        quotas = [self.general_quota, self.command_quota] if command else [self.general_quota]
        waits = [wait for quota in quotas if (wait := quota.retry_after(key, now)) is not None]
        if waits:
            return max(waits)
        for quota in quotas:
            quota.count(key, now)
        return None

    async def commands_done(self) -> None:
        """Wait until every command sent so far has reached its car."""
        while self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

    def state(self) -> dict[str, Any]:
        """Every car's state, for the admin endpoints."""
        self.settle()
        return {"vehicles": {vin: car.state() for vin, car in self.cars.items()}}
