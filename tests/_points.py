"""Shared by the billing tests: consecutive 5-minute points the tests write out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIVE = pd.Timedelta(minutes=5)
UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}


def series(
    start: str,
    values: list[float] | np.ndarray,
    *,
    account: str = "shop",
    domain: str | None = "a.example",
    region: str | None = "CN",
    metric: str = "bandwidth",
) -> pd.DataFrame:
    """Consecutive 5-minute points from ``start`` (UTC text) holding ``values``."""
    first = pd.Timestamp(start)
    starts = [first + i * FIVE for i in range(len(values))]
    n = len(values)
    return pd.DataFrame(
        {
            "account": [account] * n,
            "task_id": ["1"] * n,
            "domain": [domain] * n,
            "region": [region] * n,
            "metric": [metric] * n,
            "start": starts,
            "end": [s + FIVE for s in starts],
            "value": np.asarray(values, dtype=float),
            "unit": [UNITS[metric]] * n,
        }
    )
