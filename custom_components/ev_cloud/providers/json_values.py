"""Reading numbers out of provider JSON, shared by the parsers."""

from __future__ import annotations

import math
from typing import Any


def finite_number(value: Any) -> float | None:
    """A JSON number as a finite float; booleans, huge integers and infinities are not readings."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
