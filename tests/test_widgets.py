"""The account picker and the task explorer, driven in plain pytest against the sandbox.

The explorer's logic (usagekit.explorer) is tested directly; the widgets are built, given values and
clicked (``Button.click()``), and what they show is compared with the sandbox's truth. A last test
serialises every widget's state and every repr and looks for secrets, tokens and presigned queries.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import ipywidgets
import pandas as pd
import pytest

from usagekit import explorer as logic
from usagekit.accounts import Account
from usagekit.frames import concat_frames
from usagekit.widgets import AccountPicker, TaskExplorer, explore

PNG = b"\x89PNG\r\n\x1a\n"
WAIT = 60  # seconds: a generous bound, the work takes a second or two


@pytest.fixture
def broken(sandbox: Any) -> Account:
    """An account the sandbox does not know: its listings fail with InvalidAccessKeyId.NotFound."""
    return Account(
        "demo-broken", "LTAIbroken-000000000000", "broken-secret-never-shown", endpoint=sandbox.endpoint
    )


def short(key_id: str) -> str:
    return f"{key_id[:4]}…{key_id[-4:]}"


def truth_tasks(sandbox: Any, names: list[str], kind: str = "all") -> pd.DataFrame:
    return concat_frames([sandbox.truth.tasks(name, kind) for name in names])


def error_lines(html_text: str) -> list[str]:
    """The lines an HTML message widget shows in the error colour."""
    return [html.unescape(line) for line in re.findall(r'<div style="color:#b3261e">(.*?)</div>', html_text)]


def disjoint_exports(tasks: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` successful detail exports of one account whose windows do not overlap (newest first)."""
    done = tasks[(tasks.kind == "detail") & (tasks.status == "success")].sort_values(
        "created", ascending=False
    )
    for rows in itertools.combinations(done.itertuples(), count):
        spans = sorted((r.window_start, r.window_end) for r in rows)
        if all(a[1] <= b[0] for a, b in itertools.pairwise(spans)):
            return done[done.task_id.isin([r.task_id for r in rows])]
    raise AssertionError("the sandbox world has no such exports")


def truth_totals(sandbox: Any, task_ids: list[str]) -> dict[str, float]:
    frame = pd.concat([sandbox.truth.usage(task_id) for task_id in task_ids])
    return frame.groupby("metric", observed=True)["value"].sum().to_dict()


# --- where ipywidgets and matplotlib load ---------------------------------------------------------


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_only_the_widgets_module_loads_ipywidgets_and_only_on_use() -> None:
    code = (
        "import sys, usagekit, usagekit.explorer\n"
        "print(sorted(m for m in ('ipywidgets', 'matplotlib') if m in sys.modules))\n"
        "import usagekit.widgets\n"
        "print(usagekit.explore is usagekit.widgets.explore, 'ipywidgets' in sys.modules)"
    )
    assert run_python(code).splitlines() == ["[]", "True True"]


def test_without_ipywidgets_the_widgets_name_the_extra_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['ipywidgets'] = None  # as if it were not installed\n"
        "import usagekit\n"
        "try:\n"
        "    usagekit.explore\n"
        "except usagekit.MissingExtraError as error:\n"
        "    print(error)"
    )
    assert run_python(code) == (
        "usagekit.widgets (the account picker and task explorer) needs the package ipywidgets: pip install 'usagekit[widgets]'"
    )


# --- the logic, directly ----------------------------------------------------------------------------


def test_account_label_shows_name_source_short_key_and_sts_only(sandbox: Any) -> None:
    media = sandbox.accounts[1]
    assert media.security_token  # the sandbox's demo-media is an STS account
    assert logic.account_label(media) == f"demo-media · sandbox · {short(media.access_key_id)} · STS"
    shop = sandbox.accounts[0]
    assert logic.account_label(shop) == f"demo-shop · sandbox · {short(shop.access_key_id)}"


def test_load_tasks_keeps_answering_accounts_and_gives_one_line_per_failed_one(
    sandbox: Any, broken: Account
) -> None:
    loaded = logic.load_tasks([sandbox.accounts[0], broken, sandbox.accounts[2]])
    truth = truth_tasks(sandbox, ["demo-shop", "demo-games"])
    assert sorted(zip(loaded.tasks.account.astype(str), loaded.tasks.task_id, strict=True)) == sorted(
        zip(truth.account.astype(str), truth.task_id, strict=True)
    )
    assert len(loaded.errors) == 1  # both kinds failed alike: one line, not two
    (line,) = loaded.errors
    assert line.startswith("demo-broken: InvalidAccessKeyId.NotFound: Specified access key is not found.")
    assert "\n" not in line and len(line) <= logic.LINE_LIMIT


def test_load_tasks_applies_kind_and_status(sandbox: Any) -> None:
    loaded = logic.load_tasks(sandbox.accounts[:1], "detail", ["success", "failed"])
    truth = sandbox.truth.tasks("demo-shop", "detail")
    truth = truth[truth.status.isin(["success", "failed"])]
    assert sorted(loaded.tasks.task_id) == sorted(truth.task_id)
    assert loaded.errors == []
    with pytest.raises(ValueError, match="kind must be one of"):
        logic.load_tasks(sandbox.accounts[:1], "details")


def test_export_choices_are_the_successful_detail_exports_newest_first(sandbox: Any) -> None:
    tasks = logic.load_tasks(sandbox.accounts).tasks
    choices = logic.export_choices(tasks)
    truth = truth_tasks(sandbox, [a.name for a in sandbox.accounts], "detail")
    truth = truth[truth.status == "success"].sort_values("created", ascending=False)
    assert [value for _, value in choices] == list(zip(truth.account.astype(str), truth.task_id, strict=True))
    label, (account, task_id) = choices[0]
    assert label.startswith(f"{account} · {task_id} · ")


def test_window_text_in_beijing_days() -> None:
    # 2026-10-05 16:00 UTC is midnight of 2026-10-06 in Beijing; the end is exclusive
    assert logic.window_text(pd.Timestamp("2026-10-05T16:00Z"), pd.Timestamp("2026-11-05T16:00Z")) == (
        "2026-10-06 – 2026-11-05"
    )


def test_task_table_lists_every_task_without_urls(sandbox: Any) -> None:
    tasks = logic.load_tasks(sandbox.accounts[:1]).tasks
    table = logic.task_table_html(tasks)
    for task_id in sandbox.truth.tasks("demo-shop", "all").task_id:
        assert f"<td>{task_id}</td>" in table
    assert "/files/" not in table and "?" not in table
    assert table.count("<tr") == 1 + len(tasks)  # the header row and one per task
    assert "&lt;NA&gt;" not in table and "nan" not in table  # missing values are blank cells
    assert "and 70 more" in logic.task_table_html(tasks, max_rows=10)


def test_fetch_usage_reads_the_chosen_exports_and_counts_files(sandbox: Any) -> None:
    tasks = logic.load_tasks(sandbox.accounts[:1], "detail").tasks
    rows = disjoint_exports(tasks, 2)
    done: list[int] = []
    fetched = logic.fetch_usage(rows, on_file=lambda: done.append(1))
    assert len(done) == 2
    assert sorted(fetched.usage.task_id.unique()) == sorted(rows.task_id)
    got = fetched.usage.groupby("metric", observed=True)["value"].sum().to_dict()
    assert got == truth_totals(sandbox, list(rows.task_id))
    assert fetched.notes == []
    assert logic.usage_summary(fetched.usage).startswith(
        f"2 exports of 1 account: {len(fetched.usage)} rows, "
    )


# --- the widgets ------------------------------------------------------------------------------------


def test_picker_labels_accounts_and_its_value_is_the_accounts(sandbox: Any) -> None:
    picker = AccountPicker(sandbox.accounts)
    assert picker.value == tuple(sandbox.accounts)
    assert picker.get_state()["_options_labels"] == tuple(
        f"{a.name} · sandbox · {short(a.access_key_id)}" + (" · STS" if a.security_token else "")
        for a in sandbox.accounts
    )
    seen: list[tuple[Account, ...]] = []
    picker.observe(lambda change: seen.append(change["new"]), "value")
    picker.value = (sandbox.accounts[2],)
    assert seen == [(sandbox.accounts[2],)]
    assert repr(picker) == (
        "AccountPicker(accounts=['demo-shop', 'demo-media', 'demo-games'], chosen=['demo-games'])"
    )


def test_picker_defaults_to_the_discovered_accounts(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    picker = AccountPicker()
    assert [a.name for a in picker.value] == ["demo-shop", "demo-media", "demo-games"]
    assert [a.access_key_id for a in picker.value] == [a.access_key_id for a in sandbox.accounts]


def test_explorer_from_account_choice_to_usage_plot(sandbox: Any, broken: Account) -> None:
    explorer = explore([*sandbox.accounts, broken])
    assert isinstance(explorer, TaskExplorer)
    assert explorer.tasks is None and explorer.fetch_button.disabled  # nothing is listed before Load
    shop, _, games = sandbox.accounts
    explorer.picker.value = (shop, broken, games)
    explorer.kind.value = "detail"
    explorer.load_button.click()
    explorer.wait(WAIT)

    truth = truth_tasks(sandbox, ["demo-shop", "demo-games"], "detail")
    assert sorted(explorer.tasks.task_id) == sorted(truth.task_id)
    assert set(explorer.tasks.kind) == {"detail"}
    message = explorer.message.value
    assert f"{len(truth)} tasks of 2 of 3 accounts" in message
    (line,) = error_lines(message)  # the failed account: one line, the others listed
    assert line.startswith("demo-broken: InvalidAccessKeyId.NotFound")
    assert explorer.errors == [line]
    for task_id in truth.task_id:
        assert f"<td>{task_id}</td>" in explorer.table.value
    assert explorer.table.layout.display is None
    assert bytes(explorer.timeline.value).startswith(PNG) and explorer.timeline.layout.display is None
    assert not explorer.fetch_button.disabled and not explorer.load_button.disabled

    chosen = disjoint_exports(explorer.tasks[explorer.tasks.account == "demo-games"], 2)
    values = dict((value, label) for label, value in explorer.exports.options)
    explorer.exports.value = tuple(("demo-games", task_id) for task_id in chosen.task_id)
    assert all(("demo-games", task_id) in values for task_id in chosen.task_id)
    explorer.fetch_button.click()
    explorer.wait(WAIT)

    assert error_lines(explorer.usage_message.value) == []
    got = explorer.usage.groupby("metric", observed=True)["value"].sum().to_dict()
    assert got == truth_totals(sandbox, list(chosen.task_id))
    assert "2 exports of 1 account" in explorer.usage_message.value
    traffic = bytes(explorer.usage_plot.value)
    assert traffic.startswith(PNG) and explorer.usage_plot.layout.display is None
    explorer.metric.value = "bandwidth"  # redraws from .usage, fetching nothing again
    explorer.wait(WAIT)
    assert bytes(explorer.usage_plot.value).startswith(PNG) and bytes(explorer.usage_plot.value) != traffic
    assert repr(explorer) == (
        "TaskExplorer(accounts=['demo-shop', 'demo-media', 'demo-games', 'demo-broken'], chosen=3, "
        f"tasks={len(truth)}, usage_rows={len(explorer.usage)}, errors=1)"
    )


def test_fetching_a_requests_only_export_shows_requests_not_an_empty_traffic_plot(sandbox: Any) -> None:
    truth = sandbox.truth.tasks("demo-shop", "detail")
    vas = truth[(truth.type == "vas") & (truth.status == "success")].sort_values("created").iloc[0]
    explorer = TaskExplorer(sandbox.accounts[:1])
    explorer.load()
    explorer.wait(WAIT)
    assert explorer.metric.value == "traffic"
    explorer.exports.value = (("demo-shop", vas.task_id),)
    explorer.fetch()
    explorer.wait(WAIT)
    assert set(explorer.usage.metric) == {"requests"}  # a vas export holds requests only
    assert explorer.metric.value == "requests"
    assert bytes(explorer.usage_plot.value).startswith(PNG)


def test_explorer_with_no_account_or_no_export_chosen_says_what_to_do(sandbox: Any) -> None:
    explorer = TaskExplorer(sandbox.accounts[:1])
    explorer.picker.value = ()
    explorer.load()
    explorer.wait(WAIT)
    assert "Choose at least one account" in explorer.message.value and explorer.tasks is None
    explorer.picker.value = tuple(sandbox.accounts[:1])
    explorer.load()
    explorer.wait(WAIT)
    explorer.fetch()
    explorer.wait(WAIT)
    assert "Choose one or more exports" in explorer.usage_message.value and explorer.usage is None


def test_a_fetch_that_fails_is_one_line_and_the_explorer_keeps_working(fresh_sandbox: Any) -> None:
    box = fresh_sandbox(file_ttl=60)
    explorer = TaskExplorer(box.accounts[:1])
    explorer.kind.value = "detail"
    explorer.load()
    explorer.wait(WAIT)
    (_, gone), (_, kept) = explorer.exports.options[:2]
    from usagekit import delete_export

    delete_export(box.accounts[0], "detail", gone[1])
    box.advance(120)  # the URLs the listing gave have expired: fetch must list again, and the task is gone
    explorer.exports.value = (gone,)
    explorer.fetch()
    explorer.wait(WAIT)
    (line,) = error_lines(explorer.usage_message.value)
    assert gone[1] in line and "\n" not in line and "Traceback" not in line
    assert explorer.errors == [line]

    explorer.exports.value = (kept,)
    explorer.fetch()
    explorer.wait(WAIT)
    assert error_lines(explorer.usage_message.value) == []
    assert list(explorer.usage.task_id.unique()) == [kept[1]]
    assert bytes(explorer.usage_plot.value).startswith(PNG)


# --- nothing secret anywhere -----------------------------------------------------------------------


def all_widgets(root: ipywidgets.Widget) -> Iterator[ipywidgets.Widget]:
    """``root`` and every widget it refers to (children, layouts, styles), once each."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        yield widget
        for name in widget.keys:
            value = getattr(widget, name)
            items = value if isinstance(value, tuple | list) else (value,)
            todo.extend(item for item in items if isinstance(item, ipywidgets.Widget))


def test_no_secret_token_or_presigned_query_in_widget_state_or_reprs(sandbox: Any, broken: Account) -> None:
    from usagekit.memory import remembered

    accounts = [*sandbox.accounts, broken]
    explorer = TaskExplorer(accounts)
    explorer.load()
    explorer.wait(WAIT)
    detail = explorer.tasks[(explorer.tasks.kind == "detail") & (explorer.tasks.status == "success")]
    shortest = detail.assign(days=detail.window_end - detail.window_start).nsmallest(2, "days")
    explorer.exports.value = tuple(zip(shortest.account.astype(str), shortest.task_id, strict=True))
    explorer.fetch()
    explorer.wait(WAIT)
    assert explorer.usage is not None and len(explorer.errors) == 1  # the broken account's line

    widgets = list(all_widgets(explorer))
    assert len(widgets) > 20 and explorer.picker in widgets and explorer.usage_plot in widgets
    texts = [json.dumps(w.get_state(), default=lambda o: bytes(o).decode("latin-1")) for w in widgets]
    texts += [repr(w) for w in widgets]
    for obj in (explorer, explorer.picker, *accounts):
        texts += [repr(obj), str(obj), obj._repr_html_()]
    texts += [repr(explorer.tasks), explorer.tasks.to_html(), explorer.message.value]

    secrets = [a.access_key_secret for a in accounts] + [a.access_key_id for a in accounts]
    secrets += [a.security_token for a in accounts if a.security_token]
    queries = []
    for row in explorer.tasks.itertuples():
        memory = remembered(str(row.account), str(row.kind), row.task_id)
        if memory is not None and memory.url:
            queries.append(memory.url.split("?", 1)[1])
    assert len(queries) > 50 and len(secrets) == 9
    everything = "\n".join(texts)
    for secret in secrets + queries:
        assert secret not in everything
    for marker in ("Signature=", "Expires=", "OSSAccessKeyId", "SecurityToken", "security_token"):
        assert marker not in everything
