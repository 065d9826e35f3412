"""The command line keeps its word: a status query reads only, wrong command lines exit 2, every option
says what it takes, and the sync table explains its columns."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from usagekit.cli import build_parser, main
from usagekit.dataset import MANIFEST_NAME, to_dataset


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) with the SHA-256 of its bytes."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _dataset(root: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    detail = sandbox.truth.tasks("demo-shop", "detail")
    task_id = detail.loc[detail["status"] == "success", "task_id"].iloc[0]
    to_dataset(sandbox.truth.usage(task_id), root)


@pytest.mark.parametrize("manifest", ["none", "stale"])
def test_sync_status_leaves_the_dataset_byte_for_byte_unchanged(
    tmp_path: Path,
    sandbox,
    manifest: str,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    root = tmp_path / "usage"
    _dataset(root, sandbox)
    if manifest == "none":
        (root / MANIFEST_NAME).unlink(missing_ok=True)  # as a dataset copied without its index
    else:
        (root / MANIFEST_NAME).write_text('{"version": 2, "partitions": {}}', encoding="utf-8")
    before = _snapshot(root)
    assert before and all(name.endswith(".parquet") or name == MANIFEST_NAME for name in before)
    assert main(["sync", "--status", "--dataset", str(root)]) == 0
    out = capsys.readouterr().out
    assert "demo-shop/" in out  # the partition is shown, though the index did not know it
    assert _snapshot(root) == before


def test_sync_status_of_a_missing_folder_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--status", "--dataset", str(tmp_path / "nothing")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().count("\n") == 0 and "nothing" in captured.err
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("command", ["tasks", "fetch", "sync"])
def test_an_unknown_profile_is_a_wrong_command_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("USAGEKIT_SANDBOX", "USAGEKIT_SANDBOX_ENDPOINT", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no aliyun or credentials file of this machine's
    monkeypatch.delenv("ALIBABA_CLOUD_CREDENTIALS_FILE", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexampleexampleexample")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "example-secret")
    extra = {
        "tasks": [],
        "fetch": ["--output", str(tmp_path / "out.csv")],
        "sync": ["--from", "2026-10", "--dataset", str(tmp_path / "usage")],
    }[command]
    assert main([command, "--profile", "nobody", *extra]) == 2
    err = capsys.readouterr().err
    assert "'nobody'" in err and "environment" in err and err.strip().count("\n") == 0


def _options() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [
        (name, action)
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction)
    ]


def test_every_option_of_every_command_has_help_saying_what_it_takes() -> None:
    options = _options()
    assert {name for name, _ in options} >= {"demo", "tasks", "fetch", "sync", "sandbox"}
    for name, action in options:
        text = f"{name} {'/'.join(action.option_strings)}"
        assert action.help and len(action.help) > 12, text
        if action.nargs != 0 and not action.choices:  # takes a value: named by a metavar or the help
            assert action.metavar or any(
                word in action.help.lower()
                for word in ("folder", "file", "time", "seed", "port", "seconds", "number", "share", "accounts",
                             "tasks", "calls", "types")
            ), text  # fmt: skip
    profile = next(a for n, a in options if "--profile" in a.option_strings)
    assert "repeatable" not in profile.help and "--profile prod staging" in profile.help
    assert build_parser().parse_args(["tasks", "--profile", "prod", "staging"]).profile == ["prod", "staging"]
