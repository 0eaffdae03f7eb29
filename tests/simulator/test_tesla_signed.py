"""The simulated car's side of Tesla's command protocol, driven by an unmodified `tesla_fleet_api`."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import hashlib
import hmac
import os
from pathlib import Path
import struct
import time
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest
from tesla_fleet_api import TeslaFleetApi
from tesla_fleet_api.const import Trunk
from tesla_fleet_api.exceptions import (
    NotOnWhitelistFault,
    TeslaFleetMessageFaultInvalidSignature,
    TeslaFleetMessageFaultInvalidTokenOrCounter,
    TeslaFleetMessageFaultTimeExpired,
    TeslaFleetMessageFaultUnknownKeyId,
    VehicleOffline,
)
from tesla_fleet_api.tesla.vehicle.signed import VehicleSigned
from tesla_protocol.command import (
    car_server_pb2,
    common_pb2,
    errors_pb2,
    signatures_pb2,
    universal_message_pb2 as um,
    vcsec_pb2,
)

from simulator.tesla import signed as signed_module
from simulator.tesla.signed import SignedCommands

VIN = "LRW3E7FS2RC000001"
OK = {"response": {"result": True, "reason": ""}}
INFOTAINMENT = um.DOMAIN_INFOTAINMENT
VCSEC = um.DOMAIN_VEHICLE_SECURITY


@dataclass
class Clock:
    now: datetime = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeCar:
    asleep: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)

    def run_command(self, name: str, args: dict[str, Any]) -> str | None:
        self.calls.append((name, args))
        return self.refusals.get(name)


@dataclass
class Rig:
    url: str
    signed: SignedCommands
    car: FakeCar
    clock: Clock
    http: aiohttp.ClientSession
    vehicle: VehicleSigned[TeslaFleetApi]
    public_key: bytes

    async def post(self, message: um.RoutableMessage) -> um.RoutableMessage:
        """Send a routable message as-is, past the library."""
        async with self.http.post(
            f"{self.url}/api/1/vehicles/{VIN}/signed_command",
            json={"routable_message": base64.b64encode(message.SerializeToString()).decode()},
        ) as response:
            assert response.status == 200
            return um.RoutableMessage.FromString(
                base64.b64decode((await response.json())["response"])
            )


@pytest.fixture
async def rig(socket_enabled: None, tmp_path: Path) -> AsyncGenerator[Rig]:
    clock = Clock()
    signed = SignedCommands(clock)
    car = FakeCar()

    async def signed_command(request: web.Request) -> web.Response:
        return await signed.handle(request, request.match_info["vin"], car)

    app = web.Application()
    app.router.add_post("/api/1/vehicles/{vin}/signed_command", signed_command)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as http:
            api = TeslaFleetApi(http, access_token="t", server=url)
            key = await api.get_private_key(str(tmp_path / "key.pem"))
            public_key = key.public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            )
            signed.pair(VIN, public_key)
            vehicle = api.vehicles.createSigned(VIN)
            yield Rig(url, signed, car, clock, http, vehicle, public_key)
    finally:
        await runner.cleanup()


@dataclass
class Traffic:
    sent: list[um.RoutableMessage] = field(default_factory=list)
    received: list[um.RoutableMessage] = field(default_factory=list)

    @property
    def faults(self) -> list[int]:
        return [
            m.signedMessageStatus.signed_message_fault
            for m in self.received
            if m.signedMessageStatus.signed_message_fault
        ]


def watch(rig: Rig) -> Traffic:
    """Record every routable message the library sends and receives."""
    traffic = Traffic()
    original = rig.vehicle.signed_command

    async def recording(routable_message: str) -> dict[str, Any]:
        traffic.sent.append(um.RoutableMessage.FromString(base64.b64decode(routable_message)))
        reply = await original(routable_message)
        traffic.received.append(um.RoutableMessage.FromString(base64.b64decode(reply["response"])))
        return reply

    rig.vehicle.signed_command = recording
    return traffic


async def test_commands_reach_the_car(rig: Rig) -> None:
    vehicle = rig.vehicle
    assert await vehicle.charge_start() == OK
    assert await vehicle.set_charge_limit(80) == OK
    assert await vehicle.set_charging_amps(16) == OK
    assert await vehicle.auto_conditioning_start() == OK
    assert await vehicle.set_temps(21, 21) == OK
    assert await vehicle.charge_port_door_open() == OK
    assert await vehicle.door_lock() == OK
    assert await vehicle.charge_stop() == OK
    assert await vehicle.auto_conditioning_stop() == OK
    assert await vehicle.set_temps(21.3, 19.5) == OK
    assert await vehicle.charge_port_door_close() == OK
    assert await vehicle.door_unlock() == OK

    assert rig.car.calls == [
        ("charge_start", {}),
        ("set_charge_limit", {"percent": 80}),
        ("set_charging_amps", {"charging_amps": 16}),
        ("auto_conditioning_start", {}),
        ("set_temps", {"driver_temp": 21.0, "passenger_temp": 21.0}),
        ("charge_port_door_open", {}),
        ("door_lock", {}),
        ("charge_stop", {}),
        ("auto_conditioning_stop", {}),
        ("set_temps", {"driver_temp": 21.3, "passenger_temp": 19.5}),
        ("charge_port_door_close", {}),
        ("door_unlock", {}),
    ]
    assert isinstance(rig.car.calls[4][1]["driver_temp"], float)
    # Two domains, two sessions: separate epochs and counters.
    infotainment, vcsec = rig.vehicle._sessions[INFOTAINMENT], rig.vehicle._sessions[VCSEC]
    assert infotainment.epoch != vcsec.epoch
    assert (infotainment.counter, vcsec.counter) == (8, 4)


async def test_refusals_come_back_with_their_reason(rig: Rig) -> None:
    rig.car.refusals = {
        "charge_start": "disconnected",
        "set_charge_limit": "already_set",
        "charge_port_door_open": "closures_open",
        "door_lock": "is_charging",
    }
    vehicle = rig.vehicle
    assert await vehicle.charge_start() == {"response": {"result": False, "reason": "disconnected"}}
    assert await vehicle.set_charge_limit(80) == {
        "response": {"result": False, "reason": "already_set"}
    }
    # VCSEC has no free text: the library reports the GenericError name.
    assert await vehicle.charge_port_door_open() == {
        "response": {"result": False, "reason": "GENERICERROR_CLOSURES_OPEN"}
    }
    assert await vehicle.door_lock() == {
        "response": {"result": False, "reason": "GENERICERROR_UNKNOWN"}
    }
    # Actions the simulated car does not implement are refused without reaching it.
    calls = len(rig.car.calls)
    assert await vehicle.honk_horn() == {"response": {"result": False, "reason": "not_supported"}}
    assert await vehicle.actuate_trunk(Trunk.FRONT) == {
        "response": {"result": False, "reason": "GENERICERROR_NOT_SUPPORTED"}
    }
    assert len(rig.car.calls) == calls


async def test_an_unpaired_key_is_not_on_the_whitelist(rig: Rig) -> None:
    rig.signed.unpair(VIN)
    assert not rig.signed.is_paired(VIN, rig.public_key)
    with pytest.raises(NotOnWhitelistFault):
        await rig.vehicle.charge_start()
    with pytest.raises(NotOnWhitelistFault):
        await rig.vehicle.door_lock()
    assert rig.car.calls == []


async def test_a_key_removed_after_the_handshake_is_unknown_until_paired_again(rig: Rig) -> None:
    assert await rig.vehicle.charge_start() == OK
    rig.signed.unpair(VIN)
    assert not rig.signed.has_paired_key(VIN)
    with pytest.raises(TeslaFleetMessageFaultUnknownKeyId):
        await rig.vehicle.charge_stop()
    # Pairing again starts a new session; the library resyncs on the new epoch by itself.
    rig.signed.pair(VIN, rig.public_key)
    assert rig.signed.is_paired(VIN, rig.public_key)
    traffic = watch(rig)
    assert await rig.vehicle.charge_stop() == OK
    assert traffic.faults == [um.MESSAGEFAULT_ERROR_INCORRECT_EPOCH]
    assert rig.car.calls == [("charge_start", {}), ("charge_stop", {})]


async def test_a_tampered_command_has_an_invalid_signature(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = rig.vehicle.signed_command

    async def tampering(routable_message: str) -> dict[str, Any]:
        # A man in the middle raises the charge limit the client signed.
        message = um.RoutableMessage.FromString(base64.b64decode(routable_message))
        if message.HasField("protobuf_message_as_bytes"):
            action = car_server_pb2.Action.FromString(message.protobuf_message_as_bytes)
            action.vehicleAction.chargingSetLimitAction.percent = 100
            message.protobuf_message_as_bytes = action.SerializeToString()
        return await original(base64.b64encode(message.SerializeToString()).decode())

    monkeypatch.setattr(rig.vehicle, "signed_command", tampering)
    with pytest.raises(TeslaFleetMessageFaultInvalidSignature):
        await rig.vehicle.set_charge_limit(80)
    assert rig.car.calls == []

    monkeypatch.undo()
    assert await rig.vehicle.set_charge_limit(80) == OK
    assert rig.car.calls == [("set_charge_limit", {"percent": 80})]


async def test_a_wrong_key_signs_invalid_then_the_session_info_repairs_it(rig: Rig) -> None:
    assert await rig.vehicle.door_lock() == OK
    rig.vehicle._sessions[VCSEC].hmac = bytes(32)
    traffic = watch(rig)
    with pytest.raises(TeslaFleetMessageFaultInvalidSignature):
        await rig.vehicle.door_unlock()
    assert traffic.received[-1].session_info
    # The fault carried authenticated session info, from which the library re-derived its keys.
    assert await rig.vehicle.door_unlock() == OK
    assert rig.car.calls == [("door_lock", {}), ("door_unlock", {})]


async def test_a_replayed_command_is_refused_with_session_info(rig: Rig) -> None:
    traffic = watch(rig)
    assert await rig.vehicle.charge_start() == OK
    command = traffic.sent[-1]
    assert command.HasField("protobuf_message_as_bytes")

    reply = await rig.post(command)
    assert reply.signedMessageStatus.operation_status == um.OPERATIONSTATUS_ERROR
    assert (
        reply.signedMessageStatus.signed_message_fault
        == um.MESSAGEFAULT_ERROR_INVALID_TOKEN_OR_COUNTER
    )
    assert reply.request_uuid == command.uuid
    assert reply.to_destination.routing_address == command.from_destination.routing_address
    info = signatures_pb2.SessionInfo.FromString(reply.session_info)
    assert info.counter == command.signature_data.HMAC_Personalized_data.counter
    assert info.publicKey == rig.signed.car_public_key(VIN)
    # The library accepts the session info (its tag checks out) and raises the fault.
    with pytest.raises(TeslaFleetMessageFaultInvalidTokenOrCounter):
        rig.vehicle.validate_msg(reply, command.uuid)
    assert rig.car.calls == [("charge_start", {})]


async def test_a_stale_counter_resyncs_and_the_command_succeeds(rig: Rig) -> None:
    traffic = watch(rig)
    assert await rig.vehicle.charge_start() == OK
    assert await rig.vehicle.set_charging_amps(10) == OK
    session = rig.vehicle._sessions[INFOTAINMENT]
    session.counter = 0  # as after a client restart that kept an old session

    assert await rig.vehicle.set_charging_amps(12) == OK
    counters = [m.signature_data.HMAC_Personalized_data.counter for m in traffic.sent[1:]]
    assert counters == [1, 2, 1, 3]  # refused once, re-signed after the resync
    assert traffic.faults == [um.MESSAGEFAULT_ERROR_INVALID_TOKEN_OR_COUNTER]
    assert rig.car.calls == [
        ("charge_start", {}),
        ("set_charging_amps", {"charging_amps": 10}),
        ("set_charging_amps", {"charging_amps": 12}),
    ]


async def test_an_expired_command_resyncs_the_clock_and_the_resend_succeeds(rig: Rig) -> None:
    assert await rig.vehicle.charge_start() == OK
    assert await rig.vehicle.door_lock() == OK
    traffic = watch(rig)
    # The car's clock runs a minute ahead of what the client believes: its commands are stale.
    rig.clock.now += timedelta(minutes=1)
    with pytest.raises(TeslaFleetMessageFaultTimeExpired):
        await rig.vehicle.charge_stop()
    with pytest.raises(TeslaFleetMessageFaultTimeExpired):
        await rig.vehicle.door_unlock()
    assert rig.car.calls == [("charge_start", {}), ("door_lock", {})]
    assert traffic.faults == [um.MESSAGEFAULT_ERROR_TIME_EXPIRED] * 2

    assert await rig.vehicle.charge_stop() == OK
    assert await rig.vehicle.door_unlock() == OK
    assert rig.car.calls[2:] == [("charge_stop", {}), ("door_unlock", {})]


async def test_a_new_epoch_is_picked_up_without_the_caller_noticing(rig: Rig) -> None:
    assert await rig.vehicle.charge_start() == OK
    assert await rig.vehicle.door_lock() == OK
    epochs = {d: rig.vehicle._sessions[d].epoch for d in (INFOTAINMENT, VCSEC)}

    traffic = watch(rig)
    rig.signed.change_epoch(VIN)
    assert await rig.vehicle.set_temps(21, 21) == OK
    assert await rig.vehicle.door_unlock() == OK
    assert traffic.faults == [um.MESSAGEFAULT_ERROR_INCORRECT_EPOCH] * 2
    assert len(traffic.sent) == 4  # each command once more after the resync, no new handshake

    assert rig.car.calls == [
        ("charge_start", {}),
        ("door_lock", {}),
        ("set_temps", {"driver_temp": 21.0, "passenger_temp": 21.0}),
        ("door_unlock", {}),
    ]
    for domain in (INFOTAINMENT, VCSEC):
        assert rig.vehicle._sessions[domain].epoch != epochs[domain]
        assert rig.vehicle._sessions[domain].counter == 1


async def test_an_asleep_car_answers_408(rig: Rig) -> None:
    rig.car.asleep = True
    with pytest.raises(VehicleOffline):
        await rig.vehicle.charge_start()
    async with rig.http.post(
        f"{rig.url}/api/1/vehicles/{VIN}/signed_command", json={"routable_message": ""}
    ) as response:
        assert response.status == 408
        assert await response.json() == {
            "response": None,
            "error": "vehicle unavailable: vehicle is offline or asleep",
            "error_description": "",
        }
    assert rig.car.calls == []


async def test_malformed_and_misaddressed_messages(rig: Rig) -> None:
    for body in ({}, {"routable_message": "not base64!"}, {"routable_message": "/w=="}, []):
        async with rig.http.post(
            f"{rig.url}/api/1/vehicles/{VIN}/signed_command", json=body
        ) as response:
            assert response.status == 400

    autopilot = await rig.post(
        um.RoutableMessage(
            to_destination=um.Destination(domain=um.DOMAIN_AUTOPILOT),
            session_info_request=um.SessionInfoRequest(public_key=rig.public_key),
        )
    )
    assert (
        autopilot.signedMessageStatus.signed_message_fault == um.MESSAGEFAULT_ERROR_INVALID_DOMAINS
    )

    unsigned = await rig.post(
        um.RoutableMessage(
            to_destination=um.Destination(domain=INFOTAINMENT),
            protobuf_message_as_bytes=b"\x12\x00",
        )
    )
    assert unsigned.signedMessageStatus.signed_message_fault == um.MESSAGEFAULT_ERROR_BAD_PARAMETER
    assert rig.car.calls == []


def hand_signed(
    rig: Rig,
    domain: um.Domain,
    payload: bytes,
    *,
    counter: int,
    expires_in: int = 10,
    flags: int = 0,
) -> um.RoutableMessage:
    """A command signed outside the library, with the library's session keys."""
    session = rig.vehicle._sessions[domain]
    assert session.epoch is not None
    assert session.hmac is not None
    assert session.delta is not None
    expires_at = int(time.time()) - session.delta + expires_in
    metadata = bytes(
        [0, 1, 8, 1, 1, domain, 2, len(VIN), *VIN.encode(), 3, 16, *session.epoch]
        + [4, 4, *struct.pack(">I", expires_at), 5, 4, *struct.pack(">I", counter)]
        + ([7, 4, *struct.pack(">I", flags)] if flags else [])
        + [255]
    )
    return um.RoutableMessage(
        to_destination=um.Destination(domain=domain),
        from_destination=um.Destination(routing_address=os.urandom(16)),
        protobuf_message_as_bytes=payload,
        uuid=os.urandom(16),
        flags=flags,
        signature_data=signatures_pb2.SignatureData(
            signer_identity=signatures_pb2.KeyIdentity(public_key=rig.public_key),
            HMAC_Personalized_data=signatures_pb2.HMAC_Personalized_Signature_Data(
                epoch=session.epoch,
                counter=counter,
                expires_at=expires_at,
                tag=hmac.new(session.hmac, metadata + payload, hashlib.sha256).digest(),
            ),
        ),
    )


def action(**kwargs: Any) -> bytes:
    return car_server_pb2.Action(
        vehicleAction=car_server_pb2.VehicleAction(**kwargs)
    ).SerializeToString()


def action_status(reply: um.RoutableMessage) -> tuple[int, str]:
    status = car_server_pb2.Response.FromString(reply.protobuf_message_as_bytes).actionStatus
    return status.result, status.result_reason.plain_text


async def test_hand_signed_messages(rig: Rig) -> None:
    await rig.vehicle.handshakeInfotainment()
    await rig.vehicle.handshakeVehicleSecurity()

    # Flags, when set, are part of the signed metadata.
    reply = await rig.post(
        hand_signed(
            rig,
            INFOTAINMENT,
            action(chargePortDoorOpen=car_server_pb2.ChargePortDoorOpen()),
            counter=1,
            flags=1 << um.FLAG_USER_COMMAND,
        )
    )
    assert action_status(reply) == (car_server_pb2.OPERATIONSTATUS_OK, "")
    # Counter 0 skips the replay check, but only for a message about to expire.
    close = action(chargePortDoorClose=car_server_pb2.ChargePortDoorClose())
    reply = await rig.post(hand_signed(rig, INFOTAINMENT, close, counter=0, expires_in=5))
    assert action_status(reply) == (car_server_pb2.OPERATIONSTATUS_OK, "")
    reply = await rig.post(hand_signed(rig, INFOTAINMENT, close, counter=0, expires_in=60))
    assert (
        reply.signedMessageStatus.signed_message_fault
        == um.MESSAGEFAULT_ERROR_TIME_TO_LIVE_TOO_LONG
    )
    assert reply.session_info
    # Authentic but undecodable.
    reply = await rig.post(hand_signed(rig, INFOTAINMENT, b"\xff", counter=2))
    assert reply.signedMessageStatus.signed_message_fault == um.MESSAGEFAULT_ERROR_DECODING
    # Actions the car does not implement.
    unknown = action(
        chargingStartStopAction=car_server_pb2.ChargingStartStopAction(unknown=common_pb2.Void())
    )
    reply = await rig.post(hand_signed(rig, INFOTAINMENT, unknown, counter=3))
    assert action_status(reply) == (car_server_pb2.OPERATIONSTATUS_ERROR, "not_supported")
    for counter, message in enumerate(
        (
            vcsec_pb2.UnsignedMessage(InformationRequest=vcsec_pb2.InformationRequest()),
            vcsec_pb2.UnsignedMessage(RKEAction=vcsec_pb2.RKE_ACTION_WAKE_VEHICLE),
        ),
        start=1,
    ):
        payload = message.SerializeToString()
        reply = await rig.post(hand_signed(rig, VCSEC, payload, counter=counter))
        answer = vcsec_pb2.FromVCSECMessage.FromString(reply.protobuf_message_as_bytes)
        assert answer.nominalError.genericError == errors_pb2.GENERICERROR_NOT_SUPPORTED

    assert rig.car.calls == [("charge_port_door_open", {}), ("charge_port_door_close", {})]


async def test_a_car_clock_that_went_back_starts_a_new_epoch(rig: Rig) -> None:
    assert await rig.vehicle.charge_start() == OK
    traffic = watch(rig)
    rig.clock.now -= timedelta(hours=1)
    assert await rig.vehicle.charge_stop() == OK
    assert traffic.faults == [um.MESSAGEFAULT_ERROR_INCORRECT_EPOCH]


def test_change_epoch_touches_only_its_car() -> None:
    signed = SignedCommands(Clock())
    client = bytes.fromhex(
        "04"
        "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    )  # the P-256 generator
    other = "LRW3E7FS2RC000002"
    hello = um.RoutableMessage(
        to_destination=um.Destination(domain=INFOTAINMENT),
        session_info_request=um.SessionInfoRequest(public_key=client),
    )

    def epoch(vin: str) -> bytes:
        reply = signed.reply(vin, hello, FakeCar())
        return signatures_pb2.SessionInfo.FromString(reply.session_info).epoch

    for vin in (VIN, other):
        signed.pair(vin, client)
    before = {vin: epoch(vin) for vin in (VIN, other)}
    signed.change_epoch(VIN)
    assert epoch(VIN) != before[VIN]
    assert epoch(other) == before[other]


def test_vcsec_reasons_are_generic_errors() -> None:
    generic_error = signed_module.generic_error
    assert generic_error("closures_open") == errors_pb2.GENERICERROR_CLOSURES_OPEN
    assert generic_error("GENERICERROR_VEHICLE_NOT_IN_PARK") == (
        errors_pb2.GENERICERROR_VEHICLE_NOT_IN_PARK
    )
    assert generic_error("none") == errors_pb2.GENERICERROR_UNKNOWN
    assert generic_error("disconnected") == errors_pb2.GENERICERROR_UNKNOWN


def test_pairing_takes_only_p256_points() -> None:
    signed = SignedCommands(Clock())
    with pytest.raises(ValueError, match="65-byte"):
        signed.pair(VIN, b"\x04" + bytes(31))
    with pytest.raises(ValueError, match=r"point|curve"):
        signed.pair(VIN, b"\x04" + bytes(64))
    assert not signed.has_paired_key(VIN)


def test_the_counter_window_takes_late_counters_once() -> None:
    slide = signed_module._slide
    state = slide(0, 0, 5)  # counters 1-4 skipped; bit i of the window: counter 4 - i was used
    assert state == (5, 0b10000)
    assert slide(*state, 5) is None  # repeated
    late = slide(*state, 3)  # out of order, not seen yet
    assert late == (5, 0b10010)
    assert slide(*late, 3) is None
    assert slide(*state, 6) == (6, 0b100001)
    assert slide(40, 0, 7) is None  # older than the window reaches
