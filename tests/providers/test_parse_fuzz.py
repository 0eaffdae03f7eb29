"""Fuzzing the Volteras parsers: whatever JSON comes back, it parses or raises a `ProviderError`.

The strategies build arbitrary JSON and, above all, "near-valid" bodies: the real payload shapes
(handwritten, and the simulator's own payloads mutated at random) with fields dropped, nulled,
given the wrong type, odd timestamps, unknown enum strings and extreme numbers, so that the
fuzzer reaches the field parsing and not only the top-level type check.

Where the fuzzer found a crash (huge integers, infinite or overflowing remaining times and token
lifetimes, bodies that are not UTF-8 or nest too deep), the property runs twice: over every number
and date JSON can carry (WILD), with the crashing inputs kept as explicit examples so they stay
fixed, and over TAME numbers and dates, where the fuzzer spends its budget on field parsing.

`--hypothesis-show-statistics` shows how often each test parsed and how often it refused.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection
import copy
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
import functools
import json
import math
from typing import Any

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, event, example, given, settings, strategies as st
import pytest

from custom_components.ev_cloud.model import (
    CommandExecution,
    CommandType,
    VehicleInfo,
    VehicleState,
)
from custom_components.ev_cloud.providers.errors import (
    AuthenticationError,
    ProviderError,
    RateLimitedError,
    TransientError,
)
from custom_components.ev_cloud.providers.volteras import VolterasClient, parse
from custom_components.ev_cloud.providers.volteras.auth import TokenManager
from custom_components.ev_cloud.providers.volteras.errors import error_from_response
from simulator.volteras import payloads
from simulator.volteras.fleet import Execution, SimVehicle

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

# No example database: nothing is written into the repository, and a run is what it shows.
PURE = settings(max_examples=150, deadline=None, database=None)
HTTP = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# For the tests pinned as expected failures: stop at the first failing example and raise it
# as itself, not in an ExceptionGroup, so that `xfail(raises=…)` can check its type.
PURE_ONE_BUG = settings(PURE, report_multiple_bugs=False)
HTTP_ONE_BUG = settings(HTTP, report_multiple_bugs=False)


# --- building blocks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """Which numbers and timestamps the bodies may carry.

    WILD is everything `json.loads` can produce (ints up to its 4300-digit limit, `1e400` → inf; NaN
    excepted) and dates from year 1 to 9999. TAME keeps numbers within ±1e6 and years within
    1900-2200: small enough for float() and for date arithmetic.
    """

    numbers: st.SearchStrategy[int | float]
    timestamps: st.SearchStrategy[str]


_OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)


def _timestamps(first_year: int, last_year: int) -> st.SearchStrategy[str]:
    # st.datetimes takes naive bounds and adds the offset itself.
    first = datetime(first_year, 1, 1)  # noqa: DTZ001
    last = datetime(last_year, 12, 31, 23, 59, 59, 999_999)  # noqa: DTZ001
    aware = st.datetimes(first, last, timezones=_OFFSETS).map(datetime.isoformat)
    return st.one_of(
        aware,
        aware.map(lambda s: s.replace("+00:00", "Z")),
        st.datetimes(first, last).map(datetime.isoformat),  # naive: ignored by the parser
        st.dates(first.date(), last.date()).map(lambda d: d.isoformat()),
        st.sampled_from(
            [
                "",
                "not a date",
                "2026-11-24T17:00:00",
                "2026-11-24T17:00:00Z",
                "2026-11-24 17:00:00+01:00",
                "2026-W48-2T17:00+0100",
                "2026-11-24T25:61:61+00:00",
                "2026-02-30T00:00:00+00:00",
                "2026-11-24T17:00:00+24:00",
                "Tue, 24 Nov 2026 17:00:00 GMT",
                "1764003600",
                "\ud800",
                "2026-11-24T17:00:00\x00+00:00",
            ]
        ),
        st.text(max_size=30),
    )


def _huge_int(sign: int, digits: int) -> int:
    power: int = 10**digits
    return sign * (power + 7)


TAME = Domain(
    numbers=st.one_of(
        st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False), st.just(-0.0)
    ),
    timestamps=_timestamps(1900, 2200),
)
WILD = Domain(
    numbers=st.one_of(
        TAME.numbers,
        st.integers(),
        st.floats(allow_nan=False),  # incl. ±inf, what "1e400" decodes to
        st.builds(_huge_int, st.sampled_from([1, -1]), st.integers(15, 4299)),
        st.sampled_from([2**63, 2**64, 10**308, 10**309, 1.7976931348623157e308, 5e-324]),
    ),
    timestamps=st.one_of(
        _timestamps(1, 9999),
        st.sampled_from(
            [
                "0001-01-01T00:00:00+00:00",
                "0001-01-01T00:00:00+23:59",
                "9999-12-31T23:59:59.999999+00:00",
                "9999-12-31T23:59:59.999999-23:59",
            ]
        ),
    ),
)


def json_values(
    domain: Domain, keys: st.SearchStrategy[str] | None = None, *, max_leaves: int = 12
) -> st.SearchStrategy[Any]:
    """Arbitrary JSON; `keys` biases object keys towards the ones the parsers read."""
    scalars = st.one_of(st.none(), st.booleans(), domain.numbers, st.text(max_size=20))
    key_strategy = st.text(max_size=12) if keys is None else st.one_of(keys, st.text(max_size=12))
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key_strategy, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@functools.cache
def junk(domain: Domain) -> st.SearchStrategy[Any]:
    """A wrong-typed replacement for a field: small, mostly scalar."""
    return st.one_of(
        st.none(),
        st.booleans(),
        domain.numbers,
        st.text(max_size=10),
        st.just([]),
        st.just({}),
        json_values(domain, max_leaves=4),
    )


def pick(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """`one_of` with weights; a failure shrinks towards the first choice.

    The right shape must win most draws, or the fuzzer rarely gets a whole reading past the
    checks (present, an object, a number in `value`, a unit, a timestamp). `one_of` cannot weigh:
    it flattens nested `one_of`s and picks evenly among the leaves.
    """
    weighted = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(weighted) - 1).flatmap(weighted.__getitem__)


def field(domain: Domain, good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: the right type three times in five, else null or junk."""
    return pick((3, good), (1, st.none()), (1, junk(domain)))


_MISSING = object()


def obj(
    domain: Domain,
    fields: dict[str, st.SearchStrategy[Any]],
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    *,
    extras: bool = False,
) -> st.SearchStrategy[dict[str, Any]]:
    """An object of the real shape: each optional field present three times in four, and with
    `extras` a few unknown ones. A missing field comes first, so failures shrink towards leaving
    fields out. (Unknown fields only at the top: nested they cost time and find nothing new.)"""
    maybe = {key: pick((1, st.just(_MISSING)), (3, value)) for key, value in fields.items()}
    shaped = st.fixed_dictionaries({**(required or {}), **maybe})
    unknown = st.dictionaries(st.text(max_size=8), junk(domain), max_size=2 if extras else 0)
    return st.builds(
        lambda extra, known: extra | {k: v for k, v in known.items() if v is not _MISSING},
        unknown,
        shaped,
    )


def shape_or_junk(domain: Domain, shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A nested object of the real shape three times in four, else junk."""
    return pick((3, shaped), (1, junk(domain)))


# Known values most of the time, then unknown and mis-cased ones, then any text.
IDS = pick((3, st.text(min_size=1, max_size=12)), (1, st.sampled_from(["", " ", "veh-1", "\x00"])))
CHARGING_STATES = pick(
    (
        3,
        st.sampled_from(
            ["STARTING", "CHARGING", "STOPPED", "COMPLETE", "CONNECTED", "DISCONNECTED", "NO_POWER"]
        ),
    ),
    (1, st.sampled_from(["charging", "Charging", "UNKNOWN", "FAST_CHARGING", "None", "null", ""])),
    (1, st.text(max_size=12)),
)
COMMAND_STATUSES = pick(
    (3, st.sampled_from(["PENDING", "EXECUTED", "FAILED"])),
    (1, st.sampled_from(["pending", "CANCELLED", "TIMED_OUT", "None", ""])),
    (1, st.text(max_size=10)),
)
UNITS = pick(
    (3, st.sampled_from(["km", "mi", "mile", "miles", "MILES", "Mi", "m", "kWh", "percent", ""])),
    (1, st.text(max_size=6)),
)
MAKES = pick(
    (3, st.sampled_from(["TESLA", "tesla", "Tesla", "VOLKSWAGEN", "BMW", "", " ", "ß", "ǅ"])),
    (1, st.text(max_size=12)),
)
VINS = pick(
    (3, st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=17, max_size=17)),
    (1, st.sampled_from(["", "   ", "\t\n", " wvwzzz1jzxw000001 ", "ﬃ"])),
    (1, st.text(max_size=20)),
)
ERROR_CODES = pick(
    (
        3,
        st.sampled_from(
            [
                "AUTHENTICATION_ERROR",
                "INTERNAL_RATE_LIMITED",
                "RESOURCE_NOT_FOUND",
                "REQUEST_VALIDATION_ERROR",
                "PAGE_SIZE_TOO_LARGE",
                "PAGINATED_QUERY_FILTER_CHANGED",
                "COMMAND_ALREADY_IN_PROGRESS",
                "NOT_PERMITTED",
                "UNSUPPORTED_OEM",
                "DEVICE_LIMIT_REACHED",
                "SERVER_ERROR",
                "authentication_error",
                "SOMETHING_NEW",
                "",
            ]
        ),
    ),
    (1, st.text(max_size=12)),
)


# Unknown, mis-cased and neighbouring enum values, for strings the mutator replaces.
ODD_STRINGS = st.one_of(
    CHARGING_STATES, COMMAND_STATUSES, UNITS, MAKES, VINS, ERROR_CODES, st.text(max_size=12)
)


# --- the real shapes, by hand ----------------------------------------------------------------------


def reading(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        domain,
        {
            "value": field(domain, domain.numbers),
            "unit": field(domain, UNITS),
            "timestamp": field(domain, domain.timestamps),
        },
    )


def telemetry(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    """A `VehicleTelemetry` in the simulator's shape, every block the parser reads fuzzed."""
    flag = field(domain, st.booleans())
    stamp = field(domain, domain.timestamps)
    blocks: dict[str, st.SearchStrategy[Any]] = {
        name: shape_or_junk(domain, reading(domain))
        for name in (
            "odometer",
            "stateOfCharge",
            "range",
            "maxStateOfCharge",
            "chargeRemainingTime",
            "chargePowerLevel",
            "chargeCurrentLimit",
            "energyRemaining",
            "speed",  # unread, but its timestamp counts (the mutated seeds have the rest)
        )
    }
    blocks["location"] = shape_or_junk(
        domain,
        obj(
            domain,
            {
                "latitude": field(domain, domain.numbers),
                "longitude": field(domain, domain.numbers),
                "timestamp": stamp,
            },
        ),
    )
    blocks["chargingState"] = shape_or_junk(
        domain,
        obj(
            domain,
            {
                "chargingState": field(domain, CHARGING_STATES),
                "timestamp": stamp,
                "chargePortDoorOpen": flag,
                "chargePortLatch": field(domain, st.sampled_from(["ENGAGED", "DISENGAGED", "?"])),
            },
        ),
    )
    blocks["security"] = shape_or_junk(
        domain,
        obj(
            domain,
            {
                "locked": flag,
                "frontLeftDoor": field(domain, st.sampled_from(["OPEN", "CLOSED"])),
                "sunRoof": field(domain, st.sampled_from(["OPEN", "CLOSED"])),
                "timestamp": stamp,
            },
        ),
    )
    blocks["metadata"] = shape_or_junk(
        domain, obj(domain, {"accountId": field(domain, IDS), "lastSeenAt": stamp})
    )
    return obj(domain, blocks, required={"id": pick((4, IDS), (1, junk(domain)))}, extras=True)


def charging_telemetry(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    """Telemetry that is charging with a remaining time: the one place with date arithmetic."""
    return st.builds(
        lambda body, minutes, at: {
            **body,
            "chargingState": {"chargingState": "CHARGING", "timestamp": at},
            "chargeRemainingTime": {"value": minutes, "unit": "minutes", "timestamp": at},
        },
        telemetry(domain),
        domain.numbers,
        domain.timestamps,
    )


def vehicle(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        domain,
        {
            "id": field(domain, IDS),
            "vin": field(domain, VINS),
            "make": field(domain, MAKES),
            "model": field(domain, st.text(max_size=10)),
            "modelYear": field(domain, st.one_of(st.text(max_size=4), domain.numbers)),
            "trim": field(domain, st.text(max_size=5)),
            "connectionStatus": field(domain, st.sampled_from(["CONNECTED", "DISCONNECTED"])),
            "isListening": field(domain, st.booleans()),
            "metadata": shape_or_junk(
                domain,
                obj(
                    domain,
                    {
                        "accountId": field(domain, IDS),
                        "consentId": field(domain, IDS),
                        "lastSeenAt": field(domain, domain.timestamps),
                    },
                ),
            ),
        },
        extras=True,
    )


def execution(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        domain,
        {
            "id": field(domain, IDS),
            "vehicleId": field(domain, IDS),
            "command": field(domain, st.sampled_from(["LOCK_DOORS", "START_CHARGING", "NOPE"])),
            "commandArguments": field(domain, json_values(domain)),
            "timeout": field(domain, domain.numbers),
            "executedAt": field(domain, domain.timestamps),
            "status": field(domain, COMMAND_STATUSES),
            "failedReason": field(domain, st.text(max_size=20)),
        },
        extras=True,
    )


def error_envelope(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        domain,
        {
            "requestId": field(domain, IDS),
            "timestamp": field(domain, domain.timestamps),
            "error": field(domain, ERROR_CODES),
            "message": field(domain, st.text(max_size=20)),
            "data": field(domain, json_values(domain)),
        },
        extras=True,
    )


def token_body(domain: Domain) -> st.SearchStrategy[dict[str, Any]]:
    # The two fields the grant needs are always there (possibly null or junk): a missing one is
    # the mutated seed's and the arbitrary JSON's job, and this way the numbers get parsed.
    return obj(
        domain,
        {
            "token_type": field(domain, st.sampled_from(["Bearer", "bearer", "MAC"])),
            "refresh_token": field(domain, st.text(max_size=20)),
            "scope": field(domain, st.text(max_size=10)),
        },
        required={
            "access_token": field(domain, st.text(max_size=20)),
            "expires_in": field(domain, domain.numbers),
        },
        extras=True,
    )


# --- the simulator's own payloads, mutated -------------------------------------------------------


def _sim_vehicle(**changes: Any) -> SimVehicle:
    base: dict[str, Any] = {
        "id": "veh-1",
        "vin": "WVWZZZ1JZXW000001",
        "make": "VOLKSWAGEN",
        "model": "ID.4",
        "model_year": "2023",
        "reported_at": NOW,
        "last_activity": NOW,
        "simulated_to": NOW,
    }
    return SimVehicle(**(base | changes))


SEED_VEHICLES = [
    _sim_vehicle(),
    _sim_vehicle(id="veh-2", make="TESLA", model="Model 3", plugged_in=True, charging=True),
    _sim_vehicle(id="veh-3", plugged_in=True, locked=False, charge_port_open=True),
]
SEED_TELEMETRY = [payloads.telemetry(v) for v in SEED_VEHICLES]
SEED_VEHICLE_BODIES = [payloads.vehicle(v) for v in SEED_VEHICLES]
SEED_PAGE = payloads.page(SEED_VEHICLE_BODIES, "p3", 9)
SEED_EXECUTIONS = [
    payloads.execution(
        Execution(
            id="exec-1",
            vehicle_id="veh-1",
            command="SET_CHARGE_LIMIT",
            arguments={"limit": 80},
            created_at=NOW,
            status=status,
            failed_reason=reason,
            executed_at=NOW if status != "PENDING" else None,
        )
    )
    for status, reason in (("PENDING", None), ("EXECUTED", None), ("FAILED", "OEM_TIMEOUT"))
]
# What the simulator's token endpoint answers.
VALID_TOKEN = {
    "access_token": "a",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "r",
}
SEED_ERRORS = [
    payloads.error(code, "message", NOW, {"field": "x"})
    for code in ("AUTHENTICATION_ERROR", "INTERNAL_RATE_LIMITED", "SERVER_ERROR", "NOT_PERMITTED")
]


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where every node below the top sits, as the keys and indices that lead to it."""
    children: list[tuple[str | int, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    paths: list[tuple[str | int, ...]] = []
    for key, child in children:
        paths.append((*prefix, key))
        paths.extend(_paths(child, (*prefix, key)))
    return paths


def mutated(domain: Domain, seeds: list[Any]) -> st.SearchStrategy[Any]:
    """One of `seeds` with a few nodes dropped, nulled, replaced by junk or by an odd value of
    their own kind (an extreme number, a strange date, an unknown enum).

    The top stays an object: arbitrary JSON already covers the top-level type check. No
    mutation at all is the simplest case, so a failure shrinks towards the real payload.
    """

    with_paths = [(seed, _paths(seed)) for seed in seeds]
    odd_strings = st.one_of(domain.timestamps, ODD_STRINGS)

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        seed, paths = draw(st.sampled_from(with_paths))
        body = copy.deepcopy(seed)
        for index in draw(st.lists(st.integers(0, len(paths) - 1), max_size=8, unique=True)):
            *parents, last = paths[index]
            parent = body
            for key in parents:
                if not isinstance(parent, dict | list) or key not in _keys(parent):
                    break  # an earlier mutation replaced or dropped an ancestor
                parent = parent[key]
            else:
                if isinstance(parent, dict | list) and last in _keys(parent):
                    _mutate(draw, domain, odd_strings, parent, last)
        return body

    return build()


def _keys(node: dict[str, Any] | list[Any]) -> Collection[str | int]:
    return node.keys() if isinstance(node, dict) else range(len(node))


_ACTIONS = st.sampled_from(["odd", "null", "junk", "drop"])


def _mutate(
    draw: st.DrawFn, domain: Domain, odd_strings: st.SearchStrategy[str], parent: Any, key: Any
) -> None:
    node = parent[key]
    action = draw(_ACTIONS)
    if action == "drop" and isinstance(parent, dict):
        del parent[key]
    elif action == "null":
        parent[key] = None
    elif action == "junk" or isinstance(node, dict | list):
        parent[key] = draw(junk(domain))
    elif isinstance(node, bool):
        parent[key] = not node
    elif isinstance(node, int | float):
        parent[key] = draw(domain.numbers)
    elif isinstance(node, str):
        parent[key] = draw(odd_strings)
    else:
        parent[key] = draw(junk(domain))


# --- properties ------------------------------------------------------------------------------------


def telemetry_bodies(domain: Domain) -> st.SearchStrategy[Any]:
    telemetry_keys = st.sampled_from([*sorted(SEED_TELEMETRY[0]), "value", "unit", "timestamp"])
    return st.one_of(
        json_values(domain, telemetry_keys),
        telemetry(domain),
        charging_telemetry(domain),
        mutated(domain, SEED_TELEMETRY),
    )


def execution_bodies(domain: Domain) -> st.SearchStrategy[Any]:
    return st.one_of(
        json_values(domain, st.sampled_from(sorted(SEED_EXECUTIONS[0]))),
        execution(domain),
        mutated(domain, SEED_EXECUTIONS),
    )


def token_bodies(domain: Domain) -> st.SearchStrategy[Any]:
    return st.one_of(
        json_values(domain, st.sampled_from(["access_token", "expires_in", "refresh_token"])),
        token_body(domain),
        mutated(domain, [VALID_TOKEN]),
    )


def rejected(err: ProviderError) -> None:
    """Record a refusal; `--hypothesis-show-statistics` shows how often each outcome came up."""
    event(f"raised {type(err).__name__}")


def check_state(body: Any) -> None:
    try:
        state = parse.vehicle_state(body, NOW)
    except ProviderError as err:
        rejected(err)
        return
    assert isinstance(state, VehicleState)
    assert state.fetched_at == NOW
    readings = sum(
        getattr(state, f.name) is not None
        for f in dataclasses.fields(state)
        if f.name not in {"fetched_at", "asleep"}
    )
    event(f"parsed, {'no' if not readings else 'some' if readings < 8 else 'many'} readings")


def check_execution(body: Any, command_type: CommandType) -> None:
    try:
        result = parse.command_execution(body, command_type)
    except ProviderError as err:
        rejected(err)
        return
    assert isinstance(result, CommandExecution)
    assert result.type is command_type
    event(f"parsed, {result.status}")


@PURE
@given(body=st.one_of(json_values(WILD), vehicle(WILD), mutated(WILD, SEED_VEHICLE_BODIES)))
def test_vehicle_info(body: Any) -> None:
    try:
        info = parse.vehicle_info(body)
    except ProviderError as err:
        rejected(err)
        return
    event("parsed")
    assert isinstance(info, VehicleInfo)
    assert isinstance(info.id, str)
    assert isinstance(info.make, str)


@PURE
@given(
    body=st.one_of(
        json_values(WILD, st.sampled_from(["results", "nextPageToken", "totalResults"])),
        obj(
            WILD,
            {
                "results": field(
                    WILD,
                    st.lists(
                        st.one_of(vehicle(WILD), mutated(WILD, SEED_VEHICLE_BODIES), junk(WILD)),
                        max_size=4,
                    ),
                ),
                "nextPageToken": field(WILD, st.text(max_size=8)),
                "totalResults": field(WILD, WILD.numbers),
            },
            extras=True,
        ),
        mutated(WILD, [SEED_PAGE]),
    )
)
def test_vehicle_page(body: Any) -> None:
    # The page may or may not report the items it skipped; vehicles first, page token last.
    try:
        result = parse.vehicle_page(body)
    except ProviderError as err:
        rejected(err)
        return
    assert isinstance(result, tuple)
    vehicles, token = result[0], result[-1]
    assert isinstance(vehicles, list)
    assert all(isinstance(v, VehicleInfo) for v in vehicles)
    assert token is None or isinstance(token, str)
    event(f"parsed, {'no' if not vehicles else 'some'} vehicles")


@PURE
@given(body=telemetry_bodies(TAME))
def test_vehicle_state(body: Any) -> None:
    check_state(body)


@PURE_ONE_BUG
@example(body={"id": "v1", "stateOfCharge": {"value": 10**400}})
@example(
    body={
        "id": "v1",
        "chargingState": {"chargingState": "CHARGING"},
        "chargeRemainingTime": {"value": 1e300, "timestamp": "2026-11-24T17:00:00+00:00"},
    }
)
@example(
    body={
        "id": "v1",
        "chargingState": {"chargingState": "CHARGING"},
        "chargeRemainingTime": {"value": -1, "timestamp": "0001-01-01T00:00:00+00:00"},
    }
)
@given(body=telemetry_bodies(WILD))
def test_vehicle_state_wild_numbers(body: Any) -> None:
    check_state(body)


@PURE
@given(body=execution_bodies(TAME), command_type=st.sampled_from(CommandType))
def test_command_execution(body: Any, command_type: CommandType) -> None:
    check_execution(body, command_type)


@PURE_ONE_BUG
@example(
    body={"id": "exec-1", "status": "PENDING", "timeout": 10**400},
    command_type=CommandType.LOCK_DOORS,
)
@given(body=execution_bodies(WILD), command_type=st.sampled_from(CommandType))
def test_command_execution_wild_numbers(body: Any, command_type: CommandType) -> None:
    check_execution(body, command_type)


_ZONES = st.one_of(
    st.sampled_from(["GMT", "UTC", "UT", "Z", "EST", "PDT", "-0000", "+0000", "+0100", "XYZ", ""]),
    st.builds(lambda sign, hhmm: f"{sign}{hhmm:04d}", st.sampled_from("+-"), st.integers(0, 9999)),
)


def _garbled_date(
    day: str, date: int, month: str, year: int, clock: tuple[int, ...], zone: str
) -> str:
    hours, minutes, seconds = clock
    return f"{day}, {date:02d} {month} {year:04d} {hours:02d}:{minutes:02d}:{seconds:02d} {zone}"


def retry_after_headers(text: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    """Retry-After values: seconds, HTTP dates, near misses of both, and `text`."""
    return st.one_of(
        st.none(),
        st.just(""),
        st.integers(-(10**6), 10**30).map(str),
        st.floats().map(repr),  # incl. "inf", "nan", "-0.0", "1e+300"
        st.sampled_from(["1e400", "-1", " 5 ", "5s", "1_000", "0x10", "٣", "Infinity", "-inf"]),
        # HTTP dates: real ones anywhere in datetime's range, with odd and impossible zones...
        st.builds(
            lambda moment, zone: moment.strftime(f"%a, %d %b %Y %H:%M:%S {zone}"),
            st.datetimes(),
            _ZONES,
        ),
        # ...and ones whose every part may be out of range.
        st.builds(
            _garbled_date,
            st.sampled_from(["Mon", "Sun", "Xyz", ""]),
            st.integers(0, 99),
            st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
            st.one_of(st.integers(0, 9999), st.sampled_from([0, 49, 50, 69, 70, 99, 100, 10000])),
            st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
            _ZONES,
        ),
        st.sampled_from(
            [
                "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850
                "Sun Nov  6 08:49:37 1994",  # asctime
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "31 Dec 9999 23:59:59 -2359",
                "01 Jan 0001 00:00:00 +2359",
            ]
        ),
        text,
    )


@PURE
@given(
    status=st.one_of(
        st.integers(400, 599), st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 503])
    ),
    body=st.one_of(
        json_values(WILD, st.just("error")), error_envelope(WILD), mutated(WILD, SEED_ERRORS)
    ),
    retry_after=retry_after_headers(st.text(max_size=30)),
)
def test_error_from_response(status: int, body: Any, retry_after: str | None) -> None:
    try:
        error = error_from_response(status, body, retry_after)
    except ProviderError as err:  # a raised error is as good as a returned one
        error = err
    assert isinstance(error, ProviderError)
    event(type(error).__name__)
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        assert error.retry_after >= 0


# --- token parsing, through TokenManager's public API ----------------------------------------------


class FakeTokenEndpoint:
    """Answers the token requests in order; an exception in the script is raised instead."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.forms: list[dict[str, str]] = []

    async def __call__(self, form: dict[str, str]) -> Any:
        self.forms.append(form)
        answer = self.answers.pop(0) if self.answers else {"access_token": "x", "expires_in": 60}
        if isinstance(answer, BaseException):
            raise answer
        return answer


def token_scripts(domain: Domain) -> st.SearchStrategy[list[Any]]:
    """What the endpoint answers after the first grant: bodies, or a refusal raised instead."""
    refused = st.sampled_from(
        [AuthenticationError("refused"), TransientError("down"), RateLimitedError("slow")]
    )
    return st.lists(st.one_of(token_bodies(domain), refused), min_size=1, max_size=3)


async def check_tokens(first: Any, later: list[Any]) -> None:
    """Grant from `first`; once it has expired, renew (refresh, then the fallback grant) from
    `later`; then forget the token as a refused one and grant again."""
    now = [1_000_000.0]
    endpoint = FakeTokenEndpoint([first, *later])
    manager = TokenManager(endpoint, lambda: now[0])

    async def access_token() -> str | None:
        try:
            token = await manager.async_access_token()
        except ProviderError as err:
            event(f"renewal raised {type(err).__name__}")
            return None
        assert isinstance(token, str)
        return token

    await access_token()
    now[0] += 1e7  # past any expiry TAME can write
    if (token := await access_token()) is not None:
        manager.invalidate(token)
        await access_token()
    grants = [form.get("grant_type") for form in endpoint.forms]
    assert set(grants) <= {"client_credentials", "refresh_token"}
    event("refreshed" if "refresh_token" in grants else "no refresh")


@PURE
@given(first=st.one_of(st.just(VALID_TOKEN), token_bodies(TAME)), later=token_scripts(TAME))
async def test_token_grant(first: Any, later: list[Any]) -> None:
    await check_tokens(first, later)


@PURE_ONE_BUG
@example(first={"access_token": "a", "token_type": "Bearer", "expires_in": 10**400}, later=[])
@given(first=st.one_of(st.just(VALID_TOKEN), token_bodies(WILD)), later=token_scripts(WILD))
async def test_token_grant_wild_numbers(first: Any, later: list[Any]) -> None:
    await check_tokens(first, later)


# --- the client over real HTTP -----------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None
    retry_after: str | None


def to_json(value: Any) -> str:
    """JSON text; an infinite float is written as the `1e999` that decodes back to it."""
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def replies(domain: Domain, *, raw_bytes: bool) -> st.SearchStrategy[Reply]:
    """Telemetry answers: JSON of any shape, JSON cut short, text that is no JSON, an empty body;
    any status from 200 to 599 (1xx is no final answer a server can give)."""
    json_text = telemetry_bodies(domain).map(to_json)
    text = pick(
        (3, json_text),
        (1, json_text.flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n]))),  # cut short
        (1, st.text(max_size=40)),
        (1, st.sampled_from(["", "<html><body>502 Bad Gateway</body></html>", "null", "{", "]"])),
    )
    bodies = text.map(str.encode)
    content_types = [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "text/html; charset=iso-8859-1",
        None,
    ]
    if raw_bytes:
        # Bytes that are not UTF-8, bodies nested deeper than any parser's stack, and charsets
        # that do not fit the bytes.
        bodies = pick(
            (2, bodies),
            (1, st.binary(max_size=40)),
            (1, st.sampled_from([10, 1000, 1_000_000]).map(lambda n: b"[" * n + b"]" * n)),
        )
        content_types += ["application/json; charset=utf-16", "text/plain; charset=bogus"]
    return st.builds(
        Reply,
        status=pick(
            (2, st.just(200)),
            (1, st.sampled_from([204, 301, 304, 401, 403, 404, 429, 500, 502])),
            (1, st.integers(200, 599)),
        ),
        body=bodies,
        content_type=st.sampled_from(content_types),
        # Printable ASCII only: anything else is not a header the server can send.
        retry_after=retry_after_headers(
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
        ).filter(lambda h: h is None or (h.isascii() and h.isprintable())),
    )


class FuzzServer:
    """Grants every token; answers telemetry with whatever `reply` says."""

    def __init__(self) -> None:
        self.reply = Reply(200, b"{}", "application/json", None)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _token(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "access_token": "tok",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "r",
            }
        )

    async def _telemetry(self, request: web.Request) -> web.Response:
        reply = self.reply
        headers = {"Content-Type": reply.content_type} if reply.content_type else {}
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/oauth2/token", self._token)
        app.router.add_get("/v1/vehicles/{vehicle_id}/telemetry", self._telemetry)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def fuzz_server(socket_enabled: None) -> AsyncGenerator[FuzzServer]:
    server = FuzzServer()
    await server.start()
    yield server
    await server.stop()


VEHICLE = VehicleInfo(id="veh-1", vin="WVWZZZ1JZXW000001", make="VOLKSWAGEN")


async def check_client(server: FuzzServer, session: aiohttp.ClientSession, reply: Reply) -> None:
    server.reply = reply
    client = VolterasClient(
        session, client_id="c", client_secret="s", base_url=server.url, request_timeout=5
    )
    try:
        state = await client.async_get_state(VEHICLE)
    except ProviderError as err:
        rejected(err)
        return
    event("parsed")
    assert isinstance(state, VehicleState)


@HTTP
@given(reply=replies(TAME, raw_bytes=False))
async def test_client_get_state(
    fuzz_server: FuzzServer, session: aiohttp.ClientSession, reply: Reply
) -> None:
    await check_client(fuzz_server, session, reply)


@HTTP_ONE_BUG
@example(reply=Reply(200, b"\x80", "application/json", None))
@example(reply=Reply(200, b"[" * 1_000_000 + b"]" * 1_000_000, "application/json", None))
@example(
    reply=Reply(
        200, b'{"id":"v1","stateOfCharge":{"value":1' + b"0" * 400 + b"}}", "application/json", None
    )
)
@given(reply=replies(WILD, raw_bytes=True))
async def test_client_get_state_wild(
    fuzz_server: FuzzServer, session: aiohttp.ClientSession, reply: Reply
) -> None:
    await check_client(fuzz_server, session, reply)
