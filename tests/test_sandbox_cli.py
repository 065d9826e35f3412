"""``usagekit sandbox`` as a subprocess, and the ``discover_accounts`` switch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import usagekit
from usagekit import discovery
from usagekit.sandbox import Sandbox, demo_accounts


def test_the_command_serves_until_sigterm(wire: Any) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "usagekit",
            "sandbox",
            "--seed",
            "7",
            "--now",
            "2026-11-20T08:00:00Z",
            "--drop",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("endpoint: http://127.0.0.1:"), first + process.stderr.read()
        endpoint = first.split()[1]
        lines = []
        while (line := process.stdout.readline()) and not line.startswith("Serving"):
            lines.append(line)
        text = "".join(lines)
        assert f"USAGEKIT_SANDBOX_ENDPOINT={endpoint} USAGEKIT_SANDBOX_SEED=7" in text
        account = demo_accounts(7, endpoint=endpoint)[0]
        assert f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={account.access_key_secret}" in text
        assert '"mode": "AK"' in text
        reply = wire.v2(account, "DescribeUserUsageDataExportTask", {"PageSize": 1})
        assert reply.status == 200 and reply.json["UsageDataPerPage"]["TotalCount"] == 40
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # the timeout only catches a server that ignores SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_the_command_refuses_bad_rates() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "usagekit", "sandbox", "--throttle", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "between 0 and 1" in result.stderr


def test_switch_off_delegates_to_real_discovery(tmp_path: Path) -> None:
    assert discovery.discover_accounts(environ={}, home=tmp_path) == []
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIexample-0000KlMn", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    assert [a.name for a in usagekit.discover_accounts(environ=env, home=tmp_path)] == ["environment"]


def test_switch_on_with_an_endpoint_gives_that_sandbox_s_accounts(sandbox: Sandbox, wire: Any) -> None:
    env = {
        "USAGEKIT_SANDBOX": "true",
        "USAGEKIT_SANDBOX_ENDPOINT": sandbox.endpoint,
        "USAGEKIT_SANDBOX_SEED": "7",
    }
    found = usagekit.discover_accounts(environ=env)
    assert found == sandbox.accounts
    assert discovery.running_sandbox() is None
    assert wire.v3(found[1], "DescribeUserUsageDataExportTask").status == 200


def test_switch_on_without_an_endpoint_starts_one_sandbox_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.delenv("USAGEKIT_SANDBOX_ENDPOINT", raising=False)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "4")
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", "2026-11-20T08:00:00Z")
    try:
        first = usagekit.discover_accounts()
        box = discovery.running_sandbox()
        assert box is not None and box.seed == 4 and box.running
        assert usagekit.discover_accounts() == first and discovery.running_sandbox() is box
        assert first == demo_accounts(4, endpoint=box.endpoint)
    finally:
        discovery._stop_sandbox()
    assert discovery.running_sandbox() is None


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_the_rate_limit_flag_refuses_what_is_not_a_rate(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from usagekit.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--rate-limit", value])
    assert "rate limit" in capsys.readouterr().err
