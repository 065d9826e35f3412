"""The argument contract, generated: from one valid call of each public callable, one argument at a time is
replaced by a wrong type, an empty or an ill-formed value (hypothesis). Every such call must raise a
UsagekitError (an ArgumentError for an argument's own fault), with no request sent to the sandbox (its request
log) and nothing created (the working folder, the cache and HOME stay as they were). No real credentials are
in the environment.

The wrong values are chosen here, outside the code under test: types no parameter takes, fixed ill-formed
texts (``"Nov 2026"``, ``"2026/09"``, ``"01-10-2026"``, a time without a zone), and generated text that cannot
be a valid value (no digits where a time is wanted; not one of the documented words where a word is).
"""

from __future__ import annotations

import os
import signal
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usagekit
from usagekit.frames import tidy_frame

# --- wrong values ----------------------------------------------------------------------------------------

_OBJECTS = st.sampled_from([object(), 1j, range(2), frozenset({3}), b"x", bytearray(b"2026")])
NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=True, allow_infinity=True))
CONTAINERS = st.one_of(
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1)
)
#: no parameter of a public callable takes these (bools only where a flag is wanted, handled per parameter)
WRONG_TYPE = st.one_of(NUMBERS, CONTAINERS, _OBJECTS)
LOOSE_TIMES = st.sampled_from(
    [
        "",
        " ",
        "Nov 2026",
        "2026/09",
        "01-10-2026",
        "2026-13-01",
        "2026-02-30",
        "2026-10-01T00:00",
        "yesterday",
        "2026-10",
    ]
)
#: text without a digit cannot be a moment, a month or a number
WORDS = st.text(alphabet=string.ascii_letters + " -_/", min_size=0, max_size=8)
BAD_MOMENT = st.one_of(WRONG_TYPE, st.booleans(), LOOSE_TIMES, WORDS)
BAD_FLAG = st.one_of(
    NUMBERS.filter(lambda n: n not in (0, 1)), CONTAINERS, _OBJECTS, st.text(min_size=1, max_size=4)
)
NOT_CALLABLE = st.one_of(NUMBERS, CONTAINERS, st.text(max_size=4), st.sampled_from([b"x", 1j]))
BAD_SECONDS = st.one_of(
    st.integers(max_value=-1),
    st.floats(max_value=-0.001),
    st.just(float("nan")),
    CONTAINERS,
    _OBJECTS,
    WORDS,
    st.booleans(),
)


def not_among(*allowed: str) -> st.SearchStrategy[Any]:
    """Text that is none of the documented words (and anything of another type)."""
    return st.one_of(WRONG_TYPE, st.text(max_size=10).filter(lambda t: t not in allowed), st.booleans())


BAD_ACCOUNTS = st.one_of(
    NUMBERS,
    _OBJECTS,
    st.booleans(),
    st.just([]),
    st.just(()),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).map(
        lambda t: "nobody-" + t
    ),  # no such profile
)
BAD_ACCOUNT = st.one_of(
    NUMBERS,
    CONTAINERS,
    _OBJECTS,
    st.booleans(),
    st.just(""),
    st.text(min_size=1, max_size=6).map(lambda t: "nobody-" + t),
)
BAD_PATH = st.one_of(NUMBERS, CONTAINERS, st.sampled_from([object(), 1j, b"x"]), st.just(""))
BAD_FRAME = st.one_of(NUMBERS, st.text(max_size=6), _OBJECTS, st.just(pd.DataFrame({"x": [1]})))
BAD_TASKS = st.one_of(
    NUMBERS,
    st.text(min_size=1, max_size=8),
    _OBJECTS,
    st.lists(st.integers(), min_size=1, max_size=2),
    st.just([{"account": "a"}]),
    st.just(pd.DataFrame({"x": [1]})),
)
BAD_DOMAINS = st.one_of(
    NUMBERS,
    _OBJECTS,
    st.just([]),
    st.just(""),
    st.just("a.example,b.example"),
    st.lists(st.integers(), min_size=1, max_size=2),
)

# --- the world: a sandbox, temporary folders, no credentials ---------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("contract")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("ALIBABA_CLOUD_", "ALIYUN_", "USAGEKIT_SANDBOX")):
                patch.delenv(name)
        patch.setenv("HOME", str(root / "home"))
        patch.setenv("MPLCONFIGDIR", str(tmp_path_factory.mktemp("matplotlib")))  # its font cache, not ours
        patch.setenv("USAGEKIT_CACHE_DIR", str(root / "cache"))
        (root / "home").mkdir()
        (root / "work").mkdir()
        (root / "work" / "small.csv").write_text(
            "start,end,value\n2026-10-01T16:00:00Z,2026-10-01T16:05:00Z,3\n"
        )
        patch.chdir(root / "work")
        with usagekit.Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen", accounts=2, tasks=6) as box:
            tasks = usagekit.list_tasks(box.accounts[0], progress=False)
            lines = usagekit.bill_lines(box.accounts[0], month="2026-10", now="2026-11-20T08:00:00Z")
            (root / "cache").mkdir(exist_ok=True)
            usage = tidy_frame(
                {
                    "account": ["demo-shop"] * 2,
                    "region": ["CN"] * 2,
                    "metric": ["bandwidth"] * 2,
                    "start": ["2026-10-04T16:00Z", "2026-10-04T16:05Z"],
                    "end": ["2026-10-04T16:05Z", "2026-10-04T16:10Z"],
                    "value": [4e8, 1e8],
                    "unit": ["bit/s"] * 2,
                }
            )
            check = usagekit.check_bill(usage, box.accounts[0], month="2026-10")
            with pytest.warns(usagekit.UsagekitWarning):  # two points: shorter than the lookback
                found = usagekit.anomalies(usage, metric="bandwidth", freq="5min")
            yield {
                "check": check,
                "found": found,
                "root": root,
                "box": box,
                "account": box.accounts[0],
                "tasks": tasks,
                "usage": usage,
                "lines": lines,
            }


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- one valid call of each public callable, and what to vary ---------------------------------------------


def cases(
    w: dict[str, Any],
) -> dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, st.SearchStrategy[Any]]]]:
    account, tasks, usage = w["account"], w["tasks"], w["usage"]
    success = tasks[tasks["status"] == "success"].head(1)
    start, end = "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z"
    return {
        "list_tasks": (
            usagekit.list_tasks,
            {"accounts": account, "kind": "summary", "progress": False},
            {
                "accounts": BAD_ACCOUNTS,
                "kind": not_among("summary", "detail", "all"),
                "since": BAD_MOMENT,
                "until": BAD_MOMENT,
                "errors": not_among("raise", "collect"),
                "progress": BAD_FLAG,
                "executor": WRONG_TYPE,
                "client_factory": NOT_CALLABLE,
                "now": BAD_MOMENT,
            },
        ),
        "iter_tasks": (
            usagekit.iter_tasks,
            {"account": account, "kind": "summary"},
            {
                "account": BAD_ACCOUNT,
                "kind": not_among("summary", "detail", "all"),
                "client_factory": NOT_CALLABLE,
            },
        ),
        "create_export": (
            usagekit.create_export,
            {"account": account, "kind": "detail", "start": start, "end": end},
            {
                "account": BAD_ACCOUNT,
                "kind": not_among("summary", "detail"),
                "start": BAD_MOMENT,
                "end": BAD_MOMENT,
                "domains": BAD_DOMAINS,
                "type": not_among("flow", "vas"),
                "language": not_among("en-us", "zh-cn"),
                "name": st.one_of(NUMBERS, CONTAINERS, _OBJECTS),
                "client_factory": NOT_CALLABLE,
                "now": BAD_MOMENT,
            },
        ),
        "delete_export": (
            usagekit.delete_export,
            {"account": account, "kind": "summary", "task_id": "1"},
            {
                "account": BAD_ACCOUNT,
                "kind": not_among("summary", "detail"),
                "task_id": st.one_of(CONTAINERS, _OBJECTS, st.just("")),
                "client_factory": NOT_CALLABLE,
            },
        ),
        "wait": (
            usagekit.wait,
            {"tasks": success, "timeout": 5, "progress": False},
            {
                "tasks": BAD_TASKS,
                "accounts": BAD_ACCOUNTS,
                "timeout": BAD_SECONDS,
                "poll": BAD_SECONDS,
                "progress": BAD_FLAG,
                "sleep": NOT_CALLABLE,
                "clock": NOT_CALLABLE,
                "client_factory": NOT_CALLABLE,
            },
        ),
        "coverage": (
            usagekit.coverage,
            {"tasks": tasks, "start": start, "end": end},
            {
                "tasks": BAD_TASKS,
                "start": BAD_MOMENT,
                "end": BAD_MOMENT,
                "accounts": BAD_ACCOUNTS.filter(lambda a: not isinstance(a, str)),
            },
        ),
        "fetch": (
            usagekit.fetch,
            {"tasks": success, "progress": False},
            {
                "tasks": BAD_TASKS,
                "accounts": BAD_ACCOUNTS,
                "cache_dir": BAD_PATH,
                "progress": BAD_FLAG,
                "executor": WRONG_TYPE,
                "session": WRONG_TYPE,
                "policy": WRONG_TYPE,
            },
        ),
        "usage": (
            usagekit.usage,
            {"tasks": success, "progress": False},
            {
                "tasks": BAD_TASKS,
                "accounts": BAD_ACCOUNTS,
                "executor": WRONG_TYPE,
                "progress": BAD_FLAG,
                "cache_dir": BAD_PATH,
                "policy": WRONG_TYPE,
            },
        ),
        "bill_types": (
            usagekit.bill_types,
            {"accounts": account, "start": start, "end": end},
            {
                "accounts": BAD_ACCOUNTS,
                "start": BAD_MOMENT,
                "end": BAD_MOMENT,
                "client_factory": NOT_CALLABLE,
            },
        ),
        "billing_quantities": (
            usagekit.billing_quantities,
            {"usage": usage, "method": "month_95"},
            {
                "usage": BAD_FRAME,
                "method": not_among(),
                "percentile_rounding": not_among("floor", "ceil"),
                "count_idle_days": BAD_FLAG,
            },
        ),
        "compare_billing": (
            usagekit.compare_billing,
            {"usage": usage},
            {
                "usage": BAD_FRAME,
                "methods": st.one_of(
                    NUMBERS, _OBJECTS, st.just([]), st.lists(st.integers(), min_size=1, max_size=2)
                ),
                "percentile_rounding": not_among("floor", "ceil"),
                "prices": st.one_of(NUMBERS, CONTAINERS, _OBJECTS),
            },
        ),
        "plot_usage": (
            usagekit.plot_usage,
            {"usage": usage, "metric": "bandwidth"},
            {
                "usage": BAD_FRAME,
                "metric": not_among("traffic", "bandwidth", "requests"),
                "by": not_among("domain", "account", "region"),
                "top": st.one_of(st.integers(max_value=-1), WORDS, CONTAINERS, _OBJECTS),
                "freq": st.one_of(
                    st.integers(),
                    WORDS.filter(
                        lambda t: t.strip() not in ("", "D", "h", "min", "s", "W", "M", "ME", "T", "H", "S")
                    ),
                ),
                "tz": not_among("UTC"),
            },
        ),
        "plot_timeline": (
            usagekit.plot_timeline,
            {"tasks": tasks},
            {
                "tasks": BAD_FRAME,
                "view": not_among("windows", "runs"),
                "by": not_among("account", "kind"),
                "start": BAD_MOMENT,
                "end": BAD_MOMENT,
                "tz": not_among("UTC"),
            },
        ),
        "plot_percentile": (
            usagekit.plot_percentile,
            {"usage": usage, "account": "demo-shop", "month": "2026-10"},
            {
                "usage": BAD_FRAME,
                "account": st.one_of(NUMBERS, _OBJECTS, st.just("nobody")),
                "month": BAD_MOMENT,
                "region": st.one_of(NUMBERS, _OBJECTS, st.just("EU")),
            },
        ),
        "read_usage": (
            usagekit.read_usage,
            {"path": str(w["root"] / "work" / "missing.xlsx")},
            {
                "path": BAD_PATH,
                "mapping": st.one_of(NUMBERS, st.text(max_size=4), st.just({"Time": ("nope", None)})),
                "kb": st.one_of(st.integers().filter(lambda k: k not in (1000, 1024)), WORDS, _OBJECTS),
                "cache": not_among("memory"),
            },
        ),
        "to_dataset": (
            usagekit.to_dataset,
            {"frame": usage, "path": str(w["root"] / "work" / "dataset")},
            {"frame": BAD_FRAME, "path": BAD_PATH},
        ),
        "read_dataset": (
            usagekit.read_dataset,
            {"path": str(w["root"] / "work" / "dataset")},
            {"path": BAD_PATH, "verify": BAD_FLAG},
        ),
        "CdnClient": (
            usagekit.CdnClient,
            {"account": account},
            {
                "account": st.one_of(NUMBERS, CONTAINERS, _OBJECTS, st.text(max_size=4)),
                "endpoint": st.one_of(NUMBERS, CONTAINERS, st.just(""), st.just("ftp://x")),
                "session": WRONG_TYPE,
                "timeout": BAD_SECONDS,
                "retry": WRONG_TYPE,
                "signature": not_among("v2", "v3"),
                "allow_insecure": BAD_FLAG,
                "sleep": NOT_CALLABLE,
                "clock": NOT_CALLABLE,
                "before_attempt": NOT_CALLABLE,
            },
        ),
        "RetryPolicy": (
            usagekit.RetryPolicy,
            {},
            {
                "max_attempts": st.one_of(st.integers(max_value=0), WORDS, st.floats(), CONTAINERS),
                "base": BAD_SECONDS,
                "cap": BAD_SECONDS,
                "deadline": BAD_SECONDS,
                "rng": WRONG_TYPE,
            },
        ),
        "Account": (
            usagekit.Account,
            {"name": "shop", "access_key_id": "LTAIexample-0000KlMn", "access_key_secret": "example-secret"},
            {
                "name": st.one_of(NUMBERS, CONTAINERS, st.just("")),
                "access_key_id": st.one_of(NUMBERS, st.just("")),
                "access_key_secret": st.one_of(NUMBERS, st.just("")),
                "security_token": st.one_of(NUMBERS, CONTAINERS),
                "region": st.one_of(NUMBERS, st.just("")),
                "endpoint": st.one_of(NUMBERS, CONTAINERS),
                "site": not_among("china", "international"),
            },
        ),
        "resolve_accounts": (usagekit.resolve_accounts, {"accounts": account}, {"accounts": BAD_ACCOUNTS}),
        "DownloadPolicy": (
            usagekit.DownloadPolicy,
            {},
            {
                "chunk_size": st.one_of(st.integers(max_value=0), WORDS, CONTAINERS),
                "attempts": st.one_of(st.integers(max_value=0), WORDS),
                "timeout": st.one_of(WORDS, st.just((-1, 1)), NUMBERS.filter(lambda n: not n > 0)),
                "deadline": BAD_SECONDS,
                "max_size": st.one_of(st.integers(max_value=0), WORDS),
                "sleep": NOT_CALLABLE,
                "clock": NOT_CALLABLE,
            },
        ),
        "ExportTask": (
            usagekit.ExportTask,
            {"account": "shop", "kind": "detail", "task_id": "1"},
            {
                "account": st.one_of(NUMBERS, CONTAINERS, st.just("")),
                "kind": not_among("summary", "detail"),
                "task_id": st.one_of(NUMBERS, CONTAINERS, st.just("")),
                "created": BAD_MOMENT.filter(lambda v: v is not None),
            },
        ),
        "Sandbox": (
            usagekit.Sandbox,
            {"seed": 1},
            {
                "seed": st.one_of(WORDS, st.floats(), CONTAINERS),
                "now": BAD_MOMENT.filter(lambda v: v is not None),
                "clock": not_among("real", "frozen"),
                "accounts": st.one_of(st.integers(max_value=0), WORDS),
                "tasks": st.one_of(st.integers(max_value=-1), WORDS),
                "faults": st.one_of(NUMBERS, WORDS, CONTAINERS),
            },
        ),
        "read_summary": (
            usagekit.read_summary,
            {"path": str(w["root"] / "work" / "missing.pdf")},
            {"path": BAD_PATH},
        ),
        "price_periods": (
            usagekit.price_periods,
            {
                "quantities": usagekit.billing_quantities(usage, "month_95"),
                "prices": usagekit.example_prices(),
            },
            {
                "quantities": BAD_FRAME,
                "prices": st.one_of(NUMBERS, CONTAINERS, _OBJECTS, st.just(pd.DataFrame({"x": [1]}))),
            },
        ),
        "to_focus": (
            usagekit.to_focus,
            {"usage": usage},
            {
                "usage": BAD_FRAME,
                "bill": st.one_of(NUMBERS, st.text(max_size=3), _OBJECTS),
                "prices": st.one_of(NUMBERS, CONTAINERS, _OBJECTS),
                "methods": st.one_of(NUMBERS, CONTAINERS, _OBJECTS),
            },
        ),
        "list_domains": (usagekit.list_domains, {"accounts": account}, {"accounts": BAD_ACCOUNTS}),
        "bill_history": (
            usagekit.bill_history,
            {"accounts": account, "start": start, "end": end},
            {"accounts": BAD_ACCOUNTS, "start": BAD_MOMENT, "end": BAD_MOMENT},
        ),
        "bill_prediction": (
            usagekit.bill_prediction,
            {"accounts": account},
            {"accounts": BAD_ACCOUNTS, "now": BAD_MOMENT.filter(lambda v: v is not None)},
        ),
        "bill_lines": (
            usagekit.bill_lines,
            {"accounts": account, "month": "2026-10"},
            {
                "accounts": BAD_ACCOUNTS,
                "month": BAD_MOMENT,
                "granularity": not_among("daily", "monthly", "DAILY", "MONTHLY"),
                "product": st.one_of(
                    WRONG_TYPE, st.booleans(), st.sampled_from(["", " "])
                ),  # any ProductCode
                "now": BAD_MOMENT.filter(lambda v: v is not None),
            },
        ),
        "anomalies": (
            usagekit.anomalies,
            {"usage": usage},
            {
                "usage": BAD_FRAME,
                "metric": not_among("traffic", "bandwidth", "requests"),
                "freq": st.one_of(
                    st.integers(),
                    WORDS.filter(
                        lambda t: t.strip() not in ("", "D", "h", "min", "s", "W", "H", "T", "S", "ME", "M")
                    ),
                ),
                "threshold": BAD_SECONDS,
                "min_spread": BAD_SECONDS,
            },
        ),
        "check_bill": (
            usagekit.check_bill,
            {"usage": usage, "accounts": account, "month": "2026-10"},
            {
                "usage": BAD_FRAME,
                "accounts": BAD_ACCOUNTS,
                "month": BAD_MOMENT,
                "tolerance": BAD_SECONDS,
                "percentile_rounding": not_among("floor", "ceil"),
                "count_idle_days": BAD_FLAG,
                "now": BAD_MOMENT.filter(lambda v: v is not None),
            },
        ),
        "check_prediction": (
            usagekit.check_prediction,
            {"usage": usage, "accounts": account},
            {
                "usage": BAD_FRAME,
                "accounts": BAD_ACCOUNTS,
                "now": BAD_MOMENT.filter(lambda v: v is not None),
                "tolerance": BAD_SECONDS,
                "percentile_rounding": not_among("floor", "ceil"),
                "count_idle_days": BAD_FLAG,
            },
        ),
        "check_cost": (
            usagekit.check_cost,
            {"usage": usage, "lines": w["lines"], "prices": usagekit.example_prices(), "accounts": account},
            {
                "usage": BAD_FRAME,
                "lines": BAD_FRAME,
                "prices": st.one_of(NUMBERS, CONTAINERS, _OBJECTS, st.just(pd.DataFrame({"x": [1]}))),
                "accounts": BAD_ACCOUNTS,
                "now": BAD_MOMENT.filter(lambda v: v is not None),
            },
        ),
        "allocate_cost": (
            usagekit.allocate_cost,
            {"usage": usage, "method": "month_95", "prices": usagekit.example_prices()},
            {
                "usage": BAD_FRAME,
                "method": not_among(),
                "bill": st.one_of(NUMBERS, st.text(max_size=3), _OBJECTS, st.just(pd.DataFrame({"x": [1]}))),
                "prices": st.one_of(NUMBERS, CONTAINERS, _OBJECTS, st.just(pd.DataFrame({"x": [1]}))),
                "by": not_among("domain", "team"),
                "mapping": st.one_of(NUMBERS, _OBJECTS, st.just(pd.DataFrame({"x": [1]}))),
                "rule": not_among("at_billed_point", "top_band"),
                "accounts": BAD_ACCOUNTS,
            },
        ),
        "read_csv": (usagekit.read_csv, {"path": str(w["root"] / "work" / "small.csv")}, {"path": BAD_PATH}),
        "plot_bill_check": (
            usagekit.plot_bill_check,
            {"check": w["check"], "account": "demo-shop"},
            {
                "check": BAD_FRAME,
                "account": st.one_of(NUMBERS, _OBJECTS, st.just("nobody")),
                "ax": WRONG_TYPE,
            },
        ),
        "plot_anomalies": (
            usagekit.plot_anomalies,
            {"usage": usage, "found": w["found"], "account": "demo-shop"},
            {
                "usage": BAD_FRAME,
                "found": BAD_FRAME,
                "account": st.one_of(NUMBERS, _OBJECTS, st.just("nobody")),
                "ax": WRONG_TYPE,
            },
        ),
        "sync": (
            usagekit.sync,
            {
                "accounts": account,
                "first_month": "2026-11",
                "last_month": "2026-11",
                "dataset": str(w["root"] / "work" / "synced"),
                "now": "2026-11-20T08:00:00Z",
                "progress": False,
                "cache_dir": str(w["root"] / "cache"),
                "timeout": 5,
            },
            {
                "accounts": BAD_ACCOUNTS,
                "first_month": BAD_MOMENT.filter(lambda v: v not in (None, "2026-10")),  # a month
                "last_month": BAD_MOMENT.filter(lambda v: v not in (None, "2026-10")),
                "dataset": BAD_PATH,
                "types": st.one_of(NUMBERS, _OBJECTS, st.just([]), st.just(["nope"]), st.just("flow")),
                "domains": BAD_DOMAINS,
                "language": not_among("en-us", "zh-cn"),
                "max_in_flight": st.one_of(st.integers(max_value=0), WORDS, CONTAINERS, _OBJECTS),
                "timeout": BAD_SECONDS,
                "executor": WRONG_TYPE,
                "progress": BAD_FLAG,
                "cleanup": BAD_FLAG,
                "cache_dir": BAD_PATH,
                "now": st.one_of(
                    WRONG_TYPE, st.booleans(), LOOSE_TIMES.filter(lambda v: v != "2026-10"), WORDS
                ),
                "sleep": NOT_CALLABLE,
                "poll": BAD_SECONDS,
                "start": st.just("2026-11-01T00:00Z"),
                "end": st.just("2026-12-01T00:00Z"),
            },
        ),
        "Session": (usagekit.Session, {}, {"client_factory": NOT_CALLABLE}),
        "discover_accounts": (
            usagekit.discover_accounts,
            {},
            {
                "environ": st.one_of(
                    NUMBERS, st.text(min_size=1, max_size=4), _OBJECTS, st.lists(st.integers(), min_size=1)
                ),
                "home": st.one_of(NUMBERS, CONTAINERS, _OBJECTS),
            },
        ),
    }


NAMES = [
    "list_tasks",
    "iter_tasks",
    "create_export",
    "delete_export",
    "wait",
    "coverage",
    "fetch",
    "usage",
    "bill_types",
    "billing_quantities",
    "compare_billing",
    "plot_usage",
    "plot_timeline",
    "plot_percentile",
    "read_usage",
    "to_dataset",
    "read_dataset",
    "CdnClient",
    "RetryPolicy",
    "Account",
    "resolve_accounts",
    "discover_accounts",
    "DownloadPolicy",
    "ExportTask",
    "read_summary",
    "list_domains",
    "bill_history",
    "bill_prediction",
    "bill_lines",
    "check_bill",
    "check_prediction",
    "check_cost",
    "allocate_cost",
    "anomalies",
    "price_periods",
    "to_focus",
    "read_csv",
    "plot_bill_check",
    "plot_anomalies",
    "sync",
    "Session",
]


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout("a call took over 10 s: it must refuse a wrong argument at once")


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_each_wrong_argument_is_a_usagekit_error_before_any_request_or_file(
    world: dict[str, Any], name: str, data: st.DataObject
) -> None:
    if "cases" not in world:  # built once: the valid calls hold frames computed from the world
        world["cases"] = cases(world)
    function, valid, wrong = world["cases"][name]
    parameter = data.draw(st.sampled_from(sorted(wrong)), label="parameter")
    value = data.draw(wrong[parameter], label="value")
    box, root = world["box"], world["root"]
    before_requests, before_files = len(box.requests), _tree(root)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        with pytest.raises(usagekit.UsagekitError):
            result = function(**{**valid, parameter: value})
            if hasattr(result, "__next__"):
                next(result)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(box.requests) == before_requests, f"{name}({parameter}={value!r}) sent a request"
    assert _tree(root) == before_files, f"{name}({parameter}={value!r}) created files"


#: public callables this test does not vary yet, each for a reason (the list can only shrink)
NOT_YET = {
    "SyncReport",  # a result, not made by users
    "Faults",  # a value class the Sandbox checks
    # the sandbox (issue 20's) refuses bad options with ValueError/TypeError (tasks="", seed=[], an infinite
    # seed: TypeError, OverflowError), not yet ArgumentError; its case below runs in ~15 s once they are
    "Sandbox",
    "explore",  # needs ipywidgets (the widgets extra)
    "example_prices",  # takes no argument
}


def test_every_public_callable_is_covered_or_named_as_not_yet() -> None:
    public = {
        n
        for n in usagekit.__all__
        if callable(getattr(usagekit, n))
        and not (
            isinstance(getattr(usagekit, n), type)
            and issubclass(getattr(usagekit, n), BaseException | Warning)
        )
    }
    assert sorted(public - set(NAMES) - NOT_YET) == []
    assert sorted((set(NAMES) | NOT_YET) - public) == []  # nothing named here that is not public
