"""The six CDN usage-export actions and ``DescribeCdnUserBillType``, as the sandbox answers them.

Parameters in, a JSON body out.

No HTTP and no signatures here (see :mod:`usagekit.sandbox.server` and :mod:`usagekit.sandbox.verify`):
:meth:`Api.handle` takes an authenticated account, an action and its parameters, and returns the reply
body without ``RequestId``, or raises :class:`~usagekit.sandbox.verify.Rejection`.

The sandbox's own rules where the service's are unknown:

* ``PageSize`` 1..50 (default 20; above 50 refused with ``InvalidParameter``, or capped with
  ``page_size_over_50="clamp"``), ``PageNumber`` 1..100000 (default 1); a page past the end is empty and
  still carries the true ``TotalCount``. Newest ``CreateTime`` first.
* Create: ``MissingTimeParameter``, ``InvalidStartTime.Malformed`` / ``InvalidEndTime.Malformed``,
  ``InvalidTimeRange`` (end not after start, or more than 31 days), ``InvalidStartTime.ValueNotSupported``
  (start over a year back, or in the future), ``InvalidParameter`` (missing or unknown ``Type``, a domain
  that is not the account's, an unknown ``Language``). ``Group`` exports every domain, per domain.
* Delete: a missing ``TaskId`` is ``MissingParameter``; an id the account does not hold (of that kind)
  is ``InvalidParameter``. Deleting a running task is allowed.
* ``DescribeCdnUserBillType``: ``StartTime`` and ``EndTime`` as for create (the same error codes), at
  most 31 days apart, the start not in the future. One ``BillTypeDataItem`` for the window asked, with
  the account's seeded method (:func:`usagekit.sandbox.world.bill_type`), ``Product`` ``cdn``,
  ``BillingCycle`` ``hour`` / ``day`` / ``month`` and ``Dimension`` ``flow`` (as the service's own
  example shows for a bandwidth method; ``vas`` for ``hour_count``).
* ``DescribeCdnUserBillHistory``: ``StartTime`` and ``EndTime`` as for ``DescribeCdnUserBillType`` (the
  same codes, at most 31 days), the start within the last year. ``DescribeCdnUserBillPrediction``:
  optional times, checked when given. Replies: :mod:`usagekit.sandbox.billapi`; quantities:
  :mod:`usagekit.sandbox.billed`.
* ``DescribeUserDomains``: the account's domains, paged (see :mod:`usagekit.sandbox.domains`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from usagekit.sandbox.billapi import history_reply, prediction_reply
from usagekit.sandbox.billed import Bills
from usagekit.sandbox.billrules import cycle_of, dimension_of
from usagekit.sandbox.clock import format_time, parse_time
from usagekit.sandbox.domains import ACTION as USER_DOMAINS
from usagekit.sandbox.domains import describe_user_domains
from usagekit.sandbox.faults import ODD_SHAPES
from usagekit.sandbox.presign import Presigner
from usagekit.sandbox.store import TaskStore
from usagekit.sandbox.verify import Rejection
from usagekit.sandbox.world import BEIJING_OFFSET, DAY, Task, World

__all__ = ["ACTIONS", "BILL_TYPE", "KIND_OF", "Api", "ListingShape"]

LIST_SUMMARY = "DescribeUserUsageDataExportTask"
LIST_DETAIL = "DescribeUserUsageDetailDataExportTask"
CREATE_SUMMARY = "CreateUserUsageDataExportTask"
CREATE_DETAIL = "CreateUsageDetailDataExportTask"
DELETE_SUMMARY = "DeleteUserUsageDataExportTask"
DELETE_DETAIL = "DeleteUsageDetailDataExportTask"
#: every action the sandbox answers, with the task kind it concerns
KIND_OF = {
    LIST_SUMMARY: "summary",
    LIST_DETAIL: "detail",
    CREATE_SUMMARY: "summary",
    CREATE_DETAIL: "detail",
    DELETE_SUMMARY: "summary",
    DELETE_DETAIL: "detail",
}
BILL_TYPE = "DescribeCdnUserBillType"
BILL_HISTORY = "DescribeCdnUserBillHistory"  # answered in usagekit.sandbox.billapi
BILL_PREDICTION = "DescribeCdnUserBillPrediction"
ACTIONS = frozenset(KIND_OF) | {BILL_TYPE, USER_DOMAINS, BILL_HISTORY, BILL_PREDICTION}
LISTINGS = frozenset({LIST_SUMMARY, LIST_DETAIL})
LANGUAGES = ("zh-cn", "en-us")
_YEAR = 365 * DAY
_MAX_WINDOW = 31 * DAY


@dataclass(frozen=True)
class ListingShape:
    """How listings deviate from the reference's shape (faults): see ``Faults.odd_shapes``."""

    odd_shapes: frozenset[str] = frozenset()
    insert_task_after_page: int | None = None
    page_size_over_50: str = "reject"
    inserted: set[tuple[str, str]] = field(default_factory=set, compare=False)


def _paging(params: dict[str, str], name: str, default: int, high: int, clamp: bool) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not (text.strip().isascii() and text.strip().isdigit()):  # "²".isdigit() is true, int() refuses
        raise Rejection(
            "InvalidParameter", 400, f"The specified parameter {name} {text!r} is not a whole number."
        )
    value = int(text)
    if value < 1:
        raise Rejection("InvalidParameter", 400, f"The specified parameter {name} must be at least 1.")
    if value > high:
        if clamp:
            return high
        raise Rejection("InvalidParameter", 400, f"The specified parameter {name} must be at most {high}.")
    return value


def _period(start: int, end_exclusive: int) -> str:
    first = datetime.fromtimestamp(start + BEIJING_OFFSET, UTC).date()
    last = datetime.fromtimestamp(end_exclusive - 1 + BEIJING_OFFSET, UTC).date()
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


class Api:
    """Answers the actions over a :class:`~usagekit.sandbox.store.TaskStore`.

    ``now`` gives sandbox time (epoch seconds) and ``endpoint`` the server's base URL for download links.
    """

    def __init__(
        self,
        world: World,
        store: TaskStore,
        presigner: Presigner,
        *,
        now: Callable[[], float],
        endpoint: Callable[[], str],
        shape: ListingShape | None = None,
        bills: Bills | None = None,
    ) -> None:
        self.world = world
        self.store = store
        self.presigner = presigner
        self.now = now
        self.endpoint = endpoint
        self.shape = shape or ListingShape()
        self.bills = bills
        #: actions of other products answered on this server (BssOpenApi's, see usagekit.sandbox.bss)
        self.handlers: dict[str, Callable[[str, dict[str, str]], dict[str, Any]]] = {}
        unknown = set(self.shape.odd_shapes) - ODD_SHAPES
        if unknown:
            raise ValueError(f"unknown odd_shapes {sorted(unknown)}; choose from {sorted(ODD_SHAPES)}")
        self._insert_lock = threading.Lock()

    def handle(self, account: str, action: str, params: dict[str, str]) -> dict[str, Any]:
        """The reply body (without ``RequestId``) of ``action`` for ``account``; raises Rejection."""
        if action in self.handlers:
            return self.handlers[action](account, params)
        if action == BILL_TYPE:
            return self._bill_type(account, params)
        if action in (BILL_HISTORY, BILL_PREDICTION) and self.bills is not None:
            return self._billed(account, action, params, self.bills)
        if action == USER_DOMAINS:  # see usagekit.sandbox.domains
            return describe_user_domains(self.world.params.seed, self.world.account(account), params)
        kind = KIND_OF.get(action)
        if kind is None:
            raise Rejection("InvalidAction.NotFound", 404, f"Specified api {action!r} is not found.")
        if action in LISTINGS:
            return self._list(account, kind, params)
        if action in (CREATE_SUMMARY, CREATE_DETAIL):
            return self._create(account, kind, params)
        return self._delete(account, kind, params)

    # --- listings ------------------------------------------------------------------------------------

    def file_path(self, task: Task) -> str:
        """The path of a task's export file on the sandbox (``/files/<id>.<xlsx|pdf>``)."""
        return f"/files/{task.task_id}.{task.file_extension}"

    def item(self, task: Task, now: float) -> dict[str, Any]:
        """One ``DataItem`` of a listing as of sandbox ``now`` (with a freshly signed URL on success)."""
        status = task.status(now)
        url = (
            self.presigner.url(self.endpoint(), self.file_path(task), now=now) if status == "success" else ""
        )
        odd = self.shape.odd_shapes
        item: dict[str, Any] = {
            "TaskId": int(task.task_id) if "numeric_task_id" in odd else task.task_id,
            "TaskName": task.name,
            "Status": status,
            "CreateTime": format_time(task.created),
            "UpdateTime": format_time(task.updated(now)),
        }
        if "missing_download_url" not in odd:
            item["DownloadUrl"] = url
        if "missing_task_config" not in odd:
            item["TaskConfig"] = {
                "StartTime": format_time(task.window_start),
                "EndTime": format_time(task.window_end),
            }
        return item

    def _list(self, account: str, kind: str, params: dict[str, str]) -> dict[str, Any]:
        clamp = self.shape.page_size_over_50 == "clamp"
        size = _paging(params, "PageSize", 20, 50, clamp)
        number = _paging(params, "PageNumber", 1, 100_000, False)
        now = self.now()
        tasks = self.store.visible(account, kind, now=now)
        page = tasks[(number - 1) * size : number * size]
        items: Any = [self.item(t, now) for t in page]
        odd = self.shape.odd_shapes
        if "single_item" in odd and len(items) == 1:
            items = items[0]
        data: dict[str, Any] = {"DataItem": items}
        if "empty_data" in odd and not page:
            data = {}
        numbers: list[Any] = [number, size, len(tasks)]
        if "string_total_count" in odd:
            numbers = [str(n) for n in numbers]
        self._maybe_insert(account, kind, number)
        return {
            "UsageDataPerPage": {
                "PageNumber": numbers[0],
                "PageSize": numbers[1],
                "TotalCount": numbers[2],
                "Data": data,
            }
        }

    def _maybe_insert(self, account: str, kind: str, number: int) -> None:
        if self.shape.insert_task_after_page != number:
            return
        with self._insert_lock:
            if (account, kind) in self.shape.inserted:
                return
            self.shape.inserted.add((account, kind))
        now = self.now()
        day_start = int((now + BEIJING_OFFSET) // DAY * DAY - BEIJING_OFFSET)
        self.store.create(
            account=account,
            kind=kind,
            name="inserted while listing",
            window_start=day_start - DAY,
            window_end=day_start - 1,
            language="zh-cn",
            now=now,
            type="flow" if kind == "detail" else None,
            domains="all" if kind == "detail" else None,
        )

    # --- create and delete ---------------------------------------------------------------------------

    @staticmethod
    def _times(params: dict[str, str], too_long: str) -> tuple[int, int]:
        """``StartTime`` and ``EndTime`` as epoch seconds: present, well formed, in order, <= 31 days."""
        start_text, end_text = params.get("StartTime"), params.get("EndTime")
        if not start_text or not end_text:
            missing = "StartTime" if not start_text else "EndTime"
            raise Rejection(
                "MissingTimeParameter", 400, f"The {missing} parameter is mandatory for this action."
            )
        start, end = parse_time(start_text), parse_time(end_text)
        if start is None:
            raise Rejection(
                "InvalidStartTime.Malformed", 400, f"StartTime {start_text!r} is not yyyy-MM-ddTHH:mm:ssZ."
            )
        if end is None:
            raise Rejection(
                "InvalidEndTime.Malformed", 400, f"EndTime {end_text!r} is not yyyy-MM-ddTHH:mm:ssZ."
            )
        first, last = int(start.timestamp()), int(end.timestamp())
        if last <= first:
            raise Rejection("InvalidTimeRange", 400, "EndTime must be later than StartTime.")
        exclusive = last + 1 if last % 60 == 59 else last
        if exclusive - first > _MAX_WINDOW:
            raise Rejection("InvalidTimeRange", 400, too_long)
        return first, last

    def _window(self, params: dict[str, str], now: float) -> tuple[int, int]:
        first, last = self._times(params, "A task exports at most 31 days: split the window.")
        if first < now - _YEAR or first > now:
            raise Rejection(
                "InvalidStartTime.ValueNotSupported",
                400,
                "StartTime must lie within the last year, and not in the future.",
            )
        return first, last

    def _language(self, params: dict[str, str]) -> str:
        language = (params.get("Language") or "zh-cn").lower()
        if language not in LANGUAGES:
            raise Rejection(
                "InvalidParameter", 400, f"Language must be zh-cn or en-us, not {params['Language']!r}."
            )
        return language

    def _create(self, account: str, kind: str, params: dict[str, str]) -> dict[str, Any]:
        now = self.now()
        start, end = self._window(params, now)
        language = self._language(params)
        extra: dict[str, Any] = {}
        if kind == "detail":
            type_ = params.get("Type")
            if type_ not in ("flow", "vas"):
                raise Rejection("InvalidParameter", 400, f"Type must be flow or vas, not {type_!r}.")
            spec = self.world.account(account)
            names = tuple(n.strip() for n in (params.get("DomainNames") or "").split(",") if n.strip())
            unknown = [n for n in names if n not in spec.domain_names]
            if unknown:
                raise Rejection(
                    "InvalidParameter",
                    400,
                    f"DomainNames holds domains this account does not have: {unknown}.",
                )
            if params.get("Group"):
                names = spec.domain_names
            scope = "some" if names else "all"
            extra = {"type": type_, "domains": scope, "domain_names": tuple(sorted(set(names)))}
        task = self.store.create(
            account=account,
            kind=kind,
            name=params.get("TaskName") or "",
            window_start=start,
            window_end=end,
            language=language,
            now=now,
            **extra,
        )
        return {"StartTime": format_time(start), "EndTime": format_time(end), "TaskId": task.task_id}

    def _delete(self, account: str, kind: str, params: dict[str, str]) -> dict[str, Any]:
        task_id = (params.get("TaskId") or "").strip()
        if not task_id:
            raise Rejection("MissingParameter", 400, "The TaskId parameter is mandatory for this action.")
        try:
            self.store.delete(account, kind, task_id)
        except KeyError:
            raise Rejection(
                "InvalidParameter",
                400,
                f"The specified TaskId {task_id!r} does not exist in this account's {kind} exports.",
            ) from None
        return {}

    # --- the billing method --------------------------------------------------------------------------

    def _bill_type(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        first, last = self._times(params, "The time range spans at most one month (31 days): split it.")
        if first > self.now():
            raise Rejection(
                "InvalidStartTime.ValueNotSupported", 400, "StartTime must not lie in the future."
            )
        method = self.world.account(account).bill_type
        item = {
            "StartTime": format_time(first),
            "EndTime": format_time(last),
            "Product": "cdn",
            "BillType": method,
            "BillingCycle": cycle_of(method),
            "Dimension": dimension_of(method),
        }
        return {"BillTypeData": {"BillTypeDataItem": [item]}}

    def _billed(self, account: str, action: str, params: dict[str, str], bills: Bills) -> dict[str, Any]:
        """The bill history (31 days at most, reaching back a year) or the month's prediction."""
        if action == BILL_PREDICTION:
            for name, code in (
                ("StartTime", "InvalidStartTime.Malformed"),
                ("EndTime", "InvalidEndTime.Malformed"),
            ):
                if params.get(name) and parse_time(params[name]) is None:
                    raise Rejection(code, 400, f"{name} {params[name]!r} is not yyyy-MM-ddTHH:mm:ssZ.")
            if params.get("StartTime") and params.get("EndTime"):
                self._times(params, "The time range spans at most one month (31 days): split it.")
            return prediction_reply(bills, account, params)
        first, last = self._times(params, "The time range spans at most one month (31 days): split it.")
        if first < self.now() - _YEAR or first > self.now():
            raise Rejection(
                "InvalidStartTime.ValueNotSupported",
                400,
                "StartTime must lie within the last year, and not in the future.",
            )
        return history_reply(bills, account, first, last + 1 if last % 60 == 59 else last)

    def period(self, task: Task) -> str:
        """The billing period text of a summary export (Beijing dates)."""
        end = task.window_end + 1 if task.window_end % 60 == 59 else task.window_end
        return _period(task.window_start, end)
