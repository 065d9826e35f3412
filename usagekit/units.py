"""Readable units: the one convention usagekit shows traffic, bandwidth and requests in, said once.

- **Traffic** (bytes) in binary multiples, named the way Alibaba Cloud bills them: 1 KB = 1024 B,
  1 MB = 1024² B, **1 GB = 1024³ bytes**, 1 TB = 1024⁴ B (what some tools write GiB, TiB).
- **Bandwidth** (bit/s) in decimal multiples, as networks count: 1 Mbit/s = 10⁶ bit/s, 1 Gbit/s = 10⁹ bit/s.
- **Requests** in thousands, millions and billions (10³, 10⁶, 10⁹).

The demo's summary, the plots and the notebooks all format through this module, so a figure in one
agrees with the others. :func:`scale_for` picks one unit for a whole axis from the data's size;
:func:`format_value` writes one number with its unit.

>>> format_bytes(1024**3), format_bytes(1_500_000)
('1.00 GB', '1.43 MB')
>>> format_bandwidth(456_700_000), format_requests(12_345_678)
('456.70 Mbit/s', '12.3 million')
>>> scale = scale_for("traffic", 3.5 * 1024**4)
>>> scale.unit, scale.factor == 1024**4
('TB', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from usagekit.errors import ArgumentError

__all__ = [
    "GB",
    "Scale",
    "format_bandwidth",
    "format_bytes",
    "format_requests",
    "format_value",
    "scale_for",
    "unit_note",
]

#: bytes in one GB, as Alibaba Cloud bills traffic (binary multiples)
GB = 1024**3

# (factor, unit on an axis, word after a number), smallest first, per metric
_LADDERS: dict[str, tuple[tuple[float, str, str], ...]] = {
    "traffic": tuple(
        (1024.0**i, name, name) for i, name in enumerate(("B", "KB", "MB", "GB", "TB", "PB", "EB"))
    ),
    "bandwidth": tuple(
        (1000.0**i, name, name) for i, name in enumerate(("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"))
    ),
    "requests": (
        (1.0, "requests", ""),
        (1e3, "thousands", "thousand"),
        (1e6, "millions", "million"),
        (1e9, "billions", "billion"),
    ),
}
_ALIASES = {"byte": "traffic", "bit/s": "bandwidth", "request": "requests"}


@dataclass(frozen=True)
class Scale:
    """One unit for a set of values: divide by ``factor``, write ``unit`` on the axis.

    >>> Scale(1024**3, "GB", "GB").apply(5 * 1024**3)
    5.0
    """

    factor: float
    unit: str  # on an axis label: "GB", "Mbit/s", "millions"
    word: str  # after a single number: "GB", "Mbit/s", "million" ("" for plain counts)

    def apply(self, values: Any) -> Any:
        """``values`` (a number, array or Series) in this unit."""
        return values / self.factor


def _ladder(metric: str) -> tuple[tuple[float, str, str], ...]:
    key = _ALIASES.get(metric, metric)
    try:
        return _LADDERS[key]
    except KeyError:
        raise ArgumentError(
            f"no unit convention for {metric!r}: use traffic, bandwidth or requests (or byte, bit/s, request)"
        ) from None


def scale_for(metric: str, magnitude: float) -> Scale:
    """The unit that writes ``magnitude`` (the largest value to show) with 1 to 3 digits before the point.

    ``metric`` is ``traffic``, ``bandwidth`` or ``requests`` (or the base unit ``byte``, ``bit/s``,
    ``request``). A magnitude of zero, NaN or below the first step keeps the base unit.

    >>> scale_for("bandwidth", 2.5e9).unit, scale_for("requests", 999).unit, scale_for("traffic", 0).unit
    ('Gbit/s', 'requests', 'B')
    """
    ladder = _ladder(metric)
    chosen = ladder[0]
    size = abs(float(magnitude)) if magnitude is not None else 0.0
    if math.isfinite(size):
        for step in ladder:
            if size >= step[0]:
                chosen = step
    return Scale(*chosen)


def format_value(metric: str, value: float, digits: int = 2) -> str:
    """``value`` in its own readable unit: bytes and bit/s with ``digits`` decimals, counts in words.

    Values in the base unit are written whole (``999 B``); counts below ten thousand are written out
    (``9,999``), larger ones with one decimal and a word (``12.3 million``).

    >>> format_value("traffic", 0), format_value("bandwidth", 2e9), format_value("requests", 9_999)
    ('0 B', '2.00 Gbit/s', '9,999')
    """
    key = _ALIASES.get(metric, metric)
    if key == "requests":
        scale = scale_for(key, value) if abs(value) >= 1e4 else Scale(1.0, "requests", "")
        if scale.factor == 1:
            return f"{value:,.0f}"
        return f"{scale.apply(value):.1f} {scale.word}"
    scale = scale_for(key, value)
    if scale.factor == 1:
        return f"{value:.0f} {scale.word}"
    return f"{scale.apply(value):.{digits}f} {scale.word}"


def format_bytes(value: float) -> str:
    """Bytes in binary multiples named as Alibaba Cloud bills them (1 GB = 1024³ bytes).

    >>> format_bytes(999), format_bytes(1_234_567_890_123)
    ('999 B', '1.12 TB')
    """
    return format_value("traffic", value)


def format_bandwidth(value: float) -> str:
    """A bandwidth in bit/s, decimal multiples (1 Mbit/s = 10⁶ bit/s).

    >>> format_bandwidth(2_000_000_000)
    '2.00 Gbit/s'
    """
    return format_value("bandwidth", value)


def format_requests(value: float) -> str:
    """A request count, in words past ten thousand.

    >>> format_requests(12_500), format_requests(3_200_000_000)
    ('12.5 thousand', '3.2 billion')
    """
    return format_value("requests", value)


def unit_note() -> str:
    """The convention in one line, for the foot of a table or a figure.

    >>> unit_note()
    '1 GB = 1024³ bytes (as Alibaba Cloud bills traffic); 1 Mbit/s = 10⁶ bit/s'
    """
    return "1 GB = 1024³ bytes (as Alibaba Cloud bills traffic); 1 Mbit/s = 10⁶ bit/s"
