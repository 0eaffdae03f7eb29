"""The car's side of Tesla's vehicle command protocol, behind `POST …/signed_command`.

A Fleet API client that signs commands (`tesla_fleet_api`'s `VehicleSigned`) talks to two of the
car's computers, each a *domain* with its own session: VCSEC (vehicle security: locks, charge port)
and INFOTAINMENT (charging, climate). Per client key, VIN and domain the car keeps an epoch (16
random bytes, new after a reboot), a clock (seconds since the epoch began) and the highest command
counter it has accepted, with a 32-wide sliding window for counters that arrive out of order.

The exchange, mirrored from the car-side verifier in Tesla's Go SDK (`teslamotors/vehicle-command`,
`internal/authentication`):

- Handshake: an unsigned `session_info_request` carrying the client's P-256 public key. A paired key
  gets `SessionInfo{counter, publicKey, epoch, clock_time}` plus an HMAC tag; an unpaired one gets
  `status=KEY_NOT_ON_WHITELIST` and no key or tag.
- Keys: `K = SHA1(ECDH(car, client))[:16]`, `K_cmd = HMAC-SHA256(K, "authenticated command")`,
  `K_si = HMAC-SHA256(K, "session info")`.
- A command is plaintext (`car_server.Action` or `vcsec.UnsignedMessage`) with
  `HMAC_Personalized_data{epoch, counter, expires_at, tag}`, the tag being
  `HMAC-SHA256(K_cmd, TLV(signature type, domain, VIN, epoch, expires_at, counter[, flags]) ‖ payload)`.
- The checks, in the verifier's order: epoch, expiry, time to live of a counter-less or
  out-of-order message, tag, counter. Each failure is a `signedMessageStatus` fault that also
  carries a fresh, tagged `session_info` (challenge: the request's uuid), so the client can resync.
- Replies are plaintext: `car_server.Response{actionStatus}` or `vcsec.FromVCSECMessage`. AES-GCM
  (requests and encrypted responses) is Bluetooth's and is not spoken here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import hashlib
import hmac
import os
import struct
from typing import Any, Protocol

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from tesla_protocol.command import (
    car_server_pb2 as car_server,
    errors_pb2 as errors,
    signatures_pb2 as signatures,
    universal_message_pb2 as universal,
    vcsec_pb2 as vcsec,
)

ASLEEP_BODY = {
    "response": None,
    "error": "vehicle unavailable: vehicle is offline or asleep",
    "error_description": "",
}
# The refusal for an action this simulated car does not implement.
UNSUPPORTED = "not_supported"

EPOCH_LENGTH = 16
WINDOW_SIZE = 32
MAX_SECONDS_WITHOUT_COUNTER = 30
COUNTER_MAX = 0xFFFFFFFF
LABEL_COMMAND = b"authenticated command"
LABEL_SESSION_INFO = b"session info"

VCSEC = universal.DOMAIN_VEHICLE_SECURITY
INFOTAINMENT = universal.DOMAIN_INFOTAINMENT

type Command = tuple[str, dict[str, Any]]


class SignedCar(Protocol):
    """The car behind the endpoint: whether it sleeps, and what a command does to it."""

    @property
    def asleep(self) -> bool:
        """An asleep car answers 408 and verifies nothing."""
        ...

    def run_command(self, name: str, args: dict[str, Any]) -> str | None:
        """Apply a command; None = done, else the refusal reason (e.g. "already_set", "disconnected")."""
        ...


@dataclass
class _Session:
    """One client key's session with one domain of one car."""

    epoch: bytes
    started: datetime
    command_key: bytes
    session_info_key: bytes
    counter: int = 0
    window: int = 0


class SignedCommands:
    """Every simulated car's command-protocol state: car keys, paired client keys, sessions."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        """Run the cars' session clocks on `now`."""
        self._now = now
        self._car_keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._paired: dict[str, set[bytes]] = {}
        self._sessions: dict[tuple[str, int, bytes], _Session] = {}

    # Keys -----------------------------------------------------------------------------------

    def car_public_key(self, vin: str) -> bytes:
        """The car's fixed P-256 public key (65-byte uncompressed point), made on first use."""
        return (
            self._car_key(vin)
            .public_key()
            .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        )

    def pair(self, vin: str, public_key: bytes) -> None:
        """Add a client key to the car's whitelist, as `tesla.com/_ak/<domain>` does.

        Raises:
            ValueError: `public_key` is not a 65-byte uncompressed X9.62 P-256 point.
        """
        if len(public_key) != 65 or public_key[0] != 4:
            raise ValueError("expected a 65-byte uncompressed P-256 point")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        except ValueError as err:
            raise ValueError("not a point on the P-256 curve") from err
        self._paired.setdefault(vin, set()).add(bytes(public_key))

    def unpair(self, vin: str) -> None:
        """Remove every client key from the car, and the sessions they had."""
        self._paired.pop(vin, None)
        for key in [key for key in self._sessions if key[0] == vin]:
            del self._sessions[key]

    def is_paired(self, vin: str, public_key: bytes) -> bool:
        """Whether this client key is on the car's whitelist."""
        return bytes(public_key) in self._paired.get(vin, set())

    def has_paired_key(self, vin: str) -> bool:
        """Whether any client key is on the car's whitelist (`fleet_status`)."""
        return bool(self._paired.get(vin))

    def change_epoch(self, vin: str) -> None:
        """Start new epochs on every domain, as a reboot does; clients must resync."""
        now = self._now()
        for (session_vin, _, _), session in self._sessions.items():
            if session_vin == vin:
                _new_epoch(session, now)

    # HTTP -------------------------------------------------------------------------------------

    async def handle(self, request: web.Request, vin: str, car: SignedCar) -> web.Response:
        """Answer `POST /api/1/vehicles/{vin}/signed_command` for `car`.

        The body is `{"routable_message": <base64 RoutableMessage>}`; the answer is
        `{"response": <base64 RoutableMessage>}`, or 408 while the car sleeps.
        """
        if car.asleep:
            return web.json_response(ASLEEP_BODY, status=408)
        try:
            body = await request.json()
            message = universal.RoutableMessage.FromString(
                base64.b64decode(body["routable_message"], validate=True)
            )
        except ValueError, KeyError, TypeError, binascii.Error, DecodeError:
            return web.json_response(
                {"response": None, "error": "invalid routable_message", "error_description": ""},
                status=400,
            )
        reply = self.reply(vin, message, car)
        return web.json_response({"response": base64.b64encode(reply.SerializeToString()).decode()})

    # Protocol ---------------------------------------------------------------------------------

    def reply(
        self, vin: str, message: universal.RoutableMessage, car: SignedCar
    ) -> universal.RoutableMessage:
        """The car's answer to one routable message from a client."""
        domain = message.to_destination.domain
        response = universal.RoutableMessage(
            to_destination=universal.Destination(
                routing_address=message.from_destination.routing_address
            ),
            from_destination=universal.Destination(domain=domain),
            request_uuid=message.uuid,
            uuid=os.urandom(16),
        )
        if domain not in (VCSEC, INFOTAINMENT):
            return _fault(response, universal.MESSAGEFAULT_ERROR_INVALID_DOMAINS)

        if message.WhichOneof("payload") == "session_info_request":
            client_key = message.session_info_request.public_key
            if not self.is_paired(vin, client_key):
                response.session_info = signatures.SessionInfo(
                    status=signatures.SESSION_INFO_STATUS_KEY_NOT_ON_WHITELIST
                ).SerializeToString()
                return response
            self._attach_session_info(
                response, vin, self._session(vin, domain, client_key), message.uuid
            )
            return response

        if message.signature_data.WhichOneof("sig_type") != "HMAC_Personalized_data":
            return _fault(response, universal.MESSAGEFAULT_ERROR_BAD_PARAMETER)
        client_key = message.signature_data.signer_identity.public_key
        if not self.is_paired(vin, client_key):
            return _fault(response, universal.MESSAGEFAULT_ERROR_UNKNOWN_KEY_ID)
        session = self._session(vin, domain, client_key)
        fault = self._verify(vin, session, message)
        if fault != universal.MESSAGEFAULT_ERROR_NONE:
            _fault(response, fault)
            self._attach_session_info(response, vin, session, message.uuid)
            return response

        try:
            if domain == INFOTAINMENT:
                answer = _run_infotainment(message.protobuf_message_as_bytes, car)
            else:
                answer = _run_vcsec(message.protobuf_message_as_bytes, car)
        except DecodeError:
            return _fault(response, universal.MESSAGEFAULT_ERROR_DECODING)
        response.protobuf_message_as_bytes = answer
        return response

    def _verify(
        self, vin: str, session: _Session, message: universal.RoutableMessage
    ) -> universal.MessageFault_E:
        """Check a signed command against its session; on success the counter is spent."""
        data = message.signature_data.HMAC_Personalized_data
        clock = self._clock(session)
        if data.epoch != session.epoch:
            return universal.MESSAGEFAULT_ERROR_INCORRECT_EPOCH
        if data.expires_at and data.expires_at < clock:
            return universal.MESSAGEFAULT_ERROR_TIME_EXPIRED
        if (data.counter == 0 or data.counter < session.counter) and (
            data.expires_at == 0 or data.expires_at - clock > MAX_SECONDS_WITHOUT_COUNTER
        ):
            # Only a message about to expire may skip the counter or arrive out of order.
            return universal.MESSAGEFAULT_ERROR_TIME_TO_LIVE_TOO_LONG

        items = [
            (signatures.TAG_SIGNATURE_TYPE, bytes([signatures.SIGNATURE_TYPE_HMAC_PERSONALIZED])),
            (signatures.TAG_DOMAIN, bytes([message.to_destination.domain])),
            (signatures.TAG_PERSONALIZATION, vin.encode()),
            (signatures.TAG_EPOCH, session.epoch),
            (signatures.TAG_EXPIRES_AT, struct.pack(">I", data.expires_at)),
            (signatures.TAG_COUNTER, struct.pack(">I", data.counter)),
        ]
        if message.flags:
            items.append((signatures.TAG_FLAGS, struct.pack(">I", message.flags)))
        expected = hmac.new(
            session.command_key, _tlv(items) + message.protobuf_message_as_bytes, hashlib.sha256
        ).digest()
        if not hmac.compare_digest(expected, data.tag):
            return universal.MESSAGEFAULT_ERROR_INVALID_SIGNATURE

        if data.counter:
            window = _slide(session.counter, session.window, data.counter)
            if window is None:
                return universal.MESSAGEFAULT_ERROR_INVALID_TOKEN_OR_COUNTER
            session.counter, session.window = window
        return universal.MESSAGEFAULT_ERROR_NONE

    def _attach_session_info(
        self,
        reply: universal.RoutableMessage,
        vin: str,
        session: _Session,
        challenge: bytes,
    ) -> None:
        """Put the session's state in `reply`, tagged for the request whose uuid is `challenge`."""
        encoded = signatures.SessionInfo(
            counter=session.counter,
            publicKey=self.car_public_key(vin),
            epoch=session.epoch,
            clock_time=self._clock(session),
            status=signatures.SESSION_INFO_STATUS_OK,
        ).SerializeToString()
        metadata = _tlv(
            [
                (signatures.TAG_SIGNATURE_TYPE, bytes([signatures.SIGNATURE_TYPE_HMAC])),
                (signatures.TAG_PERSONALIZATION, vin.encode()),
                (signatures.TAG_CHALLENGE, challenge),
            ]
        )
        reply.session_info = encoded
        reply.signature_data.session_info_tag.tag = hmac.new(
            session.session_info_key, metadata + encoded, hashlib.sha256
        ).digest()

    def _car_key(self, vin: str) -> ec.EllipticCurvePrivateKey:
        key = self._car_keys.get(vin)
        if key is None:
            key = self._car_keys[vin] = ec.generate_private_key(ec.SECP256R1())
        return key

    def _session(self, vin: str, domain: int, client_key: bytes) -> _Session:
        """The session of a paired client key with a domain, started on first contact."""
        index = (vin, domain, bytes(client_key))
        session = self._sessions.get(index)
        if session is None:
            shared = self._car_key(vin).exchange(
                ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), client_key)
            )
            key = hashlib.sha1(shared).digest()[:16]  # noqa: S324 - the protocol's key derivation
            session = self._sessions[index] = _Session(
                epoch=os.urandom(EPOCH_LENGTH),
                started=self._now(),
                command_key=hmac.new(key, LABEL_COMMAND, hashlib.sha256).digest(),
                session_info_key=hmac.new(key, LABEL_SESSION_INFO, hashlib.sha256).digest(),
            )
        return session

    def _clock(self, session: _Session) -> int:
        """Seconds into the session's epoch; a clock that went backwards starts a new epoch."""
        now = self._now()
        if now < session.started or session.counter >= COUNTER_MAX:
            _new_epoch(session, now)
        return int((now - session.started).total_seconds())


def _new_epoch(session: _Session, now: datetime) -> None:
    session.epoch = os.urandom(EPOCH_LENGTH)
    session.started = now
    session.counter = session.window = 0


def _slide(counter: int, window: int, new: int) -> tuple[int, int] | None:
    """Accept `new` into the anti-replay window: the new (counter, window), None if seen before.

    Bit i of `window` records that counter - 1 - i has been used (the Go SDK's `window.go`).
    """
    if new == counter:
        return None
    if new < counter:
        age = counter - new
        if age > WINDOW_SIZE or window >> (age - 1) & 1:
            return None
        return counter, window | 1 << (age - 1)
    shift = new - counter
    mask = (1 << 64) - 1
    return new, ((window << shift) | 1 << (shift - 1)) & mask


def _tlv(items: Sequence[tuple[int, bytes]]) -> bytes:
    """The protocol's metadata encoding: tag, length, value, …, TAG_END."""
    out = bytearray()
    for tag, value in items:
        out += bytes([tag, len(value)]) + value
    out.append(signatures.TAG_END)
    return bytes(out)


def _fault(
    reply: universal.RoutableMessage, fault: universal.MessageFault_E
) -> universal.RoutableMessage:
    reply.signedMessageStatus.operation_status = universal.OPERATIONSTATUS_ERROR
    reply.signedMessageStatus.signed_message_fault = fault
    return reply


def _float32(value: float) -> float:
    """The decimal a client meant by a protobuf float (21.3 arrives as 21.299999237…)."""
    return float(f"{value:.7g}")


def _infotainment_command(action: car_server.Action) -> Command | None:
    """The simulator's name and arguments for an infotainment action, None if unsupported."""
    vehicle_action = action.vehicleAction
    match vehicle_action.WhichOneof("vehicle_action_msg"):
        case "chargingStartStopAction":
            match vehicle_action.chargingStartStopAction.WhichOneof("charging_action"):
                case "start" | "start_standard" | "start_max_range":
                    return "charge_start", {}
                case "stop":
                    return "charge_stop", {}
                case _:
                    return None
        case "chargingSetLimitAction":
            return "set_charge_limit", {"percent": vehicle_action.chargingSetLimitAction.percent}
        case "setChargingAmpsAction":
            amps = vehicle_action.setChargingAmpsAction.charging_amps
            return "set_charging_amps", {"charging_amps": amps}
        case "hvacAutoAction":
            on = vehicle_action.hvacAutoAction.power_on
            return ("auto_conditioning_start" if on else "auto_conditioning_stop"), {}
        case "hvacTemperatureAdjustmentAction":
            temps = vehicle_action.hvacTemperatureAdjustmentAction
            return "set_temps", {
                "driver_temp": _float32(temps.driver_temp_celsius),
                "passenger_temp": _float32(temps.passenger_temp_celsius),
            }
        case "chargePortDoorOpen":
            return "charge_port_door_open", {}
        case "chargePortDoorClose":
            return "charge_port_door_close", {}
        case _:
            return None


def _run_infotainment(payload: bytes, car: SignedCar) -> bytes:
    """Run a `car_server.Action`; the `car_server.Response` carries the refusal reason."""
    command = _infotainment_command(car_server.Action.FromString(payload))
    reason = UNSUPPORTED if command is None else car.run_command(*command)
    if reason is None:
        status = car_server.ActionStatus(result=car_server.OPERATIONSTATUS_OK)
    else:
        status = car_server.ActionStatus(
            result=car_server.OPERATIONSTATUS_ERROR,
            result_reason=car_server.ResultReason(plain_text=reason),
        )
    return bytes(car_server.Response(actionStatus=status).SerializeToString())


_RKE_COMMANDS = {
    vcsec.RKE_ACTION_LOCK: "door_lock",
    vcsec.RKE_ACTION_UNLOCK: "door_unlock",
    vcsec.RKE_ACTION_OPEN_CHARGE_PORT: "charge_port_door_open",
    vcsec.RKE_ACTION_CLOSE_CHARGE_PORT: "charge_port_door_close",
}
_CHARGE_PORT_COMMANDS = {
    vcsec.CLOSURE_MOVE_TYPE_OPEN: "charge_port_door_open",
    vcsec.CLOSURE_MOVE_TYPE_CLOSE: "charge_port_door_close",
}


def _vcsec_command(message: vcsec.UnsignedMessage) -> str | None:
    """The simulator's name for a VCSEC message, None if unsupported."""
    match message.WhichOneof("sub_message"):
        case "RKEAction":
            return _RKE_COMMANDS.get(message.RKEAction)
        case "closureMoveRequest":
            move = message.closureMoveRequest
            if move != vcsec.ClosureMoveRequest(chargePort=move.chargePort):
                return None  # another closure (doors, trunks) moves too
            return _CHARGE_PORT_COMMANDS.get(move.chargePort)
        case _:
            return None


def generic_error(reason: str) -> errors.GenericError_E:
    """The VCSEC error for a refusal reason; the library reports its enum name.

    VCSEC has no free-text reason, so a refusal must name a `GenericError_E` value, with or without
    its prefix and in any case ("closures_open", "GENERICERROR_VEHICLE_NOT_IN_PARK"); any other
    reason becomes `GENERICERROR_UNKNOWN`.
    """
    name = reason.upper()
    if not name.startswith("GENERICERROR_"):
        name = f"GENERICERROR_{name}"
    try:
        error = errors.GenericError_E.Value(name)
    except ValueError:
        return errors.GENERICERROR_UNKNOWN
    return error if error != errors.GENERICERROR_NONE else errors.GENERICERROR_UNKNOWN


def _run_vcsec(payload: bytes, car: SignedCar) -> bytes:
    """Run a `vcsec.UnsignedMessage`; a refusal is a nominal error."""
    name = _vcsec_command(vcsec.UnsignedMessage.FromString(payload))
    reason = UNSUPPORTED if name is None else car.run_command(name, {})
    if reason is None:
        answer = vcsec.FromVCSECMessage(
            commandStatus=vcsec.CommandStatus(operationStatus=vcsec.OPERATIONSTATUS_OK)
        )
    else:
        answer = vcsec.FromVCSECMessage(
            nominalError=errors.NominalError(genericError=generic_error(reason))
        )
    return bytes(answer.SerializeToString())
