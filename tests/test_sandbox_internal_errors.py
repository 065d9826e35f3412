"""A bug in the sandbox's own code is answered as a 500 (as a server must) and recorded, and the test
during which it happened fails: a client's retries can no longer hide it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from usagekit.sandbox import Sandbox
from usagekit.sandbox.server import internal_error_count, internal_errors

pytest_plugins = ["pytester"]

LIST_SUMMARY = "DescribeUserUsageDataExportTask"


def _break(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(account: str, action: str, params: dict[str, str]) -> dict[str, object]:
        raise ZeroDivisionError("a bug near https://files.example/x.xlsx?Signature=SECRETSIG&Expires=1")

    monkeypatch.setattr(box._service.api, "handle", broken)


@pytest.mark.expect_internal_errors
def test_an_exception_of_its_own_is_a_500_and_recorded_without_a_query(
    fresh_sandbox: Callable[..., Sandbox], wire: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = fresh_sandbox()
    before = internal_error_count()
    _break(box, monkeypatch)
    reply = wire.v2(box.accounts[0], LIST_SUMMARY)  # type: ignore[attr-defined]
    assert reply.status == 500 and reply.code == "InternalError"
    (record,) = box.internal_errors
    assert (record["method"], record["path"], record["error"]) == ("POST", "/", "ZeroDivisionError")
    assert "ZeroDivisionError" in record["traceback"] and "broken" in record["traceback"]
    assert "SECRETSIG" not in repr(record) and "https://files.example/x.xlsx" in record["message"]
    assert internal_errors(since=before) == [record]
    assert box.requests[-1]["status"] == 500


def test_injected_500_faults_are_not_internal_errors(
    fresh_sandbox: Callable[..., Sandbox], wire: object
) -> None:
    from usagekit.sandbox import Faults

    box = fresh_sandbox(faults=Faults(error500=1.0))
    reply = wire.v2(box.accounts[0], LIST_SUMMARY)  # type: ignore[attr-defined]
    assert reply.status == 500
    assert box.internal_errors == []


@pytest.mark.expect_internal_errors  # the inner run's error is counted in this process too
def test_the_suite_fails_a_test_during_which_the_sandbox_had_a_bug(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            from usagekit import list_tasks

            def test_listing_through_a_broken_sandbox(fresh_sandbox, monkeypatch):
                box = fresh_sandbox()
                calls = []

                def broken(account, action, params):
                    calls.append(action)
                    if len(calls) == 1:
                        raise KeyError("first call only")
                    return real(account, action, params)

                real = box._service.api.handle
                monkeypatch.setattr(box._service.api, "handle", broken)
                list_tasks(box.accounts[:1], kind="summary", progress=False)  # retried: succeeds

            def test_a_quiet_one(fresh_sandbox):
                fresh_sandbox()
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SandboxInternalError*1 internal error*", "*KeyError*first call only*"])
