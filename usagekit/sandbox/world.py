"""The sandbox's seeded world: accounts with keys, domains and billing regions, and a task history.

Pure and deterministic, no HTTP. The world is fixed on the calendar: accounts, keys, domains and every
finished task (its id, times, window, name, type and domains) are functions of the seed, the size and
absolute dates, each task drawn from its own calendar slot; ``now`` decides only which tasks exist yet
(the ``tasks - 1`` newest that finished at least :data:`SETTLED` before it) and places the one task of
each account and kind still running (created 5 to 40 minutes before ``now``). So ``tasks`` tasks of
each kind are visible at any ``now``, and two sandboxes started minutes apart share nearly all tasks,
with equal ids and equal usage. Usage numbers live in :mod:`usagekit.sandbox.usage`; the task
lifecycle after start lives in :mod:`usagekit.sandbox.store`.

The seeded history is settled: every task either finished before ``now`` or finishes more than an hour
after it, so nothing changes state within the first hour of sandbox time.

>>> from datetime import datetime, timezone
>>> world = build_world(WorldParams(seed=7, now=datetime(2026, 11, 20, 8, tzinfo=timezone.utc)))
>>> [a.name for a in world.accounts]
['demo-shop', 'demo-media', 'demo-games']
>>> world.accounts[0].access_key_id.startswith("LTAI"), len(world.accounts[0].access_key_id)
(True, 24)
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime

from usagekit.accounts import Account
from usagekit.frames import TaskTag, format_task_tag

__all__ = [
    "BILL_TYPES",
    "MULTI_REGIONS",
    "AccountSpec",
    "DomainSpec",
    "Task",
    "World",
    "WorldParams",
    "account_identity",
    "bill_type",
    "build_world",
    "stable_rng",
    "stable_uniform",
]

DAY = 86_400
HOUR = 3_600
BEIJING_OFFSET = 8 * HOUR
#: how far back the seeded (visible) history reaches: inside three calendar months whatever ``now`` is
HISTORY_DAYS = 88
MULTI_REGIONS = ("CN", "AP1", "EU", "NA")

_ACCOUNT_WORDS = (
    "shop", "media", "games", "news", "video", "music", "travel", "sports", "learn", "health",
    "food", "maps", "books", "art", "auto", "home", "bank", "chat", "photo", "cloud",
)  # fmt: skip
_SUBDOMAINS = (
    "www", "img", "static", "cdn", "video", "api", "dl", "m", "assets", "live", "files", "media",
    "pic", "js", "css", "download", "stream", "app", "blog", "shop", "news", "fonts", "data", "up",
)  # fmt: skip
_USER_NAMES = ("weekly check", "march report", "capacity review", "月度对账", "账单核对", "peak hunt")
_ALNUM = string.ascii_letters + string.digits


def stable_rng(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``parts`` (stable across processes, unlike ``hash``)."""
    return random.Random("usagekit-sandbox|" + "|".join(map(str, parts)))


def stable_uniform(*parts: object) -> float:
    """A uniform number in [0, 1) that is a pure function of ``parts`` (blake2b).

    >>> stable_uniform(7, "x") == stable_uniform(7, "x") != stable_uniform(8, "x")
    True
    """
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class WorldParams:
    """What decides a world: the seed, the sandbox time at start and the size."""

    seed: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    accounts: int = 3
    tasks: int = 40
    domains: tuple[int, int] = (3, 8)
    window_days: tuple[int, int] = (1, 31)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("WorldParams.now must be an aware datetime")
        if not 1 <= self.accounts <= 1000:
            raise ValueError(f"accounts must be between 1 and 1000, not {self.accounts}")
        if not 0 <= self.tasks <= 10_000:
            raise ValueError(f"tasks (per account and kind) must be between 0 and 10000, not {self.tasks}")
        low, high = self.domains
        if not 1 <= low <= high <= 500:
            raise ValueError(f"domains must be (min, max) with 1 <= min <= max <= 500, not {self.domains}")
        low, high = self.window_days
        if not 1 <= low <= high <= 31:
            raise ValueError(
                f"window_days must be (min, max) with 1 <= min <= max <= 31, not {self.window_days}"
            )

    @property
    def key(self) -> str:
        """A short hash naming this world's calendar (for caches of generated files; ``now`` is no part)."""
        text = f"{self.seed}|{self.accounts}|{self.tasks}|{self.domains}|{self.window_days}"
        return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass(frozen=True)
class DomainSpec:
    """One accelerated domain of an account; an idle one has no traffic and no requests at all."""

    name: str
    idle: bool = False


@dataclass(frozen=True)
class AccountSpec:
    """A demo account: identity, credentials, billing regions and domains."""

    index: int
    name: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    regions: tuple[str, ...] = ("CN",)
    domains: tuple[DomainSpec, ...] = ()
    #: the billing method (``BillType``) ``DescribeCdnUserBillType`` reports, seeded (see :func:`bill_type`)
    bill_type: str = "hour_flow"

    @property
    def domain_names(self) -> tuple[str, ...]:
        """The account's domain names, in the account's order."""
        return tuple(d.name for d in self.domains)

    def account(self, endpoint: str | None) -> Account:
        """The :class:`~usagekit.accounts.Account` a client uses for this demo account."""
        return Account(
            self.name,
            self.access_key_id,
            self.access_key_secret,
            security_token=self.security_token,
            endpoint=endpoint,
            source="sandbox",
        )


@dataclass(frozen=True)
class Task:
    """One export task as the sandbox holds it (times are epoch seconds, UTC).

    ``window_end`` is ``TaskConfig.EndTime`` as given (inclusive when it ends at second 59).
    ``completes`` is when the task leaves ``created`` for ``outcome`` (``success`` or ``failed``).
    Detail tasks know their ``type`` (flow/vas), ``domains`` (all/some) and ``domain_names``.
    """

    task_id: str
    account: str
    kind: str
    name: str
    created: int
    window_start: int
    window_end: int
    completes: float
    outcome: str
    language: str = "zh-cn"
    type: str | None = None
    domains: str | None = None
    domain_names: tuple[str, ...] = ()

    def status(self, now: float) -> str:
        """``created`` until ``completes``, then ``outcome``."""
        return self.outcome if now >= self.completes else "created"

    def updated(self, now: float) -> int:
        """``UpdateTime``: the creation until the task finishes, then the (whole) second it finished."""
        return int(self.completes) if now >= self.completes else self.created

    @property
    def file_extension(self) -> str:
        """``xlsx`` for a detail export, ``pdf`` for a summary."""
        return "xlsx" if self.kind == "detail" else "pdf"


@dataclass(frozen=True)
class World:
    """The seeded accounts and their task history (visible and older than three months)."""

    params: WorldParams
    accounts: tuple[AccountSpec, ...]
    tasks: tuple[Task, ...]

    def account(self, name: str) -> AccountSpec:
        """The account named ``name`` (KeyError when there is none)."""
        for spec in self.accounts:
            if spec.name == name:
                return spec
        raise KeyError(f"no sandbox account named {name!r}; there are {[a.name for a in self.accounts]}")


def account_identity(seed: int, index: int) -> tuple[str, str, str, str | None]:
    """Name, access key id, secret and STS token (or ``None``) of demo account number ``index``.

    Every fifth account from the second on carries STS credentials.

    >>> account_identity(0, 0)[0], account_identity(0, 1)[3] is not None
    ('demo-shop', True)
    """
    word = _ACCOUNT_WORDS[index % len(_ACCOUNT_WORDS)]
    name = (
        f"demo-{word}" if index < len(_ACCOUNT_WORDS) else f"demo-{word}-{index // len(_ACCOUNT_WORDS) + 1}"
    )
    rng = stable_rng(seed, name, "keys")
    key_id = "LTAI" + "".join(rng.choices(_ALNUM, k=20))
    secret = "".join(rng.choices(_ALNUM, k=30))
    token = "CAIS" + "".join(rng.choices(_ALNUM, k=100)) if index % 5 == 1 else None
    return name, key_id, secret, token


#: the traffic and bandwidth billing methods a demo account can be on (``BillType`` codes)
BILL_TYPES = (
    "hour_flow",
    "day_bandwidth",
    "month_95",
    "month_avg_day_bandwidth",
    "month_4th_day_bandwidth",
    "month_avg_day_95",
    "month_95_night_half",
)


def bill_type(seed: int, name: str, regions: tuple[str, ...]) -> str:
    """The billing method of demo account ``name``: one of :data:`BILL_TYPES`, from the seed.

    An account billed in regions outside the mainland is on the ``_overseas`` form of a monthly method
    half of the time (those regions then billed together).

    >>> bill_type(0, "demo-shop", ("CN",)) in BILL_TYPES
    True
    """
    rng = stable_rng(seed, name, "bill-type")
    method = rng.choice(BILL_TYPES)
    if len(regions) > 1 and method.startswith("month_") and rng.random() < 0.5:
        method += "_overseas"
    return method


def _domains(seed: int, name: str, index: int, size: tuple[int, int]) -> tuple[DomainSpec, ...]:
    rng = stable_rng(seed, name, "domains")
    word = _ACCOUNT_WORDS[index % len(_ACCOUNT_WORDS)]
    zone = f"{word}-demo.example" if index < len(_ACCOUNT_WORDS) else f"{word}{index}-demo.example"
    count = rng.randint(*size)
    pool = list(_SUBDOMAINS) + [f"cdn{n}" for n in range(1, max(0, count - len(_SUBDOMAINS)) + 1)]
    subs = rng.sample(pool, count)
    return tuple(
        DomainSpec(f"{sub}.{zone}", idle=i > 0 and rng.random() < 0.15) for i, sub in enumerate(subs)
    )


def _beijing_day(epoch: int) -> int:
    return (epoch + BEIJING_OFFSET) // DAY


def _day_start(beijing_day: int) -> int:
    """Epoch of 00:00 Beijing time (16:00Z the day before) of a Beijing day number."""
    return beijing_day * DAY - BEIJING_OFFSET


def _whole_days(rng: random.Random, created: int, days: tuple[int, int]) -> tuple[int, int]:
    length = rng.randint(days[0], min(days[1], 31))
    end_day = _beijing_day(created) - rng.randint(1, 10)
    start_day = end_day - length + 1
    return _day_start(start_day), _day_start(end_day + 1) - 1


def _one_hour(rng: random.Random, created: int) -> tuple[int, int]:
    day = created // DAY - rng.randint(1, 5)
    start = day * DAY + rng.randint(0, 23) * HOUR
    return start, start + HOUR


def _calendar_month(created: int) -> tuple[int, int]:
    """The Beijing calendar month before the one ``created`` falls in."""
    local = datetime.fromtimestamp(created + BEIJING_OFFSET, UTC)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    first = datetime(year, month, 1, tzinfo=UTC).timestamp()
    nxt = datetime(local.year, local.month, 1, tzinfo=UTC).timestamp()
    return int(first) - BEIJING_OFFSET, int(nxt) - BEIJING_OFFSET - 1


#: seeded tasks sit in calendar slots counted from here, so where they fall never depends on ``now``
CALENDAR_ORIGIN = 1_735_689_600  # 2025-01-01T00:00:00Z
#: ``tasks`` slots fill this span, so the newest ``tasks - 1`` finished tasks always lie within three
#: calendar months of ``now`` (at least 89 days), an hour of sandbox time later too
SLOT_SPAN = HISTORY_DAYS * DAY - 3 * HOUR
#: a seeded task exists once it finished this long before ``now``; the running one is newer than all
SETTLED = 40 * 60
#: beyond the listing's three months: each account and kind keeps two tasks created this long ago or more
OLD = 100 * DAY
_ID_ORIGIN = 946_684_800  # 2000-01-01T00:00:00Z
_ID_STRIDE = 2_000  # > 2 * the most accounts a world has


def task_id_of(created: int, account_index: int, kind: str) -> str:
    """The id of a seeded task: it grows with ``created`` and is unique per account and kind.

    >>> task_id_of(1_795_161_600, 0, "detail"), task_id_of(1_795_161_600, 1, "summary")
    ('1696953600001', '1696953600002')
    """
    return str((created - _ID_ORIGIN) * _ID_STRIDE + 2 * account_index + (kind == "detail"))


def slot_start(slot: int, tasks: int) -> int:
    """Epoch seconds where calendar slot ``slot`` of a world with ``tasks`` per account and kind begins.

    >>> slot_start(0, 40) == CALENDAR_ORIGIN, slot_start(40, 40) - slot_start(0, 40) == SLOT_SPAN
    (True, True)
    """
    return CALENDAR_ORIGIN + slot * SLOT_SPAN // tasks


def slot_of(moment: int, tasks: int) -> int:
    """The calendar slot that holds ``moment`` (epoch seconds).

    >>> slot_of(slot_start(-3, 7), 7), slot_of(slot_start(5, 7) - 1, 7)
    (-3, 4)
    """
    slot = (moment - CALENDAR_ORIGIN) * tasks // SLOT_SPAN
    while slot_start(slot + 1, tasks) <= moment:
        slot += 1
    while slot_start(slot, tasks) > moment:
        slot -= 1
    return slot


def _own_window(rng: random.Random, kind: str, created: int, params: WorldParams) -> tuple[int, int]:
    """The window a task created at ``created`` exports, drawn from ``rng`` (before ``created``)."""
    if kind == "detail":
        if rng.random() < 0.17:
            return _one_hour(rng, created)
        return _whole_days(rng, created, params.window_days)
    return _calendar_month(created) if rng.random() < 0.5 else _whole_days(rng, created, (1, 31))


def _describe(rng: random.Random, spec: AccountSpec, kind: str, window: tuple[int, int]) -> dict[str, object]:
    """Language, name and (detail exports) type and domains of a task, drawn from ``rng``."""
    row: dict[str, object] = {"language": "zh-cn" if rng.random() < 0.65 else "en-us"}
    day = datetime.fromtimestamp(window[0] + BEIJING_OFFSET, UTC)
    if kind == "summary":
        row["name"] = rng.choice([f"用量汇总 {day:%Y-%m}", f"usage summary {day:%Y-%m-%d}", "月度账单"])
        return row
    type_ = "flow" if rng.random() < 0.6 else "vas"
    names: tuple[str, ...] = ()
    if rng.random() < 0.4:
        names = tuple(sorted(rng.sample(spec.domain_names, rng.randint(1, min(3, len(spec.domains))))))
    scope = "some" if names else "all"
    if rng.random() < 0.8:
        token = "".join(rng.choices(string.digits + string.ascii_lowercase, k=8))
        user = rng.choice(_USER_NAMES) if rng.random() < 0.3 else None
        name = format_task_tag(TaskTag(type_, scope, token, user))
    else:
        label = "流量带宽" if type_ == "flow" else "请求数"
        name = rng.choice([f"{label}明细 {day:%Y-%m-%d}", f"detail export {day:%Y-%m-%d}"])
    row.update(type=type_, domains=scope, domain_names=names, name=name)
    return row


class _Calendar:
    """The seeded tasks of one account and kind, slot by slot: pure functions of the seed and the slot.

    Each slot draws from one generator of its own: first when its task was created and the window it
    would export (its head, kept while a re-export of the next slot may ask for it), then the rest.
    """

    def __init__(self, seed: int, spec: AccountSpec, kind: str, params: WorldParams) -> None:
        self.seed, self.spec, self.kind, self.params = seed, spec, kind, params
        self._heads: dict[int, tuple[int, tuple[int, int], random.Random]] = {}

    def _rng(self, part: str, slot: object) -> random.Random:
        return stable_rng(self.seed, self.spec.name, self.kind, self.params.tasks, part, slot)

    def _head(self, slot: int) -> tuple[int, tuple[int, int], random.Random]:
        head = self._heads.get(slot)
        if head is None:
            rng, tasks = self._rng("slot", slot), self.params.tasks
            created = rng.randrange(slot_start(slot, tasks), slot_start(slot + 1, tasks))
            head = self._heads[slot] = (created, _own_window(rng, self.kind, created, self.params), rng)
        return head

    def task(self, slot: int) -> dict[str, object]:
        """The task of ``slot``: a tenth fail; an eighth of detail exports re-export the slot before's window."""
        created, window, rng = self._head(slot)
        del self._heads[slot]  # its generator goes on below: a slot's task is drawn once
        row: dict[str, object] = {"account": self.spec.name, "kind": self.kind, "created": created}
        row["completes"] = created + rng.randint(15, 600)
        row["outcome"] = "failed" if rng.random() < 0.1 else "success"
        if self.kind == "detail" and rng.random() < 0.12:
            window = self._head(slot - 1)[1]
        row.update(_describe(rng, self.spec, self.kind, window))
        row["window_start"], row["window_end"] = window
        return row

    def running(self, now: int) -> dict[str, object]:
        """The one task still running at ``now``: created 5 to 40 minutes before, done 1 to 4 hours after."""
        day = _beijing_day(now)
        rng = self._rng("running", day)
        created = now - rng.randint(5 * 60, SETTLED)
        row: dict[str, object] = {"account": self.spec.name, "kind": self.kind, "created": created}
        row["completes"] = now + HOUR + rng.randint(10 * 60, 3 * HOUR)
        row["outcome"] = "success"
        window = _own_window(self._rng("running-window", day), self.kind, created, self.params)
        row.update(_describe(rng, self.spec, self.kind, window))
        row["window_start"], row["window_end"] = window
        return row


def _history(world_seed: int, spec: AccountSpec, kind: str, params: WorldParams) -> list[dict[str, object]]:
    """``params.tasks`` visible tasks (the running one and the newest that finished) and two older ones.

    Only the running task depends on ``now``; every other one is its calendar slot's, whatever ``now``.
    """
    if params.tasks == 0:
        return []
    calendar = _Calendar(world_seed, spec, kind, params)
    now = int(params.now.timestamp())
    rows = [calendar.running(now)]
    slot = slot_of(now, params.tasks)
    while len(rows) < params.tasks:
        row = calendar.task(slot)
        if int(row["completes"]) <= now - SETTLED:  # type: ignore[call-overload]
            rows.append(row)
        slot -= 1
    old: list[dict[str, object]] = []
    slot = slot_of(now - OLD, params.tasks)
    while len(old) < 2:
        row = calendar.task(slot)
        if int(row["created"]) <= now - OLD:  # type: ignore[call-overload]
            old.append(row)
        slot -= 1
    return rows + old


def build_world(params: WorldParams) -> World:
    """Generate the accounts and the task history of ``params`` (fast: usage numbers are lazy)."""
    accounts = []
    for index in range(params.accounts):
        name, key_id, secret, token = account_identity(params.seed, index)
        regions = MULTI_REGIONS if index % 5 == 2 else ("CN",)
        domains = _domains(params.seed, name, index, params.domains)
        method = bill_type(params.seed, name, regions)
        accounts.append(AccountSpec(index, name, key_id, secret, token, regions, domains, method))
    rows = [
        row
        for spec in accounts
        for kind in ("summary", "detail")
        for row in _history(params.seed, spec, kind, params)
    ]
    order = {spec.name: spec.index for spec in accounts}
    rows.sort(key=lambda r: (r["created"], order[str(r["account"])], r["kind"]))
    tasks = [
        Task(task_id=task_id_of(int(row["created"]), order[str(row["account"])], str(row["kind"])), **row)  # type: ignore[arg-type, call-overload]
        for row in rows
    ]
    return World(params, tuple(accounts), tuple(tasks))
