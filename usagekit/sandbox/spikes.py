"""Spikes planted in the sandbox's usage: a domain's traffic and requests multiplied for a few hours.

A :class:`Spike` is real traffic (a crawler, hotlinking, a release): :func:`with_spikes` puts it on the
domain in the world, and :func:`usagekit.sandbox.usage.point_values` multiplies that domain's points by
``factor`` from ``start`` for ``hours`` before flooring them to whole numbers, so the exports, the truth
and what the sandbox bills all carry it alike.

>>> spike = Spike(account="demo-shop", domain="img.shop-demo.example", start="2026-10-14T03:00:00+08:00", hours=6, factor=8.0)
>>> spike.window
(1791918000, 1791939600)
>>> import numpy as np
>>> domain = SpikedDomain("img.shop-demo.example", spikes=(spike.window + (spike.factor,),))
>>> spike_factors(domain, np.array([1791917700, 1791918000, 1791939300, 1791939600])).tolist()
[1.0, 8.0, 8.0, 1.0]
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from usagekit.sandbox.world import DomainSpec, World

__all__ = ["Spike", "SpikedDomain", "spike_factors", "spikes_key", "with_spikes"]


@dataclass(frozen=True)
class Spike:
    """``domain`` of ``account`` carries ``factor`` times its usage for ``hours`` from ``start``.

    ``start`` is an aware datetime or ISO 8601 text with an offset (naive text is refused: say which
    zone); ``hours`` > 0 (fractions allowed, rounded to whole 5-minute points); ``factor`` >= 0 (below 1
    a dip). Checked when the sandbox is built: an unknown account or domain is a ``ValueError``.
    """

    account: str
    domain: str
    start: datetime | str
    hours: float = 1.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        moment = pd.Timestamp(self.start) if isinstance(self.start, datetime | str) else None
        if moment is None or pd.isna(moment) or moment.tzinfo is None:
            raise ValueError(
                f"Spike start must be an aware datetime or ISO 8601 text with an offset "
                f"(2026-10-14T03:00:00+08:00), not {self.start!r}"
            )
        if not (isinstance(self.hours, int | float) and math.isfinite(self.hours) and self.hours > 0):
            raise ValueError(f"Spike hours must be a number > 0, not {self.hours!r}")
        if not (isinstance(self.factor, int | float) and math.isfinite(self.factor) and self.factor >= 0):
            raise ValueError(f"Spike factor must be a number >= 0, not {self.factor!r}")

    @property
    def window(self) -> tuple[int, int]:
        """Epoch seconds ``[start, end)`` of the points it multiplies (5-minute points starting inside)."""
        start = int(pd.Timestamp(self.start).timestamp())
        return start, start + round(self.hours * 3600)


@dataclass(frozen=True)
class SpikedDomain(DomainSpec):
    """A domain with planted spikes: ``(start, end, factor)`` windows in epoch seconds."""

    spikes: tuple[tuple[int, int, float], ...] = ()


def spike_factors(domain: DomainSpec, starts: np.ndarray) -> np.ndarray | None:
    """The factor of each point ``starts`` of ``domain`` (None when it has no spike: nothing to do)."""
    spikes = getattr(domain, "spikes", ())
    if not spikes:
        return None
    factors = np.ones(len(starts), dtype=np.float64)
    for start, end, factor in spikes:
        factors[(starts >= start) & (starts < end)] *= factor
    return factors


def with_spikes(world: World, spikes: Iterable[Spike]) -> World:
    """``world`` with each spike on its domain (a ``ValueError`` names an unknown account or domain)."""
    chosen = list(spikes)
    if not chosen:
        return world
    for spike in chosen:
        if not isinstance(spike, Spike):
            raise TypeError(f"spikes must be usagekit.sandbox.Spike values, not {type(spike).__name__}")
        try:
            spec = world.account(spike.account)
        except KeyError as error:
            raise ValueError(f"Spike names an unknown account: {error.args[0]}") from None
        if spike.domain not in spec.domain_names:
            raise ValueError(
                f"Spike names {spike.domain!r}, not a domain of {spike.account!r}: {list(spec.domain_names)}"
            )
    accounts = []
    for spec in world.accounts:
        domains = []
        for domain in spec.domains:
            mine = tuple(
                (*s.window, float(s.factor))
                for s in chosen
                if s.account == spec.name and s.domain == domain.name
            )
            if mine:
                earlier = getattr(domain, "spikes", ())
                fields = {f.name: getattr(domain, f.name) for f in dataclasses.fields(DomainSpec)}
                domain = SpikedDomain(**fields, spikes=earlier + mine)
            domains.append(domain)
        accounts.append(dataclasses.replace(spec, domains=tuple(domains)))
    return dataclasses.replace(world, accounts=tuple(accounts))


def spikes_key(world_key: str, spikes: Iterable[Spike]) -> str:
    """``world_key`` extended by the spikes, so cached export files of a spiked world are its own.

    >>> spikes_key("abc", []) == "abc" != spikes_key("abc", [Spike("a", "d", "2026-10-14T03:00:00Z")])
    True
    """
    text = "|".join(f"{s.account},{s.domain},{s.window},{float(s.factor)!r}" for s in spikes)
    if not text:
        return world_key
    return world_key + "-" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
