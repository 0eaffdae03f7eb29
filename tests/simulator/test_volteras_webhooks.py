"""The simulator's Volteras webhooks, delivered over real HTTP and checked with EV Cloud's verifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.ev_cloud.model import CommandStatus, CommandType
from custom_components.ev_cloud.providers.volteras import parse
from custom_components.ev_cloud.providers.volteras.webhooks import (
    CommandEvent,
    ConnectionEvent,
    TelemetryEvent,
    WebhookEvent,
    WebhookRejected,
    WebhookVerifier,
)
from simulator import Simulator
from simulator.volteras.webhooks import Mode, new_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type Outcome = WebhookEvent | str


class Clock:
    """Virtual time shared by the simulator and the receiver's verifier."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def unix(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receiver:
    """A webhook endpoint on loopback that checks each delivery as the integration would."""

    def __init__(self, verifier: WebhookVerifier) -> None:
        self.verifier = verifier
        self.outcomes: list[Outcome] = []
        self.headers: list[dict[str, str]] = []
        self.arrived: asyncio.Queue[Outcome] = asyncio.Queue()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.headers.append(dict(request.headers))
        outcome: Outcome
        try:
            outcome = self.verifier.verify_event(request.headers, body)
        except WebhookRejected as err:
            outcome = err.reason.value
        self.outcomes.append(outcome)
        self.arrived.put_nowait(outcome)
        return web.Response(status=400 if isinstance(outcome, str) else 204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def next(self) -> Outcome:
        return await asyncio.wait_for(self.arrived.get(), 5)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(socket_enabled: None, clock: Clock) -> AsyncGenerator[Simulator]:
    async with Simulator(command_delay=3.0, now=clock) as simulator:
        yield simulator


@pytest.fixture
async def receiver(socket_enabled: None, clock: Clock) -> AsyncGenerator[Receiver]:
    endpoint = Receiver(WebhookVerifier(SECRET, now=clock.unix))
    await endpoint.start()
    yield endpoint
    await endpoint.stop()


@pytest.fixture
def registered(sim: Simulator, receiver: Receiver) -> Receiver:
    sim.webhooks.add_endpoint(receiver.url, SECRET)
    return receiver


# --- one event on demand, in each mode ------------------------------------------------------------


async def test_telemetry_delivery(sim: Simulator, registered: Receiver) -> None:
    [delivery] = await sim.webhooks.send_telemetry("veh-tesla-m3")
    assert delivery.status == 204
    assert delivery.ok
    [event] = registered.outcomes
    assert isinstance(event, TelemetryEvent)
    assert event.vehicle_id == "veh-tesla-m3"
    assert event.occurred_at == sim.now()
    state = parse.vehicle_state(event.telemetry, sim.now())
    assert state.battery_level == 64.0
    assert state.plugged_in is True
    headers = registered.headers[0]
    assert headers["svix-id"].startswith("msg_")
    assert headers["svix-timestamp"] == str(int(sim.now().timestamp()))
    assert headers["svix-signature"].startswith("v1,")


async def test_command_and_connection_on_demand(sim: Simulator, registered: Receiver) -> None:
    execution = sim.volteras.create_execution("veh-vw-id4", "LOCK_DOORS", None)
    await sim.webhooks.send_command(execution.id)
    await sim.webhooks.send_connection("veh-vw-id4", connected=True)
    await sim.webhooks.send_connection("veh-gone", connected=False, account_id="acc-x")
    command, joined, left = registered.outcomes
    assert isinstance(command, CommandEvent)
    assert (command.execution_id, command.vehicle_id, command.status) == (
        execution.id,
        "veh-vw-id4",
        "PENDING",
    )
    assert joined == ConnectionEvent(
        vehicle_id="veh-vw-id4", connected=True, account_id="acc-sim-1", occurred_at=sim.now()
    )
    assert left == ConnectionEvent(
        vehicle_id="veh-gone", connected=False, account_id="acc-x", occurred_at=sim.now()
    )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (Mode.FORGED, "bad_signature"),
        (Mode.LATE, "stale"),
        (Mode.MALFORMED, "malformed"),
    ],
)
async def test_bad_deliveries_are_refused(
    sim: Simulator, registered: Receiver, mode: Mode, reason: str
) -> None:
    [delivery] = await sim.webhooks.send_telemetry("veh-tesla-m3", mode=mode)
    assert delivery.status == 400
    assert registered.outcomes == [reason]
    assert registered.verifier.counts == {reason: 1}
    # The receiver still takes the next proper delivery.
    await sim.webhooks.send_telemetry("veh-tesla-m3")
    assert isinstance(registered.outcomes[-1], TelemetryEvent)


async def test_replayed_delivery_is_refused(sim: Simulator, registered: Receiver) -> None:
    [first] = await sim.webhooks.send_connection("veh-vw-id4", connected=True)
    [again] = await sim.webhooks.send_telemetry("veh-tesla-m3", mode=Mode.REPLAYED)
    assert (again.message_id, again.body, again.headers) == (
        first.message_id,
        first.body,
        first.headers,
    )
    assert isinstance(registered.outcomes[0], ConnectionEvent)
    assert registered.outcomes[1] == "replayed"
    assert registered.verifier.counts == {"accepted": 1, "replayed": 1}


async def test_replay_needs_a_previous_delivery(sim: Simulator, registered: Receiver) -> None:
    with pytest.raises(LookupError):
        await sim.webhooks.replay()
    assert registered.outcomes == []


async def test_unknown_ids(sim: Simulator, registered: Receiver) -> None:
    with pytest.raises(KeyError):
        await sim.webhooks.send_telemetry("veh-nope")
    with pytest.raises(KeyError):
        await sim.webhooks.send_command("exec-nope")
    with pytest.raises(KeyError):
        await sim.webhooks.send_connection("veh-nope", connected=True)


# --- what the fleet does is pushed --------------------------------------------------------------


async def test_command_result_is_pushed(sim: Simulator, clock: Clock, registered: Receiver) -> None:
    """The most useful push: a command's result arrives without a follow-up poll."""
    execution = sim.volteras.create_execution("veh-vw-id4", "CLIMATE_ON", None)
    assert await sim.webhooks.pump() == []  # created PENDING: not news
    clock.advance(3)
    sent = await sim.webhooks.pump()
    assert [d.event for d in sent] == ["command.updated", "device.telemetry"]
    command = registered.outcomes[0]
    assert isinstance(command, CommandEvent)
    assert command.execution_id == execution.id
    assert command.command == "CLIMATE_ON"
    result = parse.command_execution(command.execution, CommandType.CLIMATE_ON)
    assert result.status is CommandStatus.EXECUTED
    assert await sim.webhooks.pump() == []


async def test_failed_command_is_pushed(sim: Simulator, clock: Clock, registered: Receiver) -> None:
    sim.volteras.create_execution("veh-vw-id4", "START_CHARGING", None)  # not plugged in
    clock.advance(3)
    await sim.webhooks.pump()
    command = registered.outcomes[0]  # then the charging car's telemetry
    assert isinstance(command, CommandEvent)
    result = parse.command_execution(command.execution, CommandType.START_CHARGING)
    assert result.status is CommandStatus.FAILED
    assert result.failed_reason == "OEM_VEHICLE_CHARGING_NOT_STARTED"


async def test_charging_telemetry_is_pushed_as_it_changes(
    sim: Simulator, clock: Clock, registered: Receiver
) -> None:
    clock.advance(600)
    sent = await sim.webhooks.pump()
    # Only the charging car's readings moved; the others reported nothing new.
    assert [(d.event, d.ok) for d in sent] == [("device.telemetry", True)]
    [event] = registered.outcomes
    assert isinstance(event, TelemetryEvent)
    assert event.vehicle_id == "veh-polestar-2"
    assert (parse.vehicle_state(event.telemetry, clock()).battery_level or 0) > 52.0
    assert await sim.webhooks.pump() == []


async def test_vehicles_joining_and_leaving_are_pushed(
    sim: Simulator, registered: Receiver
) -> None:
    car = sim.volteras.add_vehicle(id="veh-new", account_id="acc-sim-1")
    await sim.webhooks.pump()
    sim.volteras.remove_vehicle(car.id)
    await sim.webhooks.pump()
    assert registered.outcomes == [
        ConnectionEvent(
            vehicle_id="veh-new", connected=True, account_id="acc-sim-1", occurred_at=sim.now()
        ),
        ConnectionEvent(
            vehicle_id="veh-new", connected=False, account_id="acc-sim-1", occurred_at=sim.now()
        ),
    ]


async def test_changes_before_the_first_endpoint_are_not_sent(
    sim: Simulator, clock: Clock, receiver: Receiver
) -> None:
    sim.volteras.add_vehicle(id="veh-early")
    clock.advance(600)
    assert await sim.webhooks.pump() == []  # nobody listens
    sim.volteras.vehicles["veh-vw-id4"].update({"locked": False}, clock())
    sim.webhooks.add_endpoint(receiver.url, SECRET)
    assert await sim.webhooks.pump() == []
    assert receiver.outcomes == []


async def test_endpoints_hear_only_their_organisation(
    sim: Simulator, clock: Clock, receiver: Receiver
) -> None:
    sim.webhooks.add_endpoint(receiver.url, SECRET, organization_id="other-org")
    clock.advance(600)
    sim.volteras.add_vehicle(id="veh-new")
    assert await sim.webhooks.pump() == []
    await sim.webhooks.send_telemetry("veh-tesla-m3")
    assert receiver.outcomes == []


async def test_unreachable_endpoint_is_recorded(sim: Simulator) -> None:
    sim.webhooks.timeout = 2
    sim.webhooks.add_endpoint("http://127.0.0.1:9/hook", new_secret())
    [delivery] = await sim.webhooks.send_telemetry("veh-tesla-m3")
    assert delivery.status is None
    assert delivery.error
    assert not delivery.ok


def test_bad_secret_is_refused_at_registration(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="base64"):
        sim.webhooks.add_endpoint("http://127.0.0.1:9/hook", "whsec_!!!")


# --- admin endpoints ----------------------------------------------------------------------------


async def admin(
    session: aiohttp.ClientSession, sim: Simulator, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(method, f"{sim.url}/_sim/webhooks{path}", json=body) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_admin_endpoints(sim: Simulator, clock: Clock, receiver: Receiver) -> None:
    async with aiohttp.ClientSession() as session:
        status, endpoint = await admin(
            session,
            sim,
            "POST",
            "/endpoints",
            {"url": receiver.url, "secret": SECRET, "auto": False},
        )
        assert status == 200
        assert endpoint["organizationId"] == "sim-org"
        assert endpoint["auto"] is False
        assert "secret" not in str(await admin(session, sim, "GET", "/endpoints"))

        async def send(body: dict[str, Any]) -> list[dict[str, Any]]:
            status, answer = await admin(session, sim, "POST", "/send", body)
            assert status == 200, answer
            deliveries: list[dict[str, Any]] = answer["deliveries"]
            return deliveries

        await send({"event": "device.telemetry", "vehicle_id": "veh-tesla-m3"})
        execution = sim.volteras.create_execution("veh-tesla-m3", "LOCK_DOORS", None)
        await send({"event": "command.updated", "execution_id": execution.id})
        await send({"event": "device.connected", "vehicle_id": "veh-vw-id4"})
        await send({"event": "device.disconnected", "vehicle_id": "veh-x", "account_id": "a"})
        for mode in ("forged", "late", "malformed"):
            [delivery] = await send(
                {"event": "device.telemetry", "vehicle_id": "veh-tesla-m3", "mode": mode}
            )
            assert (delivery["mode"], delivery["status"]) == (mode, 400)
        [replayed] = await send({"mode": "replayed"})
        assert replayed["status"] == 400
        assert [type(o).__name__ if not isinstance(o, str) else o for o in receiver.outcomes] == [
            "TelemetryEvent",
            "CommandEvent",
            "ConnectionEvent",
            "ConnectionEvent",
            "bad_signature",
            "stale",
            "malformed",
            "replayed",
        ]

        async with session.post(
            f"{sim.url}/_sim/vehicles/veh-vw-id4", json={"plugged_in": True}
        ) as response:
            assert response.status == 200
        clock.advance(3)  # the LOCK_DOORS command settles too
        status, flushed = await admin(session, sim, "POST", "/flush")
        events = [d["event"] for d in flushed["deliveries"]]
        assert events[0] == "command.updated"
        assert "device.telemetry" in events
        pushed = [o for o in receiver.outcomes[-len(events) :] if isinstance(o, TelemetryEvent)]
        [plugged] = [o for o in pushed if o.vehicle_id == "veh-vw-id4"]
        assert parse.vehicle_state(plugged.telemetry, clock()).plugged_in is True

        status, log = await admin(session, sim, "GET", "/deliveries")
        assert len(log["deliveries"]) == 8 + len(events)
        assert log["deliveries"][0]["messageId"].startswith("msg_")

        status, _ = await admin(session, sim, "DELETE", "/endpoints")
        assert status == 200
        assert sim.webhooks.endpoints == {}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/endpoints", {"url": "http://x", "secret": "whsec_!!!"}, 400),
        ("/endpoints", {"url": "http://x"}, 400),
        ("/endpoints", {"url": "http://x", "secret": SECRET, "interval": 0}, 400),
        ("/endpoints", ["not", "an", "object"], 400),
        ("/send", {"event": "device.telemetry", "vehicle_id": "veh-nope"}, 404),
        ("/send", {"event": "command.updated", "execution_id": "exec-nope"}, 404),
        ("/send", {"event": "device.connected", "vehicle_id": "veh-nope"}, 404),
        ("/send", {"event": "device.telemetry"}, 400),
        ("/send", {"event": "vehicle.deleted", "vehicle_id": "veh-tesla-m3"}, 400),
        ("/send", {"event": "device.telemetry", "vehicle_id": "veh-tesla-m3", "mode": "x"}, 400),
        ("/send", {"mode": "replayed"}, 200),  # no endpoint: nothing to replay to
    ],
)
async def test_admin_refusals(sim: Simulator, path: str, body: Any, status: int) -> None:
    async with aiohttp.ClientSession() as session:
        assert (await admin(session, sim, "POST", path, body))[0] == status


async def test_admin_replay_without_history_conflicts(sim: Simulator, receiver: Receiver) -> None:
    sim.webhooks.add_endpoint(receiver.url, SECRET)
    async with aiohttp.ClientSession() as session:
        status, text = await admin(session, sim, "POST", "/send", {"mode": "replayed"})
    assert status == 409
    assert "nothing to replay" in text


async def test_auto_push_of_a_command_result(
    socket_enabled: None, clock: Clock, receiver: Receiver
) -> None:
    """Registered through the admin endpoint, the simulator pushes by itself."""
    async with Simulator(command_delay=0.0, now=clock) as sim, aiohttp.ClientSession() as session:
        status, endpoint = await admin(
            session,
            sim,
            "POST",
            "/endpoints",
            {"url": receiver.url, "secret": SECRET, "interval": 0.05},
        )
        assert (status, endpoint["auto"]) == (200, True)
        async with session.post(
            f"{sim.url}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": aiohttp.encode_basic_auth("sim-client", "sim-secret")},
        ) as response:
            token = (await response.json())["access_token"]
        async with session.post(
            f"{sim.url}/v1/vehicles/veh-vw-id4/command-execution:lock-doors",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            execution_id = (await response.json())["id"]
        command = await receiver.next()
        assert isinstance(command, CommandEvent)
        assert (command.execution_id, command.status) == (execution_id, "EXECUTED")
        assert sim.webhooks.auto
    assert not sim.webhooks.auto  # stopping the simulator stops the pushes
    assert sim.webhooks._session is None
