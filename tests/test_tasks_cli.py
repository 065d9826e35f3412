"""``usagekit tasks`` end to end: a sandbox, the listing, each output format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from usagekit.cli import main
from usagekit.sandbox import Sandbox

SEED, NOW = "7", "2026-11-20T08:00:00Z"


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Sandbox:
    """Discovery returns the session sandbox's demo accounts (seed 7)."""
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", SEED)
    monkeypatch.delenv("USAGEKIT_SANDBOX_ACCOUNTS", raising=False)
    return sandbox


def truth_ids(box: Sandbox, names: list[str] | None = None, kind: str = "all") -> set[str]:
    names = names or [a.name for a in box.accounts]
    return {t for name in names for t in box.truth.tasks(name, kind)["task_id"]}


def test_sandbox_listing_as_csv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", SEED)
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", NOW)
    assert main(["tasks", "--sandbox", "--kind", "detail", "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"task_id": str})
    assert set(frame["task_id"]) == truth_ids(sandbox, kind="detail")  # the same seeded, settled world
    assert set(frame["kind"]) == {"detail"} and frame["window_end"].str.endswith("Z").all()
    assert not frame["download_url"].dropna().str.contains("\\?").any()


def test_profiles_status_since_as_json(sandbox_env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "tasks",
            "--profile",
            "demo-media",
            "--status",
            "success",
            "failed",
            "--since",
            "2026-11-01",
            "--format",
            "json",
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    truth = sandbox_env.truth.tasks("demo-media", "all")
    expected = truth[
        truth["status"].isin(["success", "failed"])
        & (truth["created"] >= pd.Timestamp("2026-11-01", tz="UTC"))
    ]
    assert {r["task_id"] for r in rows} == set(expected["task_id"]) and rows
    assert {r["account"] for r in rows} == {"demo-media"}


def test_parquet_keeps_the_dtypes(sandbox_env: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "tasks.parquet"
    assert main(["tasks", "--profile", "demo-shop", "--output", str(out)]) == 0
    frame = pd.read_parquet(out)
    assert set(frame["task_id"]) == truth_ids(sandbox_env, ["demo-shop"])
    assert frame["status"].dtype == "category" and str(frame["created"].dtype) == "datetime64[ns, UTC]"


def test_table_to_a_file(sandbox_env: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "tasks.txt"
    assert main(["tasks", "--profile", "demo-games", "--kind", "summary", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].split()[:3] == ["account", "kind", "task_id"]
    assert len(text.splitlines()) == 1 + len(sandbox_env.truth.tasks("demo-games", "summary"))


def test_a_failing_account_is_named_and_the_others_written(
    sandbox_env: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "4")  # the fourth key is unknown to a 3-account sandbox
    assert main(["tasks", "--format", "csv"]) == 1
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out), dtype={"task_id": str})
    assert set(frame["task_id"]) == truth_ids(sandbox_env)
    assert captured.err.count("InvalidAccessKeyId") == 2  # both kinds of the fourth account


def test_unknown_profile_and_parquet_to_stdout_are_clear_errors(
    sandbox_env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "--profile", "nobody"]) == 2  # a wrong name on the command line
    assert "no profile named 'nobody'" in capsys.readouterr().err
    assert main(["tasks", "--format", "parquet"]) == 2  # the command line itself is wrong
    assert "--output" in capsys.readouterr().err
