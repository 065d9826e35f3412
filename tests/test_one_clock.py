"""One clock: the service's time (the reply's Date header) or an injected ``now``, never this machine's."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import usagekit
from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.lifecycle import create_export, wait

FROZEN = pd.Timestamp("2026-11-20T08:00:00Z")  # conftest's sandbox time, written out


def test_the_client_reads_the_service_time_from_date(sandbox: Any) -> None:
    client = CdnClient(sandbox.accounts[0])
    assert client.service_time is None
    client.call("DescribeUserUsageDataExportTask", PageNumber=1, PageSize=10)
    assert pd.Timestamp(client.service_time) == FROZEN


def test_a_frozen_sandbox_is_listed_at_its_own_time(sandbox: Any) -> None:
    frame = usagekit.list_tasks(sandbox.accounts[:1], progress=False)
    assert pd.Timestamp(frame.attrs["listed_at"]) == FROZEN


def test_a_moving_sandbox_is_listed_at_its_time_too(fresh_sandbox: Any) -> None:
    box = fresh_sandbox(clock="real", now="2026-03-01T00:00:00Z")
    frame = usagekit.list_tasks(box.accounts[:1], progress=False)
    listed = pd.Timestamp(frame.attrs["listed_at"])
    assert pd.Timestamp("2026-03-01T00:00:00Z") <= listed < pd.Timestamp("2026-03-02T00:00:00Z")


def test_now_decides_listed_at_when_given(sandbox: Any) -> None:
    frame = usagekit.list_tasks(sandbox.accounts[:1], progress=False, now="2026-11-21T00:00:00+08:00")
    assert frame.attrs["listed_at"] == "2026-11-20T16:00:00+00:00"
    with pytest.raises(usagekit.ArgumentError, match="now"):
        usagekit.list_tasks(sandbox.accounts[:1], progress=False, now="tomorrow")


def test_wait_reports_the_service_time(fresh_sandbox: Any) -> None:
    box = fresh_sandbox()
    task = create_export(box.accounts[0], "summary", "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z")
    done = wait(task, sleep=box.advance, progress=False)
    assert pd.Timestamp(done.attrs["listed_at"]) > FROZEN  # the frozen clock was advanced by wait's sleeps
    assert pd.Timestamp(done.attrs["listed_at"]) == pd.Timestamp(box.now).floor("s")


def test_create_export_judges_the_one_year_rule_by_now() -> None:
    account = Account("prod", "LTAIexample-0000KlMn", "example-secret")  # not a sandbox account

    def no_client(_: Account) -> Any:
        raise AssertionError("refused before any client is made")

    with pytest.raises(usagekit.ArgumentError, match="last year only: start is before 2025-11-20"):
        create_export(
            account, "summary", "2025-11-01T00:00Z", "2025-11-02T00:00Z", now=FROZEN, client_factory=no_client
        )


def test_plot_timeline_runs_end_at_now_when_given(sandbox: Any) -> None:
    frame = usagekit.list_tasks(sandbox.accounts[:1], progress=False)
    running = frame[frame["status"] == "created"]
    assert len(running) > 0
    ax = usagekit.plot_timeline(frame, view="runs", now="2026-11-21T00:00:00Z")
    import matplotlib.dates as mdates

    ends = [p.get_x() + p.get_width() for p in ax.patches if str(p.get_gid() or "").startswith("task:")]
    assert max(ends) == pytest.approx(mdates.date2num(pd.Timestamp("2026-11-21T00:00:00Z")), abs=1e-6)
