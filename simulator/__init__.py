"""A local stand-in for the car clouds EV Cloud talks to.

It serves each provider's real API surface on loopback (paths, payload shapes, error envelopes,
OAuth token endpoints), with vehicles whose state evolves, commands that stay pending before they
settle, and faults that can be switched on at run time. Tests, `scripts/develop` and the benchmark
all run the integration against it. It is not shipped to Home Assistant users.
"""

from __future__ import annotations

from .faults import FaultInjector, FaultKind
from .server import Simulator
from .volteras.fleet import SimVehicle, VolterasCloud

__all__ = ["FaultInjector", "FaultKind", "SimVehicle", "Simulator", "VolterasCloud"]
