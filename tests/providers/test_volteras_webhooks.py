"""Volteras webhooks: Svix signature checks, refusals with stable reasons, and event parsing."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
import hashlib
import hmac
import json
from typing import Any

from hypothesis import event as hypothesis_event, example, given, settings, strategies as st
import pytest

from custom_components.ev_cloud.model import CommandStatus, CommandType
from custom_components.ev_cloud.providers.errors import ProviderError
from custom_components.ev_cloud.providers.volteras import parse
from custom_components.ev_cloud.providers.volteras.webhooks import (
    CommandEvent,
    ConnectionEvent,
    EventType,
    InvalidSecretError,
    RejectReason,
    TelemetryEvent,
    WebhookRejected,
    WebhookVerifier,
    decode_secret,
    is_valid_secret,
    parse_event,
)
from simulator.volteras import payloads
from simulator.volteras.fleet import Execution, SimVehicle

KEY = b"0123456789abcdef01234567"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_795_000_000  # unix seconds, the verifier's clock
MOMENT = datetime.fromtimestamp(NOW, UTC)
FUZZ = settings(max_examples=300, deadline=None, database=None)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    content = f"{message_id}.{timestamp}.".encode("utf-8", "surrogatepass") + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def delivery(
    payload: Any,
    *,
    message_id: str = "msg_1",
    timestamp: int | str = NOW,
    key: bytes = KEY,
    raw: bytes | None = None,
) -> tuple[dict[str, str], bytes]:
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = str(timestamp)
    return {
        "svix-id": message_id,
        "svix-timestamp": stamp,
        "svix-signature": signature(key, message_id, stamp, body),
    }, body


def vehicle() -> SimVehicle:
    return SimVehicle(
        id="veh-1",
        vin="5YJ3E7EB2NF000001",
        make="TESLA",
        soc=64.0,
        plugged_in=True,
        charging=True,
        last_activity=MOMENT,
        reported_at=MOMENT,
        simulated_to=MOMENT,
    )


def telemetry_payload() -> dict[str, Any]:
    return {
        "type": "device.telemetry",
        "timestamp": MOMENT.isoformat(),
        "data": {"vehicleId": "veh-1", "telemetry": payloads.telemetry(vehicle())},
    }


def command_payload(status: str = "EXECUTED", reason: str | None = None) -> dict[str, Any]:
    execution = Execution(
        id="exec-000007",
        vehicle_id="veh-1",
        command="START_CHARGING",
        arguments=None,
        created_at=MOMENT,
        status=status,
        failed_reason=reason,
        executed_at=MOMENT,
    )
    return {
        "type": "command.updated",
        "timestamp": MOMENT.isoformat(),
        "data": payloads.execution(execution),
    }


def connection_payload(connected: bool) -> dict[str, Any]:
    return {
        "type": "device.connected" if connected else "device.disconnected",
        "timestamp": MOMENT.isoformat(),
        "data": {"vehicleId": "veh-1", "accountId": "acc-1"},
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> WebhookVerifier:
    return WebhookVerifier(SECRET, now=clock)


def rejected(verifier: WebhookVerifier, headers: Any, body: Any) -> str:
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(headers, body)
    return caught.value.reason.value


# --- the reference vector and secrets ------------------------------------------------------------


def test_svix_reference_vector() -> None:
    """Svix's own test vector: the signature matches, so the refusal is about the body."""
    verifier = WebhookVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now=lambda: 1614265330)
    headers = {
        "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "svix-timestamp": "1614265330",
        "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    assert rejected(verifier, headers, body) == "malformed"
    assert rejected(verifier, headers, body + b" ") == "bad_signature"


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        SECRET.removeprefix("whsec_"),
        f"  {SECRET}\n",
        SECRET.rstrip("="),
    ],
)
def test_secret_forms(secret: str, clock: Clock) -> None:
    assert decode_secret(secret) == KEY
    assert is_valid_secret(secret)
    verifier = WebhookVerifier(secret, now=clock)
    assert verifier.verify(*delivery(telemetry_payload()))["type"] == "device.telemetry"


@pytest.mark.parametrize(
    "secret", ["", "whsec_", "whsec_!!!!", "whsec_é", "not base64 at all", "="]
)
def test_bad_secrets(secret: str) -> None:
    assert not is_valid_secret(secret)
    with pytest.raises(InvalidSecretError) as caught:
        WebhookVerifier(secret)
    if secret.removeprefix("whsec_"):
        assert secret.removeprefix("whsec_") not in str(caught.value)


def test_secret_must_be_text() -> None:
    assert not is_valid_secret(None)  # type: ignore[arg-type]


def test_repr_hides_secret(verifier: WebhookVerifier) -> None:
    assert SECRET.removeprefix("whsec_") not in repr(verifier)
    assert "tolerance" in repr(verifier)


# --- accepted deliveries -----------------------------------------------------------------------


def test_telemetry_event_reads_with_the_rest_parser(verifier: WebhookVerifier) -> None:
    payload = telemetry_payload()
    headers, body = delivery(payload)
    assert verifier.verify(headers, body) == payload
    event = parse_event(payload)
    assert isinstance(event, TelemetryEvent)
    assert event.type is EventType.TELEMETRY
    assert event.vehicle_id == "veh-1"
    assert event.occurred_at == MOMENT
    state = parse.vehicle_state(event.telemetry, MOMENT)
    assert state.battery_level == 64.0
    assert state.charging is True
    assert verifier.counts == {"accepted": 1}
    assert (verifier.accepted, verifier.refused) == (1, 0)


def test_telemetry_without_id_gets_the_vehicle_id() -> None:
    payload = telemetry_payload()
    del payload["data"]["telemetry"]["id"]
    event = parse_event(payload)
    assert isinstance(event, TelemetryEvent)
    assert event.telemetry["id"] == "veh-1"
    assert parse.vehicle_state(event.telemetry, MOMENT).battery_level == 64.0


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("EXECUTED", None, CommandStatus.EXECUTED),
        ("FAILED", "OEM_VEHICLE_OFFLINE", CommandStatus.FAILED),
        ("PENDING", None, CommandStatus.PENDING),
    ],
)
def test_command_event(
    verifier: WebhookVerifier, status: str, reason: str | None, expected: CommandStatus
) -> None:
    event = verifier.verify_event(*delivery(command_payload(status, reason)))
    assert isinstance(event, CommandEvent)
    assert event.type is EventType.COMMAND_UPDATED
    assert (event.vehicle_id, event.execution_id, event.status, event.command) == (
        "veh-1",
        "exec-000007",
        status,
        "START_CHARGING",
    )
    execution = parse.command_execution(event.execution, CommandType.START_CHARGING)
    assert execution.id == "exec-000007"
    assert execution.status is expected
    assert execution.failed_reason == reason


@pytest.mark.parametrize("connected", [True, False])
def test_connection_event(verifier: WebhookVerifier, connected: bool) -> None:
    event = verifier.verify_event(*delivery(connection_payload(connected)))
    assert event == ConnectionEvent(
        vehicle_id="veh-1", connected=connected, account_id="acc-1", occurred_at=MOMENT
    )
    assert event.type is (
        EventType.DEVICE_CONNECTED if connected else EventType.DEVICE_DISCONNECTED
    )


def test_connection_without_account_or_timestamp() -> None:
    event = parse_event({"type": "device.disconnected", "data": {"vehicleId": "veh-1"}})
    assert event == ConnectionEvent(vehicle_id="veh-1", connected=False)


@pytest.mark.parametrize("stamp", [None, 17, "yesterday", "2026-11-24T17:00:00", "\x00"])
def test_unreadable_envelope_timestamp_is_ignored(stamp: Any) -> None:
    payload = connection_payload(True) | {"timestamp": stamp}
    assert parse_event(payload).occurred_at is None


def test_headers_any_case_and_unbranded(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True), message_id="msg_a")
    shouted = {key.upper(): value for key, value in headers.items()}
    assert verifier.verify(shouted, body)["type"] == "device.connected"
    headers, body = delivery(connection_payload(True), message_id="msg_b")
    unbranded = {key.replace("svix-", "webhook-"): value for key, value in headers.items()}
    assert verifier.verify(unbranded, body)["type"] == "device.connected"


def test_any_v1_signature_may_match(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True))
    good = headers["svix-signature"]
    other = signature(b"another key", "msg_1", str(NOW), body)
    headers["svix-signature"] = f"v2,{good.removeprefix('v1,')} {other} v1 junk {good}"
    assert verifier.verify(headers, body)


def test_other_versions_are_ignored(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True))
    headers["svix-signature"] = headers["svix-signature"].replace("v1,", "v1a,")
    assert rejected(verifier, headers, body) == "bad_signature"


def test_tolerance_edges(verifier: WebhookVerifier, clock: Clock) -> None:
    for number, offset in enumerate((-300, 300)):
        headers, body = delivery(
            connection_payload(True), message_id=f"msg_{number}", timestamp=NOW + offset
        )
        assert verifier.verify(headers, body)
    for number, offset in enumerate((-301, 301, -3600, 10**9)):
        headers, body = delivery(
            connection_payload(True), message_id=f"msg_s{number}", timestamp=NOW + offset
        )
        assert rejected(verifier, headers, body) == "stale"
    custom = WebhookVerifier(SECRET, now=clock, tolerance=10)
    headers, body = delivery(connection_payload(True), timestamp=NOW - 11)
    assert rejected(custom, headers, body) == "stale"


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_missing_headers(verifier: WebhookVerifier, missing: str) -> None:
    headers, body = delivery(connection_payload(True))
    del headers[missing]
    assert rejected(verifier, headers, body) == "missing_headers"
    headers[missing] = "   "
    assert rejected(verifier, headers, body) == "missing_headers"


def test_overlong_message_id(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True), message_id="m" * 300)
    assert rejected(verifier, headers, body) == "missing_headers"


@pytest.mark.parametrize(
    "stamp",
    [
        "1.5",
        "abc",
        "-5",
        "+5",
        "1_000",
        "\uff11\uff12\uff13",
        "\u0661\u0662\u0663",
        "1e9",
        "9" * 13,
        "0x10",
    ],
)
def test_bad_timestamps(verifier: WebhookVerifier, stamp: str) -> None:
    headers, body = delivery(connection_payload(True), timestamp=stamp)
    assert rejected(verifier, headers, body) == "bad_timestamp"


def test_forged_and_tampered(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True), key=b"someone else's key")
    assert rejected(verifier, headers, body) == "bad_signature"
    headers, body = delivery(connection_payload(True))
    assert rejected(verifier, headers, body.replace(b"veh-1", b"veh-2")) == "bad_signature"
    moved = {**headers, "svix-timestamp": str(NOW + 1)}
    assert rejected(verifier, moved, body) == "bad_signature"
    renamed = {**headers, "svix-id": "msg_2"}
    assert rejected(verifier, renamed, body) == "bad_signature"


def test_replay_is_refused(verifier: WebhookVerifier, clock: Clock) -> None:
    headers, body = delivery(telemetry_payload())
    verifier.verify(headers, body)
    assert rejected(verifier, headers, body) == "replayed"
    # Svix retries with the same id and a new timestamp: still a duplicate.
    clock.now += 100
    retry, body = delivery(telemetry_payload(), timestamp=NOW + 100)
    assert rejected(verifier, retry, body) == "replayed"
    # Once the original could only be stale, the id may be forgotten.
    clock.now += 1000
    assert rejected(verifier, headers, body) == "stale"
    late, body = delivery(telemetry_payload(), timestamp=int(clock.now))
    assert verifier.verify(late, body)


def test_refused_deliveries_do_not_burn_their_id(verifier: WebhookVerifier) -> None:
    headers, body = delivery(telemetry_payload(), key=b"forger")
    assert rejected(verifier, headers, body) == "bad_signature"
    assert verifier.verify(*delivery(telemetry_payload()))


def test_replay_cache_is_bounded(clock: Clock) -> None:
    verifier = WebhookVerifier(SECRET, now=clock, max_remembered=2)
    first = delivery(connection_payload(True), message_id="msg_1")
    for message_id in ("msg_1", "msg_2", "msg_3"):
        verifier.verify(*delivery(connection_payload(True), message_id=message_id))
    assert len(verifier._seen) == 2
    assert verifier.verify(*first)  # pushed out of the bounded cache
    assert rejected(verifier, *delivery(connection_payload(True), message_id="msg_3")) == "replayed"


def test_replay_cache_expires(verifier: WebhookVerifier, clock: Clock) -> None:
    for number in range(3):
        verifier.verify(*delivery(connection_payload(True), message_id=f"msg_{number}"))
    clock.now += 2 * verifier.tolerance + 61
    verifier.verify(
        *delivery(connection_payload(True), message_id="msg_new", timestamp=int(clock.now))
    )
    assert list(verifier._seen) == ["msg_new"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "malformed"),
        (b"not json", "malformed"),
        (b'{"type": "device.telemetry", "data": ', "malformed"),
        (b"\xff\xfe{}", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'"device.telemetry"', "malformed"),
        (b'{"type": "device.connected", "data": {"vehicleId": NaN}}', "malformed"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed"),
        (b"{}", "malformed"),
        (b'{"type": 5, "data": {}}', "malformed"),
        (b'{"type": "device.telemetry", "data": []}', "malformed"),
        (b'{"type": "device.telemetry", "data": {"vehicleId": "v"}}', "malformed"),
        (b'{"type": "device.telemetry", "data": {"telemetry": {}}}', "malformed"),
        (
            b'{"type": "device.telemetry", "data": {"vehicleId": "v", "telemetry": {"id": "w"}}}',
            "malformed",
        ),
        (
            b'{"type": "device.telemetry", "data": {"vehicleId": "v", "telemetry": {"id": []}}}',
            "malformed",
        ),
        (b'{"type": "command.updated", "data": {"id": "e", "vehicleId": "v"}}', "malformed"),
        (
            b'{"type": "command.updated", "data": {"id": "", "vehicleId": "v", "status": "X"}}',
            "malformed",
        ),
        (b'{"type": "command.updated", "data": {"id": "e", "status": "EXECUTED"}}', "malformed"),
        (b'{"type": "device.connected", "data": {"vehicleId": " "}}', "malformed"),
        (b'{"type": "device.connected", "data": {"vehicleId": "v", "accountId": 3}}', "malformed"),
        (b'{"type": "device.connected"}', "malformed"),
        (b'{"type": "vehicle.deleted", "data": {}}', "unknown_event"),
        (b'{"type": "DEVICE.TELEMETRY", "data": null}', "unknown_event"),
    ],
)
def test_bodies(verifier: WebhookVerifier, raw: bytes, reason: str) -> None:
    headers, body = delivery(None, raw=raw)
    assert rejected(verifier, headers, body) == reason
    assert verifier.counts == {reason: 1}
    assert (verifier.accepted, verifier.refused) == (0, 1)


def test_oversized_body(clock: Clock) -> None:
    verifier = WebhookVerifier(SECRET, now=clock, max_body=100)
    payload = telemetry_payload()
    assert rejected(verifier, *delivery(payload)) == "malformed"


def test_body_kinds(verifier: WebhookVerifier) -> None:
    headers, body = delivery(connection_payload(True))
    assert verifier.verify(headers, bytearray(body))
    headers, body = delivery(connection_payload(True), message_id="msg_2")
    assert verifier.verify(headers, memoryview(body))
    headers, body = delivery(connection_payload(True), message_id="msg_3")
    assert rejected(verifier, headers, body.decode()) == "malformed"


def test_counts_and_safe_reason_text(verifier: WebhookVerifier) -> None:
    good_headers, good_body = delivery(telemetry_payload())
    cases: list[tuple[dict[str, str], bytes]] = [
        ({}, b""),
        ({**good_headers, "svix-timestamp": "soon"}, good_body),
        (delivery(telemetry_payload(), timestamp=NOW - 3600)),
        ({**good_headers, "svix-signature": "v1,Zm9yZ2VkIHNpZ25hdHVyZQ=="}, good_body),
        (good_headers, good_body),
        (good_headers, good_body),
        (delivery(None, message_id="msg_x", raw=b"{")),
        (delivery({"type": "x", "data": {}}, message_id="msg_y")),
    ]
    refusals = [
        result
        for headers, body in cases
        if isinstance(result := outcome(verifier, headers, body), WebhookRejected)
    ]
    assert len(refusals) == 7
    assert all(str(err).startswith(err.reason.value) for err in refusals)
    texts = [str(err) for err in refusals]
    assert verifier.counts == {
        "missing_headers": 1,
        "bad_timestamp": 1,
        "stale": 1,
        "bad_signature": 1,
        "accepted": 1,
        "replayed": 1,
        "malformed": 1,
        "unknown_event": 1,
    }
    assert verifier.refused == 7
    secret_part = SECRET.removeprefix("whsec_")
    for text in texts:
        assert secret_part not in text
        assert good_headers["svix-signature"].removeprefix("v1,") not in text
        assert "Zm9yZ2Vk" not in text
        assert "msg_1" not in text


def test_reasons_are_stable() -> None:
    assert [reason.value for reason in RejectReason] == [
        "missing_headers",
        "bad_timestamp",
        "stale",
        "bad_signature",
        "replayed",
        "malformed",
        "unknown_event",
    ]
    assert [kind.value for kind in EventType] == [
        "device.telemetry",
        "command.updated",
        "device.connected",
        "device.disconnected",
    ]


# --- fuzzing: nothing but WebhookRejected, whatever comes in -------------------------------------

HEADER_NAMES = st.sampled_from(
    [
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "Svix-Id",
        "SVIX-TIMESTAMP",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]
)
HEADER_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(NOW - 1000, NOW + 1000).map(str),
    st.sampled_from(["v1,", "v1,=", "v1,\x00", "v1,é", "v1,\ud800", "v1 v1, v2,x", "msg_1", ""]),
    st.text(alphabet="0123456789", max_size=20),
)
JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "type",
                        "data",
                        "timestamp",
                        "vehicleId",
                        "telemetry",
                        "id",
                        "status",
                        "accountId",
                        "command",
                    ]
                ),
                st.text(max_size=6),
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=10,
)


def pick(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """`one_of` with weights (a plain `one_of` picks evenly among its leaves)."""
    weighted = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(weighted) - 1).flatmap(weighted.__getitem__)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return pick((4, good), (1, bad))


IDS = mostly(
    st.sampled_from(["veh-1", "exec-1", "acc-1"]),
    st.one_of(st.sampled_from(["", " ", "x" * 300, "\x00"]), JSON),
)
STAMPS = mostly(st.just(MOMENT.isoformat()), JSON)
TELEMETRY = mostly(
    st.one_of(
        st.just(payloads.telemetry(vehicle())),
        st.fixed_dictionaries({}, optional={"id": IDS, "stateOfCharge": JSON}),
    ),
    JSON,
)
DATA = {
    "device.telemetry": st.fixed_dictionaries({"vehicleId": IDS, "telemetry": TELEMETRY}),
    "command.updated": st.fixed_dictionaries(
        {
            "id": IDS,
            "vehicleId": IDS,
            "status": mostly(st.sampled_from(["PENDING", "EXECUTED", "FAILED"]), JSON),
        },
        optional={"command": JSON, "failedReason": JSON, "timeout": JSON},
    ),
    "device.connected": st.fixed_dictionaries({"vehicleId": IDS}, optional={"accountId": IDS}),
    "device.disconnected": st.fixed_dictionaries({"vehicleId": IDS}, optional={"accountId": IDS}),
}
SHAPED = st.sampled_from(sorted(DATA)).flatmap(
    lambda kind: st.fixed_dictionaries(
        {"type": st.just(kind), "data": mostly(DATA[kind], JSON)}, optional={"timestamp": STAMPS}
    )
)
NEAR_VALID = pick(
    (6, SHAPED),
    (1, st.fixed_dictionaries({"type": JSON, "data": JSON}, optional={"timestamp": JSON})),
    (1, JSON),
)


def outcome(verifier: WebhookVerifier, headers: Any, body: Any) -> dict[str, Any] | WebhookRejected:
    """What `verify` returned, or the refusal it raised (and nothing else)."""
    try:
        return verifier.verify(headers, body)
    except WebhookRejected as err:
        return err


def check(verifier: WebhookVerifier, headers: Any, body: Any) -> None:
    payload = outcome(verifier, headers, body)
    if isinstance(payload, WebhookRejected):
        assert payload.reason in RejectReason
        hypothesis_event(payload.reason.value)
        return
    assert isinstance(payload, dict)
    assert isinstance(parse_event(payload), TelemetryEvent | CommandEvent | ConnectionEvent)


HEADER_SETS = mostly(
    st.fixed_dictionaries(
        {
            "svix-id": mostly(st.just("msg_1"), HEADER_VALUES),
            "svix-timestamp": mostly(st.integers(NOW - 400, NOW + 400).map(str), HEADER_VALUES),
            "svix-signature": HEADER_VALUES,
        }
    ),
    st.dictionaries(st.one_of(HEADER_NAMES, st.text(max_size=8)), HEADER_VALUES, max_size=5),
)


@FUZZ
@given(
    headers=HEADER_SETS,
    body=st.binary(max_size=200),
)
@example(
    headers={"svix-id": "\ud800", "svix-timestamp": str(NOW), "svix-signature": "v1,\ud800"},
    body=b"{}",
)
@example(headers={"svix-id": "a", "svix-timestamp": "9" * 5000, "svix-signature": "v1,x"}, body=b"")
def test_fuzz_unsigned(headers: dict[str, str], body: bytes) -> None:
    check(WebhookVerifier(SECRET, now=lambda: NOW), headers, body)


@FUZZ
@given(
    headers=st.dictionaries(
        st.one_of(HEADER_NAMES, st.integers(), st.none()),
        st.one_of(HEADER_VALUES, st.integers(), st.none(), st.binary()),
        max_size=4,
    ),
    body=st.one_of(st.binary(max_size=50), st.text(max_size=20), st.none(), st.integers()),
)
@example(headers=dict(delivery(None, raw=b"{}")[0]), body=None)
@example(headers=dict(delivery(None, raw=b"{}")[0]), body="{}")
def test_fuzz_wrong_types(headers: dict[Any, Any], body: Any) -> None:
    check(WebhookVerifier(SECRET, now=lambda: NOW), headers, body)


@FUZZ
@given(
    payload=NEAR_VALID,
    # HTTP strips whitespace around header values: an id never has any.
    message_id=st.one_of(
        st.just("msg_1"), st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip())
    ),
    skew=mostly(st.integers(-300, 300), st.integers(-400, 400)),
    mangle=mostly(st.just("none"), st.sampled_from(["truncate", "trailing", "invalid_utf8"])),
)
def test_fuzz_signed(payload: Any, message_id: str, skew: int, mangle: str) -> None:
    """Correctly signed bodies of near-valid shape reach the parsing, which still only refuses."""
    body = json.dumps(payload).encode()
    body = {
        "none": body,
        "truncate": body[: len(body) // 2],
        "trailing": body + b" x",
        "invalid_utf8": body + b"\xff",
    }[mangle]
    headers, body = delivery(None, message_id=message_id, timestamp=NOW + skew, raw=body)
    result = outcome(WebhookVerifier(SECRET, now=lambda: NOW), headers, body)
    if isinstance(result, WebhookRejected):
        hypothesis_event(result.reason.value)
        if abs(skew) > 300:
            assert result.reason is RejectReason.STALE
        elif mangle != "none":
            assert result.reason is RejectReason.MALFORMED
        else:
            assert result.reason in {RejectReason.MALFORMED, RejectReason.UNKNOWN_EVENT}
        return
    assert abs(skew) <= 300
    assert mangle == "none"
    assert result == payload
    event = parse_event(result)
    hypothesis_event(f"accepted {event.type.value}")
    if isinstance(event, TelemetryEvent):
        # Whatever the push carried, the REST parser reads it or raises its own error.
        with contextlib.suppress(ProviderError):
            parse.vehicle_state(event.telemetry, MOMENT)
