"""The :class:`Sandbox`: a seeded world, its task store, a clock and a loopback server, put together.

>>> with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen") as sandbox:
...     [a.name for a in sandbox.accounts], sandbox.endpoint.startswith("http://127.0.0.1:")
(['demo-shop', 'demo-media', 'demo-games'], True)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from usagekit.accounts import Account
from usagekit.sandbox.api import ACTIONS, Api, ListingShape
from usagekit.sandbox.billed import Bills, apply_bill_types, parse_drift
from usagekit.sandbox.bss import ACTION as BSS_ACTION
from usagekit.sandbox.bss import BSS_ACTIONS, BSS_VERSION, InstanceBills
from usagekit.sandbox.clock import SandboxClock
from usagekit.sandbox.exports import ExportFiles
from usagekit.sandbox.faults import Faults
from usagekit.sandbox.presign import Presigner
from usagekit.sandbox.server import LoopbackServer, Service
from usagekit.sandbox.spikes import Spike, spikes_key, with_spikes
from usagekit.sandbox.store import TaskStore
from usagekit.sandbox.truth import Truth
from usagekit.sandbox.verify import Identity, Verifier
from usagekit.sandbox.world import AccountSpec, World, WorldParams, account_identity, build_world, stable_rng

__all__ = ["Sandbox", "demo_accounts", "seed_from_env"]

API_VERSION = "2018-05-10"


def seed_from_env(seed: int | None = None) -> int:
    """``seed`` when given, else ``USAGEKIT_SANDBOX_SEED``, else 0.

    >>> seed_from_env(5)
    5
    """
    if seed is not None:
        return int(seed)
    text = os.environ.get("USAGEKIT_SANDBOX_SEED", "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"USAGEKIT_SANDBOX_SEED must be a whole number, not {text!r}") from None


def demo_accounts(seed: int = 0, *, endpoint: str, accounts: int = 3) -> list[Account]:
    """The demo accounts a sandbox with ``seed`` exposes, pointed at ``endpoint``, without starting one.

    >>> [a.name for a in demo_accounts(7, endpoint="http://127.0.0.1:8080")]
    ['demo-shop', 'demo-media', 'demo-games']
    """
    result = []
    for index in range(accounts):
        name, key_id, secret, token = account_identity(seed, index)
        result.append(
            Account(name, key_id, secret, security_token=token, endpoint=endpoint, source="sandbox")
        )
    return result


def _check_options(
    clock: str, page_size_over_50: str, task_delay: float, file_ttl: float, port: int, faults: Any
) -> None:
    """Refuse a bad :class:`Sandbox` option before anything is built."""
    if clock not in ("real", "frozen"):
        raise ValueError(f'clock must be "real" or "frozen", not {clock!r}')
    if page_size_over_50 not in ("reject", "clamp"):
        raise ValueError(f'page_size_over_50 must be "reject" or "clamp", not {page_size_over_50!r}')
    if task_delay < 0 or file_ttl <= 0:
        raise ValueError("task_delay must be >= 0 and file_ttl > 0 (seconds of sandbox time)")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port}")
    if faults is not None and not isinstance(faults, Faults):
        raise TypeError("faults must be a usagekit.sandbox.Faults")


def _files_key(seed: int) -> str:
    """The access key id the export files are presigned with: the same for every run of a seed."""
    return "LTAI" + "".join(stable_rng(seed, "files-key").choices("abcdefghijkmnpqrstuvwxyz23456789", k=20))


def _world(params: WorldParams, spikes: Sequence[Spike], bill_types: Mapping[str, str] | None) -> World:
    """The seeded world with its spikes (before the bill: a spike is real traffic) and billing methods."""
    return apply_bill_types(with_spikes(build_world(params), spikes), bill_types)


class Sandbox:
    """A local HTTP server on 127.0.0.1 speaking the CDN usage-export API over a seeded world.

    ``seed`` and ``now`` (aware datetime or ISO-8601 text; the sandbox time at start) default to
    ``USAGEKIT_SANDBOX_SEED`` / ``USAGEKIT_SANDBOX_NOW``, else 0 and the real time. ``clock="real"``
    lets sandbox time follow the real clock, ``"frozen"`` holds it until :meth:`advance`. ``tasks`` is
    the number of tasks per account AND kind; ``domains`` the (min, max) per account; ``window_days``
    the (min, max) length of seeded whole-day windows. New tasks finish ``task_delay`` seconds of
    sandbox time after creation; download URLs live ``file_ttl`` seconds. ``faults`` (a :class:`Faults`)
    injects errors; ``page_size_over_50`` is ``"reject"`` (``InvalidParameter``) or ``"clamp"``.

    What the sandbox bills (``DescribeCdnUserBillType``, ``DescribeCdnUserBillHistory``,
    ``DescribeCdnUserBillPrediction``; rules in :mod:`usagekit.sandbox.billed`) is computed from its own
    usage. ``bill_types`` (``{"demo-shop": "day_bandwidth"}``) puts accounts on a ``BillType`` (otherwise
    seeded), for all three alike. ``bill_drift`` makes the billing side see other usage than the exports
    carry (the sandbox's assumption of how a real bill can differ): ``{"demo-media": 1.05}`` scales every
    point of an account, ``{("demo-shop", "2026-10-12"): 1.5}`` one Beijing day; exports and
    ``truth.usage`` stay as they are, ``truth.billed(account, method, period)`` gives what was billed.
    ``spikes`` (:class:`~usagekit.sandbox.spikes.Spike` values) multiply a domain's usage for some hours,
    in the exports, the truth and the bill alike.

    The bill in money (BssOpenApi ``DescribeInstanceBill``, rules in :mod:`usagekit.sandbox.bss`) is what
    was billed through a contract price table: ``prices`` (a frame or CSV like usagekit's price tables;
    default the shipped example table); ``bill_split`` lines per charge. ``instance_bills`` holds them.

    A context manager; also :meth:`start` / :meth:`stop`. ``truth`` holds what the sandbox holds now.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        now: datetime | str | None = None,
        clock: str = "real",
        accounts: int = 3,
        tasks: int = 40,
        domains: tuple[int, int] = (3, 8),
        task_delay: float = 2.0,
        file_ttl: float = 900,
        faults: Faults | None = None,
        port: int = 0,
        page_size_over_50: str = "reject",
        window_days: tuple[int, int] = (1, 31),
        bill_types: Mapping[str, str] | None = None,
        bill_drift: Mapping[Any, float] | None = None,
        spikes: Sequence[Spike] = (),
        prices: Any = None,
        bill_split: int = 1,
    ) -> None:
        _check_options(clock, page_size_over_50, task_delay, file_ttl, port, faults)
        self.seed = seed_from_env(seed)
        self._clock = SandboxClock(now, frozen=clock == "frozen")
        params = WorldParams(
            seed=self.seed,
            now=self._clock.start,
            accounts=accounts,
            tasks=tasks,
            domains=tuple(domains),  # type: ignore[arg-type]
            window_days=tuple(window_days),  # type: ignore[arg-type]
        )
        self.world: World = _world(params, spikes, bill_types)
        self._bills = Bills(
            self.world,
            lambda name, start, end, types: self.truth.usage_over(name, start, end, types=types),
            now=self._clock.timestamp,
            drift=parse_drift(self.world, bill_drift),
        )
        self.faults = faults or Faults()
        self.file_ttl = float(file_ttl)
        self.port_requested = port
        self._store = TaskStore(self.world, task_delay=task_delay, faults=self.faults)
        self._presigner = Presigner(secrets.token_bytes(32), _files_key(self.seed), ttl=self.file_ttl)
        shape = ListingShape(
            odd_shapes=self.faults.odd_shapes,
            insert_task_after_page=self.faults.insert_task_after_page,
            page_size_over_50=page_size_over_50,
        )
        self._api = Api(
            self.world,
            self._store,
            self._presigner,
            now=self._clock.timestamp,
            endpoint=lambda: self.endpoint,
            shape=shape,
            bills=self._bills,
        )
        self.truth = Truth(
            self.world,
            self._store,
            now=self._clock.timestamp,
            endpoint=lambda: self.endpoint,
            period=self._api.period,
            bills=self._bills,
        )
        #: BssOpenApi's bill lines in money (usagekit.sandbox.bss), on the same server
        self.instance_bills = InstanceBills(
            self.world,
            lambda name, start, end: self._bills.history(name, start, end),
            now=self._clock.timestamp,
            prices=prices,
            split=bill_split,
            secret=secrets.token_bytes(32),
        )
        self._api.handlers[BSS_ACTION] = self.instance_bills.handle
        self._service = self._make_service(spikes)
        self._server: LoopbackServer | None = None

    def _make_service(self, spikes: Sequence[Spike]) -> Service:
        """The service behind the HTTP server: it verifies each request's signature and answers it."""
        identities = {
            spec.access_key_id: Identity(
                spec.name, spec.access_key_id, spec.access_key_secret, spec.security_token
            )
            for spec in self.world.accounts
        }
        return Service(
            seed=self.seed,
            clock=self._clock,
            verifier=Verifier(
                identities, actions=ACTIONS, version=API_VERSION, products={BSS_VERSION: BSS_ACTIONS}
            ),
            api=self._api,
            store=self._store,
            presigner=self._presigner,
            exports=ExportFiles(self.truth, world_key=spikes_key(self.world.params.key, spikes)),
            faults=self.faults,
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving on 127.0.0.1 (idempotent); returns the sandbox."""
        if self._server is None:
            server = LoopbackServer(self._service, self.port_requested)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Stop serving: close every connection and join every thread (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server is up."""
        return self._server is not None

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "stopped"
        return f"Sandbox(seed={self.seed}, now={self.now:%Y-%m-%dT%H:%M:%SZ}, accounts={len(self.world.accounts)}, {where})"

    # --- what clients need ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._server is None:
            raise RuntimeError(
                "the sandbox is not running: use `with Sandbox(...) as sandbox:` or call start()"
            )
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def accounts(self) -> list[Account]:
        """The demo accounts (endpoint set to this sandbox, ``source="sandbox"``)."""
        return [spec.account(self.endpoint) for spec in self.world.accounts]

    def account_spec(self, name: str) -> AccountSpec:
        """The seeded details of account ``name``: domains, billing regions (KeyError when unknown)."""
        return self.world.account(name)

    @property
    def now(self) -> datetime:
        """Sandbox time now (aware UTC)."""
        return self._clock.now()

    def advance(self, seconds: float) -> None:
        """Move a frozen sandbox clock forward (RuntimeError with ``clock="real"``)."""
        self._clock.advance(seconds)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every API call and download answered so far, oldest first, as plain dicts without secrets.

        Keys: ``time`` (sandbox time), ``account``, ``action`` (``download`` for files), ``params``
        (API parameters; for downloads the path and any Range), ``status``, ``code`` (error code or None),
        ``fault`` (the fault injected, or None), and ``style`` (``v2``/``v3``) for verified API calls.
        """
        return self._service.records

    @property
    def internal_errors(self) -> list[dict[str, Any]]:
        """Exceptions of the sandbox's own code it answered as 500 ``InternalError``, oldest first.

        A client retries a 500, so such a bug would otherwise hide; the test suite fails a test during
        which one happened. Keys: ``n``, ``time``, ``method``, ``path`` (no query), ``error`` (type),
        ``message``, ``traceback``. Injected ``error500`` faults are not internal errors.
        """
        return self._service.internal_errors
