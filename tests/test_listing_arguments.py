"""list_tasks() when the caller's arguments say something odd: one account under two names, a status that
matches nothing, a kind that does not exist, a bug in a client. Through the session's sandbox (seed 7)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest

from usagekit.accounts import Account
from usagekit.errors import ApiError, ArgumentError, UsagekitError
from usagekit.listing import DuplicateAccountWarning, StatusFilterWarning, list_tasks
from usagekit.sandbox import Sandbox


def test_two_names_for_one_access_key_are_listed_once_under_the_first(sandbox: Sandbox) -> None:
    shop = sandbox.accounts[0]
    alias = dataclasses.replace(shop, name="shop-again")
    alone = list_tasks([shop], progress=False)
    with pytest.warns(DuplicateAccountWarning) as caught:
        both = list_tasks([shop, alias, sandbox.accounts[1]], progress=False)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert repr(shop.name) in text and "'shop-again'" in text and shop.access_key_secret not in text
    mine = both[both["account"] == shop.name].reset_index(drop=True)
    assert len(mine) == len(alone) == len(sandbox.truth.tasks(shop.name, "all"))  # not doubled
    assert "shop-again" not in set(both["account"].astype(str))
    assert set(both["account"].astype(str)) == {shop.name, sandbox.accounts[1].name}


def test_a_status_that_matches_nothing_warns_naming_the_statuses_seen(sandbox: Sandbox) -> None:
    shop = sandbox.accounts[0]
    truth = sandbox.truth.tasks(shop.name, "all")
    assert set(truth["status"].astype(str)) == {"created", "success", "failed"}  # what seed 7 holds
    with pytest.warns(StatusFilterWarning, match="'succes'") as caught:
        frame = list_tasks(shop, status="succes", progress=False)
    assert frame.empty
    assert "'created', 'failed', 'success'" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        done = list_tasks(shop, status=["success", "failed"], progress=False)  # known statuses: quiet
    assert set(done["status"].astype(str)) == {"success", "failed"}


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"kind": "sumary"}, "kind must be"),
        ({"kind": "details"}, "kind must be"),
        ({"errors": "ignore"}, "errors must be"),
        ({"max_workers": 0}, "max_workers"),
    ],
)
def test_a_wrong_argument_is_a_value_error_raised_before_any_request(
    sandbox: Sandbox, kwargs: dict[str, Any], what: str
) -> None:
    before = len(sandbox.requests)
    with pytest.raises(ArgumentError, match=what) as caught:
        list_tasks(sandbox.accounts[0], progress=False, **kwargs)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, UsagekitError)
    assert not isinstance(caught.value, ApiError)  # the service refused nothing: it was not asked
    assert len(sandbox.requests) == before


class _BuggyClient:
    """A client whose code has a bug: a programming error, not a failure of the service."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def call(self, action: str, **params: Any) -> Any:
        reply: Any = None
        return reply["TotalCount"]

    def close(self) -> None:
        pass


def test_collect_gathers_failures_of_the_service_but_a_bug_surfaces_as_itself(sandbox: Sandbox) -> None:
    with pytest.raises(TypeError, match="not subscriptable"):
        list_tasks(sandbox.accounts[:2], errors="collect", progress=False, client_factory=_BuggyClient)
