"""What ``usage()`` of some detail exports must add up to, worked out from the sandbox's truth per export.

Not the overlap rule under test: the answer is read off each export's true rows. For every account,
region, metric and interval the total is an account-wide export's total where one covers it (all of
them agree in the sandbox), else the sum of the distinct listed domains; each listed domain's value is
its true value. :func:`check_usage` compares a tidy frame with that answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from usagekit.frames import concat_frames
from usagekit.sandbox import Sandbox

GROUP = ["account", "region", "metric", "start"]
KEY = ["account", "domain", "region", "metric", "start"]


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text, NA domain and region as "" (groupby keys that never drop a row)."""
    text = frame.astype({c: "object" for c in ["account", "domain", "region", "metric", "task_id"]})
    return text.fillna({"domain": "", "region": ""})


@dataclass
class Answer:
    totals: pd.Series  # (account, region, metric, start) -> the account's total
    domains: pd.Series  # (account, domain, region, metric, start) -> the domain's value
    by_account: dict[str, set[str]]  # account -> ids of its exports made by account

    def per_account(self, metric: str) -> dict[str, float]:
        """The account's true sum of ``metric`` over every interval (traffic, requests)."""
        picked = self.totals[self.totals.index.get_level_values("metric") == metric]
        return {str(k): float(v) for k, v in picked.groupby(level="account").sum().items()}


def answer(box: Sandbox, task_ids: list[str]) -> Answer:
    """The answer for ``usage()`` of these detail exports, from ``box.truth.usage`` of each."""
    rows = plain(concat_frames([box.truth.usage(task_id) for task_id in task_ids]))
    spread = rows.groupby(KEY)["value"].nunique()
    assert (spread == 1).all(), "the sandbox's exports disagree where they overlap"
    once = rows.drop_duplicates(KEY)
    totals = once[once["domain"] == ""].set_index(GROUP)["value"]
    listed = once[once["domain"] != ""]
    summed = listed.groupby(GROUP)["value"].sum()
    totals = pd.concat([totals, summed[~summed.index.isin(totals.index)]]).sort_index()
    by_account: dict[str, set[str]] = {}
    for account, task_id in (
        rows.loc[rows["domain"] == "", ["account", "task_id"]].drop_duplicates().itertuples(index=False)
    ):
        by_account.setdefault(account, set()).add(task_id)
    return Answer(totals, listed.set_index(KEY)["value"].sort_index(), by_account)


def check_usage(frame: pd.DataFrame, expected: Answer) -> None:
    """Assert that ``frame`` holds the answer: totals, each domain once with its value, remainders sound."""
    rows = plain(frame)
    assert not rows.duplicated(KEY).any(), "a row counted twice"
    got = rows.groupby(GROUP)["value"].sum().sort_index()
    assert got.index.equals(expected.totals.index), "intervals missing or extra"
    wrong = got[got != expected.totals]
    assert wrong.empty, f"{len(wrong)} totals differ from the truth, e.g.\n{wrong.head()}"
    domains = rows[rows["domain"] != ""].set_index(KEY)["value"].sort_index()
    assert domains.index.equals(expected.domains.index), "listed domains missing or extra"
    assert (domains == expected.domains).all(), "a domain's value differs from the truth"
    rest = rows[rows["domain"] == ""]
    for account, task_ids in rest.groupby("account")["task_id"]:
        assert set(task_ids) <= expected.by_account.get(account, set()), (
            "a domain NA row not from an export by account"
        )
    shared = rest.set_index(GROUP).index.isin(domains.reset_index().set_index(GROUP).index)
    assert not (rest["value"].to_numpy()[shared] == 0).any(), "a remainder of zero was written"
