"""Issue "numbers you can trust", as a new user meets it: the demo world (seed 0) at two moments.

Every successful detail export of the three demo accounts, through the sandbox over real sockets, read
by ``usage()``: for every account, region, metric and interval the rows add up to the truth worked out
per export (``_usage_truth``), each listed domain is there once with its own value. Before the overlap
rule was fixed, traffic came out 48 %, 35 % and 1.4 % short at the first moment and 34 %, 67.5 % and
14 % at the second.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from _usage_truth import answer, check_usage

from usagekit.listing import list_tasks
from usagekit.reconcile import OverlapWarning
from usagekit.sandbox import Sandbox
from usagekit.tidy import usage

DEMO = {"demo-shop", "demo-media", "demo-games"}


@pytest.mark.slow
@pytest.mark.parametrize("now", ["2026-11-20T08:00:00Z", "2026-11-27T08:00:00Z"])
def test_usage_of_every_successful_detail_export_adds_up_to_the_truth(now: str, tmp_path: Path) -> None:
    with Sandbox(seed=0, now=now, clock="frozen") as box:
        tasks = list_tasks(box.accounts, progress=False)
        details = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
        assert set(details["account"].astype(str)) == DEMO
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverlapWarning)
            frame = usage(details, cache_dir=tmp_path, progress=False)
        expected = answer(box, list(details["task_id"]))
    check_usage(frame, expected)
    traffic = frame[frame["metric"] == "traffic"].groupby("account", observed=True)["value"].sum()
    assert {str(k): float(v) for k, v in traffic.items()} == expected.per_account("traffic")
    assert not [r for r in frame.attrs["overlaps"] if r["rule"] == "domains exceed total"]  # exports agree
