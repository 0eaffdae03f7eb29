"""Volteras: an aggregator API for 30+ car makes."""

from __future__ import annotations

from .client import VolterasClient
from .const import PRODUCTION_URL, SANDBOX_URL

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "VolterasClient"]
