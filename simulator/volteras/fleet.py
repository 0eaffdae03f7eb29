"""Volteras's world: API clients, tokens, accounts, vehicles and command executions.

Physics is lazy and driven by the injected clock: nothing ticks in the background, every read
first brings the world up to `now()`. That keeps the simulator deterministic and lets the
benchmark run a whole day of virtual time in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
import itertools
import secrets
from typing import Any

DEFAULT_ORGANIZATION = "sim-org"
DEFAULT_ACCOUNT = "acc-sim-1"
DEFAULT_CLIENT = ("sim-client", "sim-secret")
COMMAND_TIMEOUT = 300  # seconds; Volteras fails a command still pending after 5 minutes
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The smallest time step the cars' physics are advanced by (see `VolterasCloud.settle`).
PHYSICS_STEP = timedelta(seconds=1)


@dataclass(kw_only=True)
class SimVehicle:
    """A simulated car. `charging` is the charging the owner asked for, not what flows."""

    id: str
    vin: str
    make: str
    model: str | None = None
    model_year: str | None = None
    account_id: str = DEFAULT_ACCOUNT
    organization_id: str = DEFAULT_ORGANIZATION
    soc: float = 50.0
    charge_limit: int = 80
    plugged_in: bool = False
    charging: bool = False
    charge_port_open: bool = False
    locked: bool = True
    climate_on: bool = False
    driver_temperature: float = 21.0
    passenger_temperature: float = 21.0
    charge_power_kw: float = 11.0
    charge_current_limit_a: float = 16.0
    # False: offline (no network). Reads still answer with the last data; commands fail.
    online: bool = True
    odometer_km: float = 12_000.0
    latitude: float = 52.3676
    longitude: float = 4.9041
    battery_capacity_kwh: float = 75.0
    range_per_percent_km: float = 4.5
    # Seconds without activity after which the car sleeps: its readings stop advancing.
    sleep_after: float = 900.0
    last_activity: datetime = field(default_factory=_utcnow)
    reported_at: datetime = field(default_factory=_utcnow)
    simulated_to: datetime = field(default_factory=_utcnow)

    @property
    def charging_now(self) -> bool:
        """Energy flows: asked to charge, plugged in, below the limit."""
        return self.charging and self.plugged_in and self.soc < self.charge_limit

    def asleep(self, now: datetime) -> bool:
        """Idle long enough to sleep (a charging car stays awake)."""
        if self.charging_now:
            return False
        return (now - self.last_activity).total_seconds() >= self.sleep_after

    def advance(self, now: datetime) -> None:
        """Bring the car's physics up to `now`."""
        if now <= self.simulated_to:
            return
        hours = (now - self.simulated_to).total_seconds() / 3600
        if self.charging_now:
            gained = self.charge_power_kw * hours / self.battery_capacity_kwh * 100
            self.soc = min(float(self.charge_limit), self.soc + gained)
            self.last_activity = now
        self.simulated_to = now
        if self.online and not self.asleep(now):
            self.reported_at = now

    def wake(self, now: datetime) -> None:
        """Activity (a command, plugging in) keeps the car awake for a while."""
        self.advance(now)
        self.last_activity = now
        if self.online:
            self.reported_at = now

    def update(self, changes: dict[str, Any], now: datetime) -> None:
        """Apply an admin patch (e.g. plug in), as activity in the car."""
        self.advance(now)
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names or key == "id":
                raise KeyError(key)
            setattr(self, key, value)
        if changes.get("plugged_in") is False:
            self.charging = False
        self.wake(now)


@dataclass(kw_only=True)
class Execution:
    """A command execution as Volteras tracks it."""

    id: str
    vehicle_id: str
    command: str
    arguments: dict[str, Any] | None
    created_at: datetime
    status: str = "PENDING"
    failed_reason: str | None = None
    executed_at: datetime | None = None
    planned_failure: str | None = None


# command → effect on the car when executed; None when the car refuses.
def _start_charging(vehicle: SimVehicle, _: dict[str, Any] | None) -> str | None:
    if not vehicle.plugged_in:
        return "OEM_VEHICLE_CHARGING_NOT_STARTED"
    vehicle.charging = True
    return None


def _setter(attribute: str, value: Any) -> Callable[[SimVehicle, dict[str, Any] | None], None]:
    def effect(vehicle: SimVehicle, _: dict[str, Any] | None) -> None:
        setattr(vehicle, attribute, value)

    return effect


def _set_charge_limit(vehicle: SimVehicle, arguments: dict[str, Any] | None) -> None:
    vehicle.charge_limit = int((arguments or {})["limit"])


def _set_temperature(vehicle: SimVehicle, arguments: dict[str, Any] | None) -> None:
    vehicle.driver_temperature = float((arguments or {})["driverTemperature"])
    vehicle.passenger_temperature = float((arguments or {})["passengerTemperature"])


EFFECTS: dict[str, Callable[[SimVehicle, dict[str, Any] | None], str | None]] = {
    "START_CHARGING": _start_charging,
    "STOP_CHARGING": _setter("charging", False),
    "OPEN_CHARGE_PORT": _setter("charge_port_open", True),
    "CLOSE_CHARGE_PORT": _setter("charge_port_open", False),
    "SET_CHARGE_LIMIT": _set_charge_limit,
    "CLIMATE_ON": _setter("climate_on", True),
    "START_HVAC_SYSTEM": _setter("climate_on", True),
    "CLIMATE_OFF": _setter("climate_on", False),
    "SET_TEMPERATURE": _set_temperature,
    "LOCK_DOORS": _setter("locked", True),
    "UNLOCK_DOORS": _setter("locked", False),
    "ACTUATE_FRONT_TRUNK": lambda vehicle, _: None,
    "ACTUATE_REAR_TRUNK": lambda vehicle, _: None,
}


@dataclass(kw_only=True)
class Consent:
    """A consent link handed out by POST /v1/accounts:connect."""

    organization_id: str
    return_url: str


class VolterasCloud:
    """Everything Volteras knows, and the rules it applies."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = _utcnow,
        command_delay: float = 3.0,
        token_lifetime: int = 3600,
        default_fleet: bool = True,
    ) -> None:
        """An organisation with one API client and, by default, three cars on one account."""
        self.now = now
        self.command_delay = command_delay
        self.token_lifetime = token_lifetime
        self.clients: dict[str, tuple[str, str]] = {}
        self.accounts: dict[str, tuple[str, str]] = {}  # id → (organization, username)
        self.vehicles: dict[str, SimVehicle] = {}
        self.executions: dict[str, Execution] = {}
        self.access_tokens: dict[str, tuple[str, datetime]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.consents: dict[str, Consent] = {}
        self.request_log: list[tuple[str, str]] = []
        # The plan's device limit per organisation (None: unlimited).
        self.device_limit: int | None = None
        self._physics_at: datetime | None = None
        self._planned_failures: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self.add_client(*DEFAULT_CLIENT, DEFAULT_ORGANIZATION)
        if default_fleet:
            self._add_default_fleet()

    def _add_default_fleet(self) -> None:
        self.add_account(DEFAULT_ACCOUNT, DEFAULT_ORGANIZATION, "owner@example.com")
        self.add_vehicle(
            id="veh-tesla-m3",
            vin="5YJ3E7EB2NF000001",
            make="TESLA",
            model="Model 3",
            model_year="2022",
            soc=64.0,
            charge_limit=80,
            plugged_in=True,
            battery_capacity_kwh=60.0,
            range_per_percent_km=4.9,
        )
        self.add_vehicle(
            id="veh-vw-id4",
            vin="WVGZZZE2ZNP000002",
            make="VOLKSWAGEN",
            model="ID.4",
            model_year="2023",
            soc=41.0,
            charge_limit=90,
            latitude=48.1372,
            longitude=11.5756,
            battery_capacity_kwh=77.0,
            range_per_percent_km=4.6,
        )
        self.add_vehicle(
            id="veh-polestar-2",
            vin="LPSVSEDEEML000003",
            make="POLESTAR",
            model="2",
            model_year="2024",
            soc=52.0,
            charge_limit=80,
            plugged_in=True,
            charging=True,
            charge_power_kw=11.0,
            latitude=59.3293,
            longitude=18.0686,
            battery_capacity_kwh=78.0,
            range_per_percent_km=5.1,
        )

    def add_client(self, client_id: str, client_secret: str, organization_id: str) -> None:
        """Register API credentials for an organisation."""
        self.clients[client_id] = (client_secret, organization_id)

    def add_account(
        self,
        account_id: str | None = None,
        organization_id: str = DEFAULT_ORGANIZATION,
        username: str = "driver@example.com",
    ) -> str:
        """Register a connected car-maker account."""
        account_id = account_id or f"acc-sim-{next(self._ids) + 100}"
        self.accounts[account_id] = (organization_id, username)
        return account_id

    def device_count(self, organization: str) -> int:
        """Cars the organisation has connected (what its plan's device limit counts)."""
        return sum(1 for v in self.vehicles.values() if v.organization_id == organization)

    def add_vehicle(self, **values: Any) -> SimVehicle:
        """Connect a car; missing identity fields are made up."""
        number = next(self._ids)
        values.setdefault("id", f"veh-sim-{number:03d}")
        values.setdefault("vin", self._make_vin(number))
        values.setdefault("make", "KIA")
        account = values.setdefault("account_id", DEFAULT_ACCOUNT)
        if account in self.accounts:
            values.setdefault("organization_id", self.accounts[account][0])
        now = self.now()
        values.setdefault("last_activity", now)
        values.setdefault("reported_at", now)
        values.setdefault("simulated_to", now)
        vehicle = SimVehicle(**values)
        self.vehicles[vehicle.id] = vehicle
        return vehicle

    @staticmethod
    def _make_vin(number: int) -> str:
        prefix = "".join(VIN_ALPHABET[(number * 7 + i * 3) % len(VIN_ALPHABET)] for i in range(11))
        return f"{prefix}{number:06d}"

    def remove_vehicle(self, vehicle_id: str) -> None:
        """Disconnect a car."""
        del self.vehicles[vehicle_id]

    def fail_next_command(self, reason: str, count: int = 1, vehicle_id: str = "*") -> None:
        """The next command(s) go PENDING, then FAILED with `reason`."""
        self._planned_failures.setdefault(vehicle_id, []).extend([reason] * count)

    def revoke_tokens(self) -> None:
        """Every issued token stops working, as when Volteras expires them early."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    # --- tokens -------------------------------------------------------------------------

    def issue_token(self, client_id: str) -> dict[str, Any]:
        """An APIAccessToken for a client."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = self.now() + timedelta(seconds=self.token_lifetime)
        self.access_tokens[access] = (client_id, expires)
        self.refresh_tokens[refresh] = client_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
        }

    def check_client(self, client_id: str | None, client_secret: str | None) -> bool:
        """Whether the credentials are registered."""
        known = self.clients.get(client_id or "")
        return known is not None and secrets.compare_digest(known[0], client_secret or "")

    def redeem_refresh_token(self, refresh_token: str) -> str | None:
        """The client a refresh token belongs to; it cannot be used again."""
        return self.refresh_tokens.pop(refresh_token, None)

    def organization_for_token(self, access_token: str) -> str | None:
        """The organisation behind a valid, unexpired access token."""
        entry = self.access_tokens.get(access_token)
        if entry is None or entry[1] <= self.now():
            return None
        return self.clients[entry[0]][1]

    # --- vehicles and commands -------------------------------------------------------------

    def vehicles_of(self, organization_id: str) -> list[SimVehicle]:
        """An organisation's vehicles, in a stable order."""
        return sorted(
            (v for v in self.vehicles.values() if v.organization_id == organization_id),
            key=lambda v: v.id,
        )

    def settle(self) -> None:
        """Bring every car and pending command up to the clock.

        The cars' physics move in steps of at least a second: 500 cars, each read once, would
        otherwise be advanced 250,000 times for changes no reading can show.
        """
        now = self.now()
        last = self._physics_at
        if last is None or now < last or now - last >= PHYSICS_STEP:
            self._physics_at = now
            for vehicle in self.vehicles.values():
                vehicle.advance(now)
        for execution in self.executions.values():
            if execution.status == "PENDING":
                self._settle(execution, now)

    def _settle(self, execution: Execution, now: datetime) -> None:
        age = (now - execution.created_at).total_seconds()
        vehicle = self.vehicles.get(execution.vehicle_id)
        if age >= COMMAND_TIMEOUT and age < self.command_delay:
            self._fail(execution, "OEM_COMMAND_TIMEOUT", now)
            return
        if age < self.command_delay:
            return
        if execution.planned_failure:
            self._fail(execution, execution.planned_failure, now)
        elif vehicle is None:
            self._fail(execution, "OEM_DEVICE_NOT_FOUND", now)
        elif not vehicle.online:
            self._fail(execution, "OEM_VEHICLE_OFFLINE", now)
        else:
            vehicle.wake(now)
            refused = EFFECTS[execution.command](vehicle, execution.arguments)
            if refused:
                self._fail(execution, refused, now)
                return
            execution.status = "EXECUTED"
            execution.executed_at = now

    @staticmethod
    def _fail(execution: Execution, reason: str, now: datetime) -> None:
        execution.status = "FAILED"
        execution.failed_reason = reason
        execution.executed_at = now

    def pending(self, vehicle_id: str, command: str) -> bool:
        """Whether a command of this type is still pending for the car."""
        return any(
            e.vehicle_id == vehicle_id and e.command == command and e.status == "PENDING"
            for e in self.executions.values()
        )

    def create_execution(
        self, vehicle_id: str, command: str, arguments: dict[str, Any] | None
    ) -> Execution:
        """A new PENDING execution."""
        planned = self._planned_failures.get(vehicle_id) or self._planned_failures.get("*")
        execution = Execution(
            id=f"exec-{next(self._ids):06d}",
            vehicle_id=vehicle_id,
            command=command,
            arguments=arguments,
            created_at=self.now(),
            planned_failure=planned.pop(0) if planned else None,
        )
        self.executions[execution.id] = execution
        return execution

    def create_consent(self, organization_id: str, return_url: str) -> str:
        """A single-use consent token."""
        token = secrets.token_urlsafe(16)
        self.consents[token] = Consent(organization_id=organization_id, return_url=return_url)
        return token

    def approve_consent(self, consent: Consent) -> str:
        """The user approved: a new account with one new car."""
        account_id = self.add_account(organization_id=consent.organization_id)
        self.add_vehicle(
            account_id=account_id,
            organization_id=consent.organization_id,
            make="KIA",
            model="EV6",
            model_year="2024",
            soc=58.0,
        )
        return account_id

    def state(self) -> dict[str, Any]:
        """A JSON-ready dump for the admin endpoint."""
        self.settle()
        return {
            "vehicles": {
                vid: {
                    f.name: (
                        getattr(v, f.name).isoformat()
                        if isinstance(getattr(v, f.name), datetime)
                        else getattr(v, f.name)
                    )
                    for f in fields(v)
                }
                for vid, v in self.vehicles.items()
            },
            "accounts": {
                aid: {"organization": o, "username": u} for aid, (o, u) in self.accounts.items()
            },
            "executions": {
                eid: {
                    "vehicle": e.vehicle_id,
                    "command": e.command,
                    "status": e.status,
                    "failedReason": e.failed_reason,
                }
                for eid, e in self.executions.items()
            },
        }
