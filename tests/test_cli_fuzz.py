"""A fuzz test of the command line: argument lists built from the real flags, valid and invalid values.

The property, for every subcommand that finishes on its own (``sandbox`` serves until Ctrl-C and is
covered by its own tests): the exit code is 0, 1 or 2; stderr never holds a traceback; nothing is
written outside the output named and the cache folder; and an exit 2 (the command line is wrong) is
reached before any request: the tiny sandbox's request log does not grow, and no sandbox is started.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usagekit.cli import build_parser, main
from usagekit.sandbox import Sandbox
from usagekit.sandbox import core as sandbox_core

SEED, NOW = 5, "2026-11-20T08:00:00Z"

TIMES = ["2026-11-01", "2026-11-18T16:00:00Z", "yesterday", "2026-13-01", "2026-02-30", "", "9999-12-31"]
OUTPUTS = ["-", "out.csv", "out.json", "out.parquet", "out", "", "missing/x.csv", "adir", "afile"]
CACHES = ["cache", "afile", "", "missing/deeper/cache"]


def flags_of(command: str) -> set[str]:
    """The option strings the real parser has for ``command`` (so a renamed flag fails this test)."""
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {option for action in subcommands.choices[command]._actions for option in action.option_strings}


def pools(task_ids: list[str]) -> dict[str, dict[str, list[str] | None]]:
    """Per command, each flag and the values to try (``None``: a flag without a value)."""
    return {
        "tasks": {
            "--sandbox": None,
            "--profile": ["demo-shop", "nobody"],
            "--kind": ["all", "summary", "detail", "bogus"],
            "--status": ["created", "success", "failed", "succes", ""],
            "--since": TIMES,
            "--until": TIMES,
            "--format": ["table", "csv", "json", "parquet", "xml"],
            "--output": OUTPUTS,
        },
        "fetch": {
            "--sandbox": None,
            "--task-id": [*task_ids, "nope", ""],
            "--since": TIMES,
            "--until": TIMES,
            "--format": ["csv", "parquet", "xlsx"],
            "--output": OUTPUTS,
            "--overwrite": None,
            "--cache-dir": CACHES,
        },
        "sync": {
            "--sandbox": None,
            "--from": ["2026-11", "2026-13", "", "nov", "2026-10"],
            "--to": ["2026-11", "2026-10", "2026-1"],
            "--dataset": ["ds", "", "afile", "missing/ds"],
            "--type": ["flow", "vas", "both"],
            "--max-in-flight": ["0", "2", "x"],
            "--status": None,
            "--now": TIMES,
            "--cache-dir": CACHES,
        },
        # no --create: a frozen sandbox never finishes what it would create
        "anomalies": {
            "--sandbox": None,
            "--from": ["2026-11-14", "2026-13-01", "", "nov"],
            "--to": ["2026-11-14", "2026-11-01", "x"],
            "--metric": ["traffic", "requests", "bytes"],
            "--lookback": ["56D", "14D", "3D", "x"],
            "--threshold": ["8", "-1", "x"],
            "--output": OUTPUTS,
        },
        "showback": {
            "--sandbox": None,
            "--month": ["2026-10", "2026-13", ""],
            "--mapping": ["afile", "missing.csv", ""],
            "--method": ["day_bandwidth", "hour_count"],
            "--rule": ["top_band", "x"],
            "--output": OUTPUTS,
        },
        "demo": {
            "--output": ["demo", "", "afile", "adir", "missing/demo"],
            "--seed": ["0", "3", "x"],
            "--now": TIMES,
            "--cache-dir": CACHES,
        },
    }


def arguments(command: str, task_ids: list[str]) -> st.SearchStrategy[list[str]]:
    """Lists of ``command``'s flags with values good and bad, in any order, some repeated or left out."""
    flags = pools(task_ids)[command]
    assert set(flags) <= flags_of(command), set(flags) - flags_of(command)
    one = st.one_of(
        [
            st.just([flag]) if values is None else st.sampled_from(values).map(lambda v, f=flag: [f, v])
            for flag, values in flags.items()
        ]
    )
    # sync waits for the exports it creates: a zero timeout keeps each run short (it reports them instead)
    first = [command, "--timeout", "0"] if command == "sync" else [command]
    return st.lists(one, max_size=5).map(lambda parts: [*first, *(arg for part in parts for arg in part)])


@pytest.fixture(scope="module")
def tiny() -> Iterator[Sandbox]:
    with Sandbox(seed=SEED, now=NOW, clock="frozen", accounts=1, tasks=2) as box:
        yield box


@contextlib.contextmanager
def environment(tiny: Sandbox) -> Iterator[Path]:
    """A fresh current folder holding a file and a folder to trip over, and the tiny sandbox's variables."""
    saved_cwd = os.getcwd()
    names = ["USAGEKIT_SANDBOX", "USAGEKIT_SANDBOX_ENDPOINT", "USAGEKIT_SANDBOX_SEED", "USAGEKIT_SANDBOX_NOW"]
    names += ["USAGEKIT_SANDBOX_ACCOUNTS", "USAGEKIT_SANDBOX_TASKS", "TQDM_DISABLE"]
    saved = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="usagekit-cli-fuzz-") as root:
        folder = Path(root)
        (folder / "afile").write_text("not a folder\n")
        (folder / "adir").mkdir()
        os.environ.update(
            {
                "USAGEKIT_SANDBOX": "1",
                "USAGEKIT_SANDBOX_ENDPOINT": tiny.endpoint,
                "USAGEKIT_SANDBOX_SEED": str(SEED),
                "USAGEKIT_SANDBOX_NOW": NOW,
                "USAGEKIT_SANDBOX_ACCOUNTS": "1",
                "USAGEKIT_SANDBOX_TASKS": "2",
                "TQDM_DISABLE": "1",
            }
        )
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(saved_cwd)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def written(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*") if path.is_file()}


def allowed(path: Path, argv: list[str]) -> bool:
    """Whether ``path`` lies under the output or the cache folder the command line named."""
    named = [
        argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--output", "--cache-dir", "--dataset")
    ]
    if argv[0] == "demo" and "--output" not in argv:
        named.append("usagekit-demo")  # the demo's documented default
    return any(name and (str(path) == name or str(path).startswith(name.rstrip("/") + "/")) for name in named)


def check(argv: list[str], tiny: Sandbox, monkeypatch_start: list[int]) -> None:
    with environment(tiny) as folder:
        before_files = written(folder)
        before_requests = len(tiny.requests)
        started = monkeypatch_start[0]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        text = err.getvalue()
        findings = (3,) if argv[0] in ("anomalies", "showback") else ()  # checking commands report findings
        assert code in (0, 1, 2, *findings), (argv, code, text)
        assert "Traceback" not in text, (argv, text)
        new = written(folder) - before_files
        stray = [path for path in new if not allowed(path, argv)]
        assert not stray, (argv, stray)
        if code == 2:
            assert len(tiny.requests) == before_requests, (argv, text)
            assert monkeypatch_start[0] == started, (argv, text)
            assert (folder / "afile").read_text() == "not a folder\n"


FUZZ = settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("command", ["tasks", "fetch", "sync", "anomalies", "showback", "demo"])
def test_the_command_line_never_shows_a_traceback(
    command: str, tiny: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = [0]
    real_start = sandbox_core.Sandbox.start

    def counting_start(self: Any) -> Any:
        if self is not tiny:
            starts[0] += 1
        return real_start(self)

    monkeypatch.setattr(sandbox_core.Sandbox, "start", counting_start)
    ids = list(tiny.truth.tasks(tiny.accounts[0].name, "detail")["task_id"])

    @FUZZ
    @given(arguments(command, ids))
    def property_holds(argv: list[str]) -> None:
        check(argv, tiny, starts)

    property_holds()
