"""The standard day every provider's benchmark runs, and how its figures are measured.

One car, 24 hours of virtual time (freezegun), Home Assistant's time zone set to UTC so every time
below is both UTC and local: from 12:00 on day 1 to 12:00 on day 2. The car is away and unplugged
until 17:30 (for the simulators nothing changes: it stays parked), plugged in at 18:00 at 35 % and
charged at 11 kW to an 80 % limit (EV Cloud's charge switch sends START_CHARGING right after the
plug-in where the provider takes it), the limit set to 85 % at 21:30 where the provider takes it,
plugged in and complete overnight, climate on at 07:30, unplugged at 08:00 and away until noon.

The day is walked minute by minute; a read is made at the exact instant it is due, before the
events of that instant. Every minute the simulator's own car is looked at (the truth: when the
charge really ended); after every read, what the user is shown (the measured entities for EV Cloud,
the last read for a fixed poll). Staleness is the time from an event to the first reading that
shows it. Requests are counted at the simulator, each stamped with its virtual time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import time
from typing import Any, NamedTuple, Protocol
from unittest.mock import patch

import aiohttp
from freezegun import freeze_time
from homeassistant import loader
from homeassistant.components.http.server import HomeAssistantHTTP
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, frame
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant

# Before Home Assistant's loader runs: our custom_components package must be the one imported.
import custom_components.ev_cloud  # noqa: F401
from custom_components.ev_cloud.command import CommandRunner
from custom_components.ev_cloud.const import CONF_EXCLUDED_VEHICLES, DOMAIN, ENVIRONMENT_CUSTOM
from custom_components.ev_cloud.model import (
    ChargingState,
    Command,
    CommandType,
    ConnectionStatus,
    VehicleInfo,
    VehicleState,
)
from custom_components.ev_cloud.providers import ProviderSpec, VehicleProvider
from custom_components.ev_cloud.runtime import VehicleData

# --- the day ------------------------------------------------------------------------------------

DAY_START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
PLUG_IN_AT = DAY_START.replace(hour=18)
LIMIT_AT = DAY_START.replace(hour=21, minute=30)
CLIMATE_AT = DAY_END.replace(hour=7, minute=30)
LEAVE_AT = DAY_END.replace(hour=8)
START_SOC = 35.0
LIMIT = 80
NEW_LIMIT = 85
CHARGER_KW = 11.0
STEP = timedelta(minutes=1)
FIXED_POLL = timedelta(minutes=10)
DAYS_PER_MONTH = 30

# The targets EV Cloud is held to, polling only (no push), per car per day.
MAX_DATA_READS = 30
MAX_PLUG_IN_LAG = timedelta(minutes=30)
MAX_COMPLETE_LAG = timedelta(minutes=10)
# With the provider's pushes (webhooks): reads are only a consistency check, what the car
# reports shows at once, and a command's result arrives as a push instead of being polled for.
MAX_PUSH_DATA_READS = 6
MAX_PUSH_LAG = timedelta(minutes=1)

EV_CLOUD = "EV Cloud"
EV_CLOUD_PUSH = "EV Cloud + push"


class Event(StrEnum):
    """What happens during the day, in the order of `SCHEDULE`."""

    PLUG_IN = "plug in"
    START_CHARGING = "start charging"
    SET_LIMIT = f"charge limit {NEW_LIMIT} %"
    CLIMATE_ON = "climate on"
    UNPLUG = "unplug and leave"


COMMANDS: dict[Event, Command] = {
    Event.START_CHARGING: Command(type=CommandType.START_CHARGING),
    Event.SET_LIMIT: Command(type=CommandType.SET_CHARGE_LIMIT, value=NEW_LIMIT),
    Event.CLIMATE_ON: Command(type=CommandType.CLIMATE_ON),
}
SCHEDULE: tuple[tuple[datetime, Event], ...] = (
    (PLUG_IN_AT, Event.PLUG_IN),
    (PLUG_IN_AT, Event.START_CHARGING),
    (LIMIT_AT, Event.SET_LIMIT),
    (CLIMATE_AT, Event.CLIMATE_ON),
    (LEAVE_AT, Event.UNPLUG),
)

EXPLANATION = (
    "**The standard day** (the same for every provider and every mode; one car; polling "
    "only, no push configured, except in Volteras's *EV Cloud + push* row; Home Assistant's "
    "time zone is UTC, so all times are UTC and local). It runs from 12:00 on day 1 "
    "to 12:00 on day 2 on a virtual clock stepped minute by minute, every read made at the exact "
    "instant it is due. Until 17:30 the car is away and unplugged, then parked at home (the "
    "simulators model no trip: the car just stays parked, unplugged, at 35 %). At 18:00 it is "
    f"plugged in at {START_SOC:g} % and charges at {CHARGER_KW:g} kW to an {LIMIT} % limit: "
    "for Volteras and Tesla EV Cloud's charge switch sends START_CHARGING right after the "
    "plug-in, a Volvo cannot be told to charge and starts by itself. At 21:30 the limit is set "
    f"to {NEW_LIMIT} % (SET_CHARGE_LIMIT through the number entity; Volvo cannot: n/a). It stays "
    "plugged in and complete overnight. At 07:30 climate on (CLIMATE_ON through the climate "
    "switch and the integration's command runner). At 08:00 it is unplugged and away until the "
    "day ends. The fixed-poll rows send the same commands through the same command runner and "
    "differ only in how they read. A read due in the same minute as an event runs just before "
    "it: the worst phase, which a 10-minute grid aligned with the day's round-hour events would "
    "otherwise hide. Requests are counted at the simulator, the set-up at 12:00 included; a "
    "*data read* is one moment at which the car's data endpoint(s) are fetched (Tesla: the "
    "billed `vehicle_data`; Volvo: up to 4 GETs at once, requests in brackets). Staleness is "
    "the time from an event to the first read that shows it (EV Cloud: the entities' states and "
    "the coordinator's data; fixed poll: its last read); a charge's end is the moment the "
    "simulated battery reached its limit, from the simulator's own state. A command's *result* "
    "is the wall-clock time until the command runner returned (the simulator settles commands "
    "at once here; the round-trip table below uses a 3 s car), its *read* the time until a read "
    "showed its effect. Token lifetimes: Volteras 1 h (the simulator's), Tesla 8 h, Volvo 30 min."
)
TARGETS = (
    f"**Targets** (EV Cloud, polling only, per car per day): ≤ {MAX_DATA_READS} data reads; "
    "0 unrequested wake-ups; the plug-in shown within "
    f"{MAX_PLUG_IN_LAG.total_seconds() / 60:g} minutes; a charge's completion shown within "
    f"{MAX_COMPLETE_LAG.total_seconds() / 60:g} minutes. With push (webhooks; Volteras's "
    f"*EV Cloud + push* row): ≤ {MAX_PUSH_DATA_READS} data reads; the plug-in and a charge's "
    f"completion shown within {MAX_PUSH_LAG.total_seconds() / 60:g} minute; command results "
    "pushed, with no follow-up polls. Cells off target are marked ✗."
)


@dataclass(frozen=True, kw_only=True)
class Targets:
    """What one mode is held to, per car per day (the target row of the table)."""

    label: str
    data_reads: int
    plug_in_lag: timedelta
    complete_lag: timedelta
    # None: follow-up polls of a command are not held to anything.
    follow_ups: int | None = None


POLLING = Targets(
    label="**target**",
    data_reads=MAX_DATA_READS,
    plug_in_lag=MAX_PLUG_IN_LAG,
    complete_lag=MAX_COMPLETE_LAG,
)
PUSH = Targets(
    label="**target (push)**",
    data_reads=MAX_PUSH_DATA_READS,
    plug_in_lag=MAX_PUSH_LAG,
    complete_lag=MAX_PUSH_LAG,
    follow_ups=0,
)


# --- the harness ----------------------------------------------------------------------------------


async def _no_server(self: HomeAssistantHTTP) -> None:
    """In place of binding and starting Home Assistant's web server."""


@asynccontextmanager
async def home_assistant() -> AsyncIterator[HomeAssistant]:
    """A test-harness Home Assistant in UTC that can load custom integrations."""
    async with async_test_home_assistant() as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        await hass.config.async_set_time_zone("UTC")
        # As Home Assistant's own start and the test fixtures do: deprecated calls are reported.
        frame.async_setup(hass)
        # The benchmark serves nothing: no port is bound, so a Home Assistant already on 8123
        # (scripts/develop) cannot stop the run.
        with (
            patch.object(HomeAssistantHTTP, "async_bind", _no_server),
            patch.object(HomeAssistantHTTP, "start", _no_server),
        ):
            yield hass
        await hass.async_stop(force=True)


def signed_in_entry(
    url: str,
    *,
    provider: str,
    client: tuple[str, str],
    unique_id: str,
    token: dict[str, Any],
    lifetime: float,
    **data: Any,
) -> MockConfigEntry:
    """An OAuth provider's entry as the config flow stores it, signed in to the simulator."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=provider.title(),
        unique_id=unique_id,
        version=2,
        data={
            "provider": provider,
            CONF_CLIENT_ID: client[0],
            CONF_CLIENT_SECRET: client[1],
            "environment": ENVIRONMENT_CUSTOM,
            CONF_URL: url,
            CONF_EXCLUDED_VEHICLES: [],
            "auth_implementation": f"{DOMAIN}_{provider}_{ENVIRONMENT_CUSTOM}_{client[0]}",
            "token": {**token, "expires_at": time.time() + lifetime},
            **data,
        },
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait for every platform."""
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError(f"set-up failed: {entry.state}")
    await hass.async_block_till_done()


@contextmanager
def virtual_clock() -> Iterator[Callable[[datetime], None]]:
    """The frozen clock at the day's start, Home Assistant's `utcnow` on it; yields `move_to`."""
    # Home Assistant binds utcnow at import; point it at the frozen clock like its test harness does.
    with (
        freeze_time(DAY_START, real_asyncio=True) as frozen,
        patch("homeassistant.util.dt.utcnow", lambda: datetime.now(UTC)),
    ):
        yield frozen.move_to


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, ready for the README."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


# --- requests -------------------------------------------------------------------------------------


class Kind(StrEnum):
    """What a request was for."""

    DATA = "data"
    TOKEN = "token"  # noqa: S105 - a kind of request, not a secret
    VEHICLE_LIST = "vehicle list"
    COMMAND = "command"
    FOLLOW_UP = "command follow-up"
    STATE_CHECK = "state check"
    WAKE = "wake"
    OTHER = "other"


class Request(NamedTuple):
    """One request the simulator received."""

    at: datetime
    kind: Kind
    method: str
    path: str


class HasRequestLog(Protocol):
    """A simulated cloud that logs (method, route) of every request it serves."""

    request_log: list[tuple[str, str]]


class _Tap(list[tuple[str, str]]):
    """A simulator's request log that also stamps and sorts each request into a day's log."""

    def __init__(self, into: list[Request], classify: Callable[[str, str], Kind]) -> None:
        super().__init__()
        self._into = into
        self._classify = classify

    def append(self, item: tuple[str, str], /) -> None:
        """Log the request; note when it came and what it was for."""
        super().append(item)
        method, path = item
        now = datetime.now(UTC)
        self._into.append(Request(now, self._classify(method, path), method, path))


class RequestLog:
    """Every request of the day, from every simulated cloud the provider talks to."""

    def __init__(self) -> None:
        """Nothing yet."""
        self.requests: list[Request] = []

    def tap(self, cloud: HasRequestLog, classify: Callable[[str, str], Kind]) -> None:
        """Count what `cloud` receives from now on."""
        cloud.request_log = _Tap(self.requests, classify)


def token_kind(_method: str, _path: str) -> Kind:
    """The OAuth server serves nothing but tokens during the day."""
    return Kind.TOKEN


class TokenKeeper:
    """A fixed poll's own OAuth tokens, refreshed at the simulator's token endpoint when due."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        client: tuple[str, str],
        token: dict[str, Any],
    ) -> None:
        """Start from tokens issued at the day's start."""
        self._session = session
        self._url = token_url
        self._client = client
        self._token = token
        self._expires_at = time.time() + float(token["expires_in"])

    async def __call__(self) -> str:
        """A valid access token (refreshed 20 s before it expires, as Home Assistant does)."""
        if self._expires_at - 20 <= time.time():
            form = {
                "grant_type": "refresh_token",
                "refresh_token": str(self._token["refresh_token"]),
                "client_id": self._client[0],
                "client_secret": self._client[1],
            }
            async with self._session.post(self._url, data=form) as response:
                response.raise_for_status()
                self._token = await response.json()
            self._expires_at = time.time() + float(self._token["expires_in"])
        return str(self._token["access_token"])


# --- what happened and what was shown -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Truth:
    """The simulated car itself at one moment."""

    plugged: bool
    charging: bool
    soc: float
    limit: float
    # Percent of the battery per hour while charging.
    rate: float
    # Whether the car is awake (providers whose cars sleep and are billed for waking).
    awake: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Shown:
    """What the user sees of the car at one moment."""

    plugged: bool | None
    charging_state: str | None
    charge_limit: float | None
    climate_on: bool | None


def shown_from(state: VehicleState | None) -> Shown:
    """What a read shows."""
    if state is None:
        return Shown(plugged=None, charging_state=None, charge_limit=None, climate_on=None)
    plugged = state.plugged_in
    if plugged is None and state.connection_status is not None:
        plugged = state.connection_status is not ConnectionStatus.DISCONNECTED
    return Shown(
        plugged=plugged,
        charging_state=state.charging_state.value if state.charging_state else None,
        charge_limit=state.charge_limit,
        climate_on=state.climate_on,
    )


@dataclass(frozen=True, kw_only=True)
class CommandRun:
    """A command of the day: when, and how long until its result was known."""

    at: datetime
    # None: the provider cannot be told this (the event still happens, by itself or not at all).
    seconds: float | None
    error: str | None = None


class Timeline:
    """The day as it happened (the simulator's car) and as it was shown."""

    def __init__(self) -> None:
        """An empty day."""
        self.snapshots: list[tuple[datetime, Shown]] = []
        # When each charge reached its limit, and that limit.
        self.completions: list[tuple[datetime, float]] = []
        self.commands: dict[Event, CommandRun] = {}
        self.awake_minutes = 0
        self.requested_wakes = 0
        self.final: Truth | None = None
        self._previous: tuple[datetime, Truth] | None = None

    def truth(self, now: datetime, truth: Truth) -> None:
        """The car at `now` (called every minute): note the exact end of a charge."""
        if self._previous is not None:
            then, before = self._previous
            done = truth.plugged and truth.soc >= truth.limit - 0.01
            if before.charging and not truth.charging and done:
                hours = (truth.limit - before.soc) / before.rate if before.rate else 0.0
                ended = then + timedelta(hours=max(0.0, hours))
                self.completions.append((min(ended, now), truth.limit))
        if truth.awake:
            self.awake_minutes += 1
        self._previous = (now, truth)
        self.final = truth

    def show(self, now: datetime, shown: Shown) -> None:
        """What the user sees from `now` on."""
        self.snapshots.append((now, shown))

    def first(self, since: datetime, test: Callable[[Shown], bool]) -> datetime | None:
        """The first moment at or after `since` that shows what `test` looks for."""
        return next((at for at, shown in self.snapshots if at >= since and test(shown)), None)

    def lag(self, since: datetime, test: Callable[[Shown], bool]) -> timedelta | None:
        """How long after `since` it was first shown; None if never."""
        seen = self.first(since, test)
        return None if seen is None else seen - since

    def readable(self, since: datetime, value: Callable[[Shown], object]) -> bool:
        """Whether any read after `since` reported this value at all."""
        return any(value(shown) is not None for at, shown in self.snapshots if at >= since)


class SimCar(Protocol):
    """A provider's simulated car, as the day needs it."""

    description: str
    capacity_kwh: float

    def truth(self, now: datetime) -> Truth:
        """The car brought up to `now`."""

    def plug_in(self, now: datetime) -> None:
        """The owner plugs the car in."""

    def unplug(self, now: datetime) -> None:
        """The owner unplugs the car."""

    def wakes(self) -> int:
        """Wake-ups so far (0 where the API has none)."""


class Driver(Protocol):
    """One way of reading the car and sending it the day's commands."""

    def next_due(self) -> datetime:
        """When the next read (of any kind) is due."""

    async def read(self, now: datetime) -> None:
        """Make the reads due at `now`."""

    def shown(self) -> Shown:
        """What the user sees now."""

    def supports(self, event: Event) -> bool:
        """Whether this provider can be sent the event's command."""

    async def command(self, event: Event) -> None:
        """Send the event's command; return once its result is known, raise if it failed."""


async def run_day(
    move_to: Callable[[datetime], None],
    car: SimCar,
    driver: Driver,
    *,
    every_minute: Callable[[datetime], Awaitable[None]] | None = None,
) -> Timeline:
    """Walk the day minute by minute, reading when the driver says a read is due.

    `every_minute` runs at the end of each whole minute, after its events (push: the provider's
    deliveries of that minute); what the user sees is noted after it.
    """
    timeline = Timeline()
    timeline.show(DAY_START, driver.shown())
    events = list(SCHEDULE)
    next_minute = DAY_START
    while True:
        now = min(next_minute, driver.next_due(), events[0][0] if events else DAY_END)
        if now >= DAY_END:
            break
        move_to(now)
        if driver.next_due() <= now:
            await driver.read(now)
            if driver.next_due() <= now:
                raise RuntimeError(f"the next read is not after {now}")
            timeline.show(now, driver.shown())
        while events and events[0][0] == now:
            _, event = events.pop(0)
            if event is Event.PLUG_IN:
                car.plug_in(now)
            elif event is Event.UNPLUG:
                car.unplug(now)
            else:
                timeline.commands[event] = await _run_command(car, driver, event, now, timeline)
        if now == next_minute:
            timeline.truth(now, car.truth(now))
            if every_minute is not None:
                await every_minute(now)
                timeline.show(now, driver.shown())
            next_minute += STEP
    move_to(DAY_END)
    return timeline


async def _run_command(
    car: SimCar, driver: Driver, event: Event, now: datetime, timeline: Timeline
) -> CommandRun:
    if not driver.supports(event):
        return CommandRun(at=now, seconds=None)
    wakes = car.wakes()
    # freezegun stops `time.perf_counter`; the event loop keeps the real monotonic clock.
    loop = asyncio.get_running_loop()
    started = loop.time()
    error = None
    try:
        await driver.command(event)
    except HomeAssistantError as err:
        error = str(err) or type(err).__name__
    timeline.requested_wakes += car.wakes() - wakes
    return CommandRun(at=now, seconds=loop.time() - started, error=error)


# --- the two ways of reading ----------------------------------------------------------------------

# Entity (domain, key) and the service call that sends each command.
_COMMAND_ENTITIES: dict[Event, tuple[str, str, str, dict[str, Any]]] = {
    Event.START_CHARGING: ("switch", "charge", "turn_on", {}),
    Event.SET_LIMIT: ("number", "charge_limit", "set_value", {"value": NEW_LIMIT}),
    Event.CLIMATE_ON: ("switch", "climate", "turn_on", {}),
}


class EvCloudDriver:
    """The real integration: its coordinators' own schedule, its entities, its services."""

    def __init__(self, hass: HomeAssistant, entry: MockConfigEntry, vehicle: VehicleData) -> None:
        """Follow the entry's one vehicle."""
        self.hass = hass
        self.coordinator = vehicle.coordinator
        self.fleet = entry.runtime_data.fleet
        self.next_fleet = self._after(datetime.now(UTC), self.fleet.update_interval)
        # Reads by the reason that scheduled them.
        self.reasons: Counter[str] = Counter()
        registry = er.async_get(hass)

        def entity(domain: str, key: str) -> str | None:
            unique_id = f"{vehicle.device_key}_{key}"
            return registry.async_get_entity_id(domain, DOMAIN, unique_id)

        self._plugged = entity("binary_sensor", "plugged_in")
        self._connection = entity("sensor", "connection_status")
        self._charging_state = entity("sensor", "charging_state")
        self._commands = {
            event: (domain, service, entity_id, data)
            for event, (domain, key, service, data) in _COMMAND_ENTITIES.items()
            if (entity_id := entity(domain, key)) is not None
        }

    @staticmethod
    def _after(now: datetime, interval: timedelta | None) -> datetime:
        return now + (interval or timedelta(hours=1))

    def next_due(self) -> datetime:
        """The coordinator's next read, the extra read a command asked for, the vehicle list."""
        due = min(self.coordinator.next_read_at, self.next_fleet)
        extra = self.coordinator.extra_read_at
        return due if extra is None else min(due, extra)

    async def read(self, now: datetime) -> None:
        """Refresh what is due, as Home Assistant's timers would."""
        if self.next_fleet <= now:
            await self.fleet.async_refresh()
            self.next_fleet = self._after(now, self.fleet.update_interval)
        extra = self.coordinator.extra_read_at
        if extra is not None and extra <= now:
            # What the extra read's timer does when it fires (its own callback also drops the
            # timer); the timer itself runs on the loop's real clock, which a virtual day outpaces.
            self.coordinator._cancel_extra_read()  # noqa: SLF001
            self.reasons["extra read after a command"] += 1
            await self.coordinator.async_refresh()
        elif self.coordinator.next_read_at <= now:
            self.reasons[str(self.coordinator.poll_reason)] += 1
            await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    def _state(self, entity_id: str | None) -> str | None:
        state = self.hass.states.get(entity_id) if entity_id else None
        if state is None or state.state in ("unknown", "unavailable"):
            return None
        return state.state

    def shown(self) -> Shown:
        """The measured entities' states; the charge limit and climate as last read."""
        plugged: bool | None = None
        connection = self._state(self._connection)
        if (binary := self._state(self._plugged)) is not None:
            plugged = binary == "on"
        elif connection is not None:
            plugged = connection != ConnectionStatus.DISCONNECTED
        data: VehicleState | None = self.coordinator.data
        return Shown(
            plugged=plugged,
            charging_state=self._state(self._charging_state),
            charge_limit=data.charge_limit if data else None,
            climate_on=data.climate_on if data else None,
        )

    def supports(self, event: Event) -> bool:
        """The entity that sends the command exists for this car."""
        return event in self._commands

    async def command(self, event: Event) -> None:
        """Call the entity's service, as a user or an automation does."""
        domain, service, entity_id, data = self._commands[event]
        await self.hass.services.async_call(
            domain, service, {"entity_id": entity_id, **data}, blocking=True
        )


def command_runner(
    provider: VehicleProvider, spec: ProviderSpec, info: VehicleInfo
) -> Callable[[Command], Awaitable[None]]:
    """The integration's command runner outside Home Assistant, for the fixed polls."""

    def start_task(coro: Any, name: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro, name=name)

    runner = CommandRunner(
        provider,
        spec,
        info,
        start_task=start_task,
        on_outcome=lambda _outcome: None,
        on_auth_failed=lambda: None,
    )
    return runner.async_execute


class FixedPollDriver:
    """A fixed pace: `read` every `period`, commands through the same command runner."""

    def __init__(
        self,
        read: Callable[[datetime], Awaitable[VehicleState | None]],
        send: Callable[[Command], Awaitable[None]],
        commands: frozenset[Event],
        period: timedelta = FIXED_POLL,
    ) -> None:
        """First read at the day's start."""
        self._read = read
        self._send = send
        self._commands = commands
        self.period = period
        self.next_read = DAY_START
        self.state: VehicleState | None = None

    def next_due(self) -> datetime:
        """The next tick of the fixed pace."""
        return self.next_read

    async def read(self, now: datetime) -> None:
        """Read; a sleeping car (or a tick without the state) keeps the last readings."""
        state = await self._read(now)
        if state is not None and not (state.asleep and self.state is not None):
            self.state = state
        self.next_read = now + self.period

    def shown(self) -> Shown:
        """The last read."""
        return shown_from(self.state)

    def supports(self, event: Event) -> bool:
        """Whether the provider takes this command."""
        return event in self._commands

    async def command(self, event: Event) -> None:
        """Through the integration's command runner."""
        await self._send(COMMANDS[event])


# --- the day's figures ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class DayResult:
    """One mode's day for one car."""

    mode: str
    timeline: Timeline
    requests: list[Request]
    # Dollars for the day at the provider's prices (providers that bill per call).
    usd: float | None = None
    # EV Cloud: reads by the reason that scheduled them.
    reasons: Counter[str] | None = None
    targets: Targets = POLLING
    # Push: deliveries the integration accepted, and those it refused.
    pushes: int | None = None
    pushes_refused: int = 0

    def __post_init__(self) -> None:
        """Keep only the day's requests."""
        self.requests = [r for r in self.requests if DAY_START <= r.at < DAY_END]

    def count(self, kind: Kind) -> int:
        """Requests of one kind."""
        return sum(1 for request in self.requests if request.kind is kind)

    def count_at(self, kind: Kind, at: datetime) -> int:
        """Requests of one kind at one virtual instant (a command's: the clock stands still)."""
        return sum(1 for request in self.requests if request.kind is kind and request.at == at)

    @property
    def data_reads(self) -> int:
        """Moments at which the car's data was fetched."""
        return len({request.at for request in self.requests if request.kind is Kind.DATA})

    def peak(self, window: timedelta) -> int:
        """The most requests in any `window`-long span (sliding)."""
        ordered, peak, first = sorted(r.at for r in self.requests), 0, 0
        for last, moment in enumerate(ordered):
            while moment - ordered[first] >= window:
                first += 1
            peak = max(peak, last - first + 1)
        return peak


@dataclass(kw_only=True)
class ProviderDay:
    """Every mode's day for one provider, and what to say under its table."""

    provider: str
    car: str
    capacity_kwh: float
    results: list[DayResult]
    billed: bool = False
    sleeps: bool = False
    notes: list[str] = field(default_factory=list)


def minutes(delta: timedelta | None) -> str:
    """A staleness in minutes, to a tenth."""
    if delta is None:
        return "never"
    value = round(delta.total_seconds() / 60, 1)
    return f"{value:g} min"


def _off(text: str, on_target: bool) -> str:
    return text if on_target else f"{text} ✗"


def _plugged(shown: Shown) -> bool:
    return shown.plugged is True


def _unplugged(shown: Shown) -> bool:
    return shown.plugged is False


def _complete(shown: Shown) -> bool:
    return shown.charging_state == ChargingState.COMPLETE


# What a read shows once each command took effect, and the reading it needs.
_EFFECTS: dict[Event, tuple[Callable[[Shown], bool], Callable[[Shown], object]]] = {
    Event.START_CHARGING: (
        lambda s: s.charging_state == ChargingState.CHARGING,
        lambda s: s.charging_state,
    ),
    Event.SET_LIMIT: (
        lambda s: s.charge_limit is not None and round(s.charge_limit) == NEW_LIMIT,
        lambda s: s.charge_limit,
    ),
    Event.CLIMATE_ON: (lambda s: s.climate_on is True, lambda s: s.climate_on),
}


def _command_cell(result: DayResult, event: Event) -> str:
    run = result.timeline.commands.get(event)
    if run is None or run.seconds is None:
        return "n/a"
    if run.error is not None:
        return f"failed ({run.error}) ✗"
    test, value = _EFFECTS[event]
    if (lag := result.timeline.lag(run.at, test)) is not None:
        read = minutes(lag)
    elif not result.timeline.readable(run.at, value):
        read = "not readable"
    else:
        read = "never"
    result_known = "< 0.1 s" if run.seconds < 0.1 else f"{run.seconds:.1f} s"
    allowed = result.targets.follow_ups
    if allowed is None:
        return f"{result_known} / {read}"
    # The virtual clock stands still during a command: its follow-ups carry its instant.
    polls = result.count_at(Kind.FOLLOW_UP, run.at)
    plural = "" if polls == 1 else "s"
    return _off(f"{result_known} ({polls} follow-up{plural}) / {read}", polls <= allowed)


def _completions_cell(result: DayResult) -> str:
    completions = result.timeline.completions
    if not completions:
        return "no charge ended"
    cells = []
    for ended, limit in completions:
        lag = result.timeline.lag(ended, _complete)
        text = _off(minutes(lag), lag is not None and lag <= result.targets.complete_lag)
        cells.append(text if len(completions) == 1 else f"{limit:g} %: {text}")
    return "; ".join(cells)


def render(day: ProviderDay) -> None:
    """The provider's table (rows: modes), a target row per kind of mode, and its notes."""
    other = any(result.count(Kind.OTHER) for result in day.results)
    pushed = any(result.pushes is not None for result in day.results)
    header = ["mode", "data reads", "token", "vehicle list", "command sends", "follow-ups"]
    if day.billed:
        header.append("free state checks")
    if other:
        header.append("other")
    header.append("all requests")
    if pushed:
        header.append("pushes received")
    header.append("wakes asked / unasked")
    if day.billed:
        header.append("$ / month")
    if day.sleeps:
        header.append("car awake")
    header += [
        "plug-in 18:00 shown",
        "charge complete shown",
        "start charging 18:00 (result / read)",
        f"limit {NEW_LIMIT} % 21:30 (result / read)",
        "climate on 07:30 (result / read)",
    ]

    def target_row(targets: Targets) -> list[object]:
        follow_ups = "" if targets.follow_ups is None else targets.follow_ups
        row: list[object] = [targets.label, f"≤ {targets.data_reads}", "", "", "", follow_ups]
        row += [""] * (day.billed + other + 1 + pushed)
        row.append("0 unasked")
        row += [""] * (day.billed + day.sleeps)
        row += [f"≤ {minutes(targets.plug_in_lag)}", f"≤ {minutes(targets.complete_lag)}"]
        command = "" if targets.follow_ups is None else f"{targets.follow_ups} follow-ups"
        row += [command] * len(COMMANDS)
        return row

    rows: list[list[object]] = [
        target_row(targets) for targets in dict.fromkeys(r.targets for r in day.results)
    ]
    for result in day.results:
        targets = result.targets
        data = result.count(Kind.DATA)
        reads = str(result.data_reads) + ("" if data == result.data_reads else f" ({data} req.)")
        wakes = result.count(Kind.WAKE)
        unasked = wakes - result.timeline.requested_wakes
        follow_ups = result.count(Kind.FOLLOW_UP)
        row: list[object] = [
            result.mode,
            _off(reads, result.data_reads <= targets.data_reads),
            result.count(Kind.TOKEN),
            result.count(Kind.VEHICLE_LIST),
            result.count(Kind.COMMAND),
            _off(str(follow_ups), targets.follow_ups is None or follow_ups <= targets.follow_ups),
        ]
        if day.billed:
            row.append(result.count(Kind.STATE_CHECK))
        if other:
            row.append(result.count(Kind.OTHER))
        row.append(len(result.requests))
        if pushed:
            if result.pushes is None:
                row.append("")
            else:
                refused = result.pushes_refused
                text = str(result.pushes) + (f" ({refused} refused)" if refused else "")
                row.append(_off(text, not refused))
        row.append(_off(f"{result.timeline.requested_wakes} / {unasked}", unasked == 0))
        if day.billed:
            row.append(f"{(result.usd or 0.0) * DAYS_PER_MONTH:.2f}")
        if day.sleeps:
            row.append(f"{result.timeline.awake_minutes / 60:.1f} h")
        plug_in = result.timeline.lag(PLUG_IN_AT, _plugged)
        row += [
            _off(minutes(plug_in), plug_in is not None and plug_in <= targets.plug_in_lag),
            _completions_cell(result),
            *(_command_cell(result, event) for event in COMMANDS),
        ]
        rows.append(row)
    print_table(f"{day.provider}: one car's standard day", header, rows)
    print()
    hours = (LIMIT - START_SOC) / 100 * day.capacity_kwh / CHARGER_KW
    first = day.results[0].timeline
    ended = ", ".join(f"{at:%H:%M:%S} ({limit:g} %)" for at, limit in first.completions)
    print(
        f"- Car: {day.car}, battery {day.capacity_kwh:g} kWh: {START_SOC:g} → {LIMIT} % at "
        f"{CHARGER_KW:g} kW takes {int(hours)} h {round(hours % 1 * 60)} min; charges ended "
        f"(simulator) at {ended or 'never'}."
    )
    for result in day.results:
        if result.reasons:
            reasons = ", ".join(f"{why} {n}" for why, n in result.reasons.most_common())
            print(f"- {result.mode} reads by the reason that scheduled them: {reasons}.")
    lags = ", ".join(
        f"{r.mode} {minutes(r.timeline.lag(LEAVE_AT, _unplugged))}" for r in day.results
    )
    print(f"- Unplugged at 08:00, shown after: {lags}.")
    finals = ", ".join(
        f"{r.mode} {r.timeline.final.soc:.0f} %" for r in day.results if r.timeline.final
    )
    print(f"- State of charge at the end: {finals}.")
    for note in day.notes:
        print(f"- {note}")
