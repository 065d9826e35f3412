"""One naming (README Conventions): keyword-only since/until, executor, client_factory, one accounts rule, and
old spellings that keep working for a release with a DeprecationWarning naming the new one."""

from __future__ import annotations

import inspect
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import usagekit
from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.lifecycle import _domain_list
from usagekit.resolve import resolve_accounts

SHOP = Account("shop", "LTAIexample-0000KlMn", "example-secret")


def test_since_given_by_position_still_works_and_warns(sandbox: Any) -> None:
    account = sandbox.accounts[0]
    by_name = usagekit.list_tasks(account, "detail", None, since="2026-11-10T00:00:00Z", progress=False)
    with pytest.warns(DeprecationWarning, match="since by position .* use since="):
        by_position = usagekit.list_tasks(account, "detail", None, "2026-11-10T00:00:00Z", progress=False)
    assert by_position["task_id"].tolist() == by_name["task_id"].tolist()
    with pytest.raises(TypeError):
        usagekit.list_tasks(account, "detail", None, "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z")
    parameters = inspect.signature(usagekit.list_tasks).parameters
    assert parameters["since"].kind is parameters["until"].kind is inspect.Parameter.KEYWORD_ONLY


def test_max_workers_warns_naming_executor_and_executor_runs_the_listings(sandbox: Any) -> None:
    with pytest.warns(DeprecationWarning, match="max_workers= is deprecated .* use executor="):
        old = usagekit.list_tasks(sandbox.accounts, max_workers=2, progress=False)
    submitted: list[str] = []

    class Counting(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    with Counting(2) as pool:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # executor= gives no warning
            new = usagekit.list_tasks(sandbox.accounts, executor=pool, progress=False)
        assert pool.submit(lambda: 1).result() == 1  # the caller's executor is left open
    assert len(submitted) == 2 * len(sandbox.accounts) + 1  # one listing per account and kind
    assert new["task_id"].tolist() == old["task_id"].tolist()
    with pytest.raises(usagekit.ArgumentError, match="executor"):
        usagekit.list_tasks(sandbox.accounts, executor=4)


def test_resolve_accounts_forms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("USAGEKIT_SANDBOX", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample-0000EnVv")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "example-secret")
    assert resolve_accounts(SHOP) == [SHOP]
    assert [a.name for a in resolve_accounts("environment")] == ["environment"]
    assert [a.name for a in resolve_accounts([SHOP, "environment"])] == ["shop", "environment"]
    assert [a.name for a in resolve_accounts(None)] == ["environment"]
    for wrong, words in [
        ([], "accounts is an empty sequence"),
        ((), "accounts is an empty sequence"),
        ("nobody", "no account named 'nobody' among the discovered ones \\('environment'\\)"),
        (5, "not int"),
        ([SHOP, 5], "accounts holds 5"),
        ([SHOP, SHOP], "several accounts are named 'shop'"),
        (b"shop", "not bytes"),
    ]:
        with pytest.raises(usagekit.ArgumentError, match=words):
            resolve_accounts(wrong)


@pytest.mark.parametrize(
    "call",
    [
        lambda: usagekit.list_tasks([]),
        lambda: usagekit.fetch([], accounts=[]),
        lambda: usagekit.usage([], accounts=[]),
        lambda: usagekit.wait([], accounts=[]),
        lambda: usagekit.bill_types([], "2026-10-01", "2026-11-01"),
        lambda: usagekit.coverage([], "2026-10-01", "2026-11-01", accounts=[]),
    ],
)
def test_an_empty_account_list_is_an_error_everywhere(call: Any) -> None:
    with pytest.raises(usagekit.ArgumentError, match="accounts is an empty sequence"):
        call()


def test_discover_accounts_shows_its_parameters() -> None:
    parameters = inspect.signature(usagekit.discover_accounts).parameters
    assert list(parameters) == ["environ", "home"]
    with pytest.raises(TypeError):
        usagekit.discover_accounts(homes="x")  # a misspelt keyword is no longer swallowed


def test_client_factory_where_a_client_is_made(sandbox: Any) -> None:
    made: list[str] = []

    def factory(account: Account) -> CdnClient:
        made.append(account.name)
        return CdnClient(account)

    usagekit.bill_types(
        sandbox.accounts[:1], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", client_factory=factory
    )
    assert made == [sandbox.accounts[0].name]
    for function in (usagekit.list_tasks, usagekit.iter_tasks, usagekit.create_export, usagekit.wait):
        assert "client_factory" in inspect.signature(function).parameters, function.__name__
    for function in (usagekit.list_tasks, usagekit.fetch, usagekit.usage):
        assert "executor" in inspect.signature(function).parameters, function.__name__


def test_domains_one_string_is_one_domain() -> None:
    assert _domain_list("pic.shop-demo.example") == ["pic.shop-demo.example"]
    assert _domain_list(["a.example", "b.example"]) == ["a.example", "b.example"]
    for wrong in ([], "", "a.example,b.example", [5], 5):
        with pytest.raises(usagekit.ArgumentError, match="domain"):
            _domain_list(wrong)
