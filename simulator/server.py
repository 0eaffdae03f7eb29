"""The simulator's HTTP server: provider routes, fault injection, request log, admin endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from . import oauth
from .faults import Fault, FaultInjector, FaultKind
from .tesla import routes as tesla_routes
from .tesla.fleet import TeslaAccount
from .tesla.signed import SignedCommands
from .volteras import payloads, routes, webhooks
from .volteras.fleet import VolterasCloud
from .volvo import routes as volvo_routes
from .volvo.fleet import VolvoAccount

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _path_template(request: web.Request) -> str:
    """The route's template with ids left as placeholders, commands spelled out."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    action = request.match_info.get("action")
    return template.replace("{action}", action) if action else template


class Simulator:
    """Serves the simulated clouds on loopback; start it, point EV Cloud at `url`."""

    def __init__(
        self,
        *,
        command_delay: float = 3.0,
        now: Callable[[], datetime] | None = None,
        token_lifetime: int = 3600,
    ) -> None:
        """Build the world; `now` lets tests and benchmarks drive a virtual clock."""
        self.now = now or _utcnow
        self.faults = FaultInjector()
        self.volteras = VolterasCloud(
            now=self.now, command_delay=command_delay, token_lifetime=token_lifetime
        )
        self.oauth = oauth.OAuthServer(now=self.now, token_lifetime=token_lifetime)
        self.tesla = TeslaAccount(now=self.now)
        self.tesla_signed = SignedCommands(self.now)
        self.volvo = VolvoAccount(now=self.now, command_delay=command_delay)
        self.webhooks = webhooks.WebhookSender(self.volteras)
        self.url = ""
        self._runner: web.AppRunner | None = None
        # Answers still being worked on after their caller gave up.
        self._late_answers: set[asyncio.Future[web.StreamResponse]] = set()

    @property
    def command_delay(self) -> float:
        """Seconds a command stays PENDING before it settles."""
        return self.volteras.command_delay

    @command_delay.setter
    def command_delay(self, value: float) -> None:
        self.volteras.command_delay = value

    def build_app(self) -> web.Application:
        """The aiohttp application (also usable with aiohttp's test client)."""
        app = web.Application(middlewares=[self._fault_middleware, self._error_middleware])
        app[routes.CLOUD] = self.volteras
        routes.add_routes(app)
        oauth.add_routes(app, self.oauth)
        tesla_routes.add_routes(app, self.tesla, self.tesla_signed)
        volvo_routes.add_routes(app, self.volvo)
        webhooks.add_routes(app, self.webhooks)
        app.router.add_get("/_sim/state", self._admin_state)
        app.router.add_post("/_sim/faults", self._admin_set_fault)
        app.router.add_delete("/_sim/faults", self._admin_clear_faults)
        app.router.add_post("/_sim/vehicles/{vehicle_id}", self._admin_patch_vehicle)
        app.router.add_post(
            "/_sim/vehicles/{vehicle_id}/fail-next-command", self._admin_fail_next_command
        )
        app.router.add_post("/_sim/revoke-tokens", self._admin_revoke_tokens)
        app.router.add_put("/_sim/tesla/hosted-key", self._admin_host_tesla_key)
        app.router.add_post("/_sim/tesla/pair", self._admin_pair_tesla_key)
        return app

    def pair_tesla_key(self, vin: str, domain: str) -> None:
        """Pair the car with the key registered for `domain`, as the pairing link does.

        That is what opening `https://tesla.com/_ak/<domain>` and approving on the phone does.

        Raises:
            KeyError: the car is unknown, or no app registered the domain.
        """
        public_key = self.tesla.domain_key(domain.lower())
        if public_key is None or vin not in self.tesla.cars:
            raise KeyError(vin if public_key else domain)
        self.tesla_signed.pair(vin, bytes.fromhex(public_key))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; port 0 picks a free one. Returns the base URL."""
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port nowhere else
        assert server is not None
        bound_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening and close connections; late answers nobody waits for are dropped."""
        late_answers = list(self._late_answers)
        for late in late_answers:
            late.cancel()
        await asyncio.gather(*late_answers, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start on a free loopback port."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            self.volteras.request_log.append((request.method, _path_template(request)))
        elif not request.path.startswith(
            (oauth.PREFIX, tesla_routes.PREFIX, *volvo_routes.PREFIXES)
        ):
            return await handler(request)
        fault = self.faults.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.kind is FaultKind.TIMEOUT:
            # The answer comes, but later than the client waits; what the request asked is done
            # all the same (a command reaches the car though its caller hung up).
            await request.read()
            late = asyncio.ensure_future(
                self._late(handler, request, float(fault.params.get("delay", 30)))
            )
            self._late_answers.add(late)
            late.add_done_callback(self._late_answer_done)
            return await asyncio.shield(late)
        if request.path.startswith(volvo_routes.PREFIXES):
            return volvo_routes.fault_response(fault)
        return self._fault_response(fault)

    def _late_answer_done(self, late: asyncio.Future[web.StreamResponse]) -> None:
        self._late_answers.discard(late)
        if not late.cancelled():
            # Whoever hung up never reads it; an error in it is the simulator's answer anyway.
            late.exception()

    @staticmethod
    async def _late(handler: Handler, request: web.Request, delay: float) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return await handler(request)

    def _fault_response(self, fault: Fault) -> web.Response:
        now = self.now()
        retry_after = {"Retry-After": str(int(fault.params.get("retry_after", 60)))}
        match fault.kind:
            case FaultKind.RATE_LIMITED:
                # Tesla also sends RateLimit-* headers; Volteras clients ignore them.
                limited = {**retry_after, "RateLimit-Reset": retry_after["Retry-After"]}
                return web.Response(status=429, text="Too Many Requests", headers=limited)
            case FaultKind.MALFORMED:
                return web.Response(
                    status=200, text='{"results": [{"id": ', content_type="application/json"
                )
            case _:
                code, status, message = {
                    FaultKind.UNAUTHORIZED: ("AUTHENTICATION_ERROR", 401, "Unauthorized."),
                    FaultKind.FORBIDDEN: ("NOT_PERMITTED", 403, "Not permitted."),
                    FaultKind.INTERNAL_RATE_LIMITED: (
                        "INTERNAL_RATE_LIMITED",
                        429,
                        "Rate limit reached.",
                    ),
                    FaultKind.SERVER_ERROR: ("SERVER_ERROR", 500, "Internal server error."),
                    FaultKind.COMMAND_IN_PROGRESS: (
                        "COMMAND_ALREADY_IN_PROGRESS",
                        409,
                        "A command of this type is already pending.",
                    ),
                    FaultKind.NOT_FOUND: ("RESOURCE_NOT_FOUND", 404, "Not found."),
                    FaultKind.WRONG_REGION: ("WRONG_REGION", 421, "Misdirected request."),
                }[fault.kind]
                headers = retry_after if status == 429 else None
                return web.json_response(
                    payloads.error(code, message, now), status=status, headers=headers
                )

    @web.middleware
    async def _error_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except routes.ApiError as err:
            return web.json_response(
                payloads.error(err.code, str(err), self.now()),
                status=err.status,
                headers=err.headers,
            )

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response({**self.volteras.state(), "faults": self.faults.as_list()})

    async def _admin_set_fault(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        kind = body.pop("kind")
        try:
            self.faults.set(
                kind, count=body.pop("count", None), path=body.pop("path", None), **body
            )
        except ValueError:
            raise web.HTTPBadRequest(text=f"unknown fault kind {kind!r}") from None
        return web.json_response({"faults": self.faults.as_list()})

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": []})

    async def _admin_patch_vehicle(self, request: web.Request) -> web.Response:
        vehicle = self.volteras.vehicles.get(request.match_info["vehicle_id"])
        if vehicle is None:
            raise web.HTTPNotFound(text="unknown vehicle")
        try:
            vehicle.update(await request.json(), self.now())
        except KeyError as err:
            raise web.HTTPBadRequest(text=f"unknown field {err}") from None
        return web.json_response(self.volteras.state()["vehicles"][vehicle.id])

    async def _admin_fail_next_command(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.volteras.fail_next_command(
            body["reason"], int(body.get("count", 1)), request.match_info["vehicle_id"]
        )
        return web.json_response({"ok": True})

    async def _admin_host_tesla_key(self, request: web.Request) -> web.Response:
        self.tesla.hosted_public_key = await request.text() or None
        return web.json_response({"ok": True})

    async def _admin_pair_tesla_key(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.pair_tesla_key(str(body["vin"]), str(body["domain"]))
        except KeyError as err:
            raise web.HTTPNotFound(text=f"unknown car or unregistered domain: {err}") from None
        return web.json_response({"ok": True})

    async def _admin_revoke_tokens(self, request: web.Request) -> web.Response:
        self.volteras.revoke_tokens()
        return web.json_response({"ok": True})
