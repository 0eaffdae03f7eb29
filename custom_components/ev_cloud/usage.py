"""What an entry spends at its cloud: HTTP requests by kind today, and for Tesla dollars this month.

Counted where the requests really go out: the entry's HTTP session carries an aiohttp trace hook
that sorts every finished request by the provider's own classification (data read, command,
wake-up, token, vehicle list, other). The counts survive a restart through the usage sensors'
restored states.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date
from types import SimpleNamespace
from typing import Any

import aiohttp
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.util import dt as dt_util

from .providers import ProviderSpec


class ApiUsage:
    """Requests today by kind, and the month's bill at the provider's prices (if it bills)."""

    def __init__(self, spec: ProviderSpec) -> None:
        """Start from zero today."""
        self._spec = spec
        self.day: date = dt_util.now().date()
        self.today: Counter[str] = Counter()
        self.month_cost = 0.0
        self._listeners: list[CALLBACK_TYPE] = []

    @property
    def bills(self) -> bool:
        """Whether the provider charges per request."""
        return bool(self._spec.request_prices)

    @callback
    def restore(self, day: date, today: Mapping[str, int], month_cost: float) -> None:
        """Carry the counts of this day and the cost of this month over a restart."""
        now = dt_util.now().date()
        if day == now:
            self.today.update({kind: int(count) for kind, count in today.items()})
        if (day.year, day.month) == (now.year, now.month):
            self.month_cost += month_cost

    @callback
    def record(self, method: str, path: str) -> None:
        """One request went out."""
        now = dt_util.now().date()
        if now != self.day:
            if (now.year, now.month) != (self.day.year, self.day.month):
                self.month_cost = 0.0
            self.day, self.today = now, Counter()
        kind = self._spec.request_kind(method, path)
        self.today[kind] += 1
        self.month_cost += self._spec.request_prices.get(kind, 0.0)
        for listener in list(self._listeners):
            listener()

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> Callable[[], None]:
        """Call `listener` after every counted request."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)


def async_counting_session(hass: HomeAssistant, usage: ApiUsage) -> aiohttp.ClientSession:
    """An HTTP session for one entry whose every finished request is counted.

    Home Assistant closes it when the entry unloads.
    """

    async def on_request_end(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        usage.record(params.method, params.url.path)

    async def on_request_exception(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        # Sent but unanswered still counts against a quota.
        usage.record(params.method, params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    trace.on_request_exception.append(on_request_exception)
    return async_create_clientsession(hass, trace_configs=[trace])


def usage_attributes(usage: ApiUsage) -> dict[str, Any]:
    """The sensor's attributes: the day and each kind's count."""
    return {"day": usage.day.isoformat(), **dict(sorted(usage.today.items()))}
