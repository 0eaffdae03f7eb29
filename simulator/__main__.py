"""Command line: run the simulator, or steer a running one through its admin endpoints.

python -m simulator [--host 127.0.0.1] [--port 8780] [--command-delay 3]
python -m simulator fault KIND [--count N] [--path P] [--retry-after S] [--delay S]
python -m simulator clear-faults
python -m simulator set VEHICLE_ID key=value ...
python -m simulator fail-next-command VEHICLE_ID REASON [--count N]
python -m simulator revoke-tokens
python -m simulator state
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any
import urllib.request

from .faults import FaultKind
from .server import Simulator
from .volteras.fleet import DEFAULT_CLIENT, DEFAULT_ORGANIZATION

DEFAULT_URL = "http://127.0.0.1:8780"


async def _serve(host: str, port: int, command_delay: float, token_lifetime: int) -> None:
    simulator = Simulator(command_delay=command_delay, token_lifetime=token_lifetime)
    url = await simulator.start(host, port)
    print(f"Volteras simulator on {url}", flush=True)
    print(
        f"  client id {DEFAULT_CLIENT[0]!r}, client secret {DEFAULT_CLIENT[1]!r}, "
        f"organisation {DEFAULT_ORGANIZATION!r}",
        flush=True,
    )
    for vehicle in simulator.volteras.vehicles.values():
        print(f"  vehicle {vehicle.id}: {vehicle.make} {vehicle.model} at {vehicle.soc:.0f} %")
    print(f"Tesla Fleet API on {url}: app 'sim-oauth-client' / 'sim-oauth-secret'", flush=True)
    for car in simulator.tesla.cars.values():
        print(f"  {car.vin}: {car.display_name} at {car.battery_level:.0f} %")
    print(
        f"Volvo Cars API on {url}: app 'sim-volvo-client' / 'sim-volvo-secret', "
        "API key 'sim-vcc-api-key'",
        flush=True,
    )
    for vin, volvo in simulator.volvo.cars.items():
        print(f"  {vin}: Volvo {volvo.model}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def _call(url: str, method: str, path: str, body: Any = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own simulator
        f"{url.rstrip('/')}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        print(json.dumps(json.loads(response.read()), indent=2))


def _value(text: str) -> Any:
    """`true`, `12.5`, `"x"` as JSON; anything else as a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and act."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL, help="a running simulator (admin commands)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--command-delay", type=float, default=3.0)
    parser.add_argument("--token-lifetime", type=int, default=3600)
    commands = parser.add_subparsers(dest="command")
    fault = commands.add_parser("fault", help="switch a fault on")
    fault.add_argument("kind", choices=[kind.value for kind in FaultKind])
    fault.add_argument("--count", type=int)
    fault.add_argument("--path")
    fault.add_argument("--retry-after", type=int)
    fault.add_argument("--delay", type=float)
    commands.add_parser("clear-faults", help="switch every fault off")
    patch = commands.add_parser("set", help="change a vehicle, e.g. plugged_in=true")
    patch.add_argument("vehicle_id")
    patch.add_argument("changes", nargs="+", metavar="key=value")
    fail = commands.add_parser("fail-next-command", help="make the next command fail")
    fail.add_argument("vehicle_id")
    fail.add_argument("reason")
    fail.add_argument("--count", type=int, default=1)
    commands.add_parser("revoke-tokens", help="expire every issued token")
    commands.add_parser("state", help="print vehicles, accounts, commands and faults")
    args = parser.parse_args(argv)

    match args.command:
        case None:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_serve(args.host, args.port, args.command_delay, args.token_lifetime))
        case "fault":
            body = {"kind": args.kind, "count": args.count, "path": args.path}
            if args.retry_after is not None:
                body["retry_after"] = args.retry_after
            if args.delay is not None:
                body["delay"] = args.delay
            _call(
                args.url, "POST", "/_sim/faults", {k: v for k, v in body.items() if v is not None}
            )
        case "clear-faults":
            _call(args.url, "DELETE", "/_sim/faults")
        case "set":
            changes = dict(change.split("=", 1) for change in args.changes)
            _call(
                args.url,
                "POST",
                f"/_sim/vehicles/{args.vehicle_id}",
                {key: _value(value) for key, value in changes.items()},
            )
        case "fail-next-command":
            _call(
                args.url,
                "POST",
                f"/_sim/vehicles/{args.vehicle_id}/fail-next-command",
                {"reason": args.reason, "count": args.count},
            )
        case "revoke-tokens":
            _call(args.url, "POST", "/_sim/revoke-tokens")
        case "state":
            _call(args.url, "GET", "/_sim/state")
        case _:  # pragma: no cover - argparse refuses unknown commands
            parser.error(f"unknown command {args.command}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
