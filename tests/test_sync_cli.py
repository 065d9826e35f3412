"""``usagekit sync`` and ``usagekit sync --status`` on the command line, against a sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.sandbox import Faults, Sandbox


@pytest.fixture
def box(fresh_sandbox: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    running = fresh_sandbox(
        now="2026-11-04T08:00:00Z", accounts=1, tasks=3, task_delay=0, faults=Faults(failed_exports=0)
    )
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", running.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "1")
    return running


def test_sync_then_status_then_nothing_to_do(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "--dataset",
        str(tmp_path / "usage"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--now",
        "2026-11-04T08:00:00Z",
    ]
    assert main(["sync", "--from", "2026-11", "--to", "2026-11", *common]) == 0
    out = capsys.readouterr().out
    assert "complete through 2026-11-03" in out and "demo-shop" in out
    creates = [c for c in box.requests if c["action"].startswith("Create") and c["status"] == 200]
    assert len(creates) == 2  # flow and vas, 1 to 3 November

    assert main(["sync", "--status", "--dataset", str(tmp_path / "usage")]) == 0
    status = capsys.readouterr().out
    pieces = [line for line in status.splitlines() if line.startswith("demo-shop/2026-11")]
    assert {line.split()[1] for line in pieces} == {"flow", "vas"}
    assert "2026-10-31T16:00:00Z 2026-11-03T16:00:00Z" in status and "_manifest.json" in status

    seen = len(box.requests)
    assert main(["sync", "--from", "2026-11", *common]) == 0
    assert box.requests[seen:] == []


def test_what_cannot_be_had_exits_1_and_says_why(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", "--from", "2025-09", "--to", "2025-10", "--type", "vas", "--dataset", str(tmp_path / "u"),
                 "--cache-dir", str(tmp_path / "c"), "--now", "2026-11-04T08:00:00Z"])  # fmt: skip
    assert code == 1
    out = capsys.readouterr().out
    assert "missing: demo-shop vas 2025-08-31T16:00:00Z" in out and "INCOMPLETE" in out
    assert "older than the year the service exports" in out


def test_from_is_required(box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--dataset", str(tmp_path)]) == 2
    assert "--from" in capsys.readouterr().err


def test_a_damaged_partition_is_repaired_and_said_so(
    box: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--from", "2026-11", "--dataset", str(tmp_path / "usage"), "--cache-dir", str(tmp_path / "cache"),
              "--now", "2026-11-04T08:00:00Z"]  # fmt: skip
    assert main(["sync", *common]) == 0
    part = tmp_path / "usage" / "account=demo-shop" / "month=2026-11" / "part-0.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = bytes(
        b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 8]
    )
    part.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["sync", *common]) == 0
    out = capsys.readouterr().out
    assert "repaired: demo-shop 2026-11: its file's SHA-256" in out and "complete through 2026-11-03" in out
