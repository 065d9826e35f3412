"""The sandbox: a real local HTTP server speaking the CDN usage-export API over a seeded world.

Use it where there is no cloud account (notebooks, tests, ``usagekit demo``):

>>> from usagekit.sandbox import Sandbox
>>> with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen") as sandbox:
...     frame = sandbox.truth.tasks("demo-shop", "detail")
...     len(frame), sorted(frame["status"].unique())
(40, ['created', 'failed', 'success'])

Modules: ``world`` (seeded accounts, domains, task history), ``usage`` (usage numbers), ``store``
(task lifecycle), ``clock``, ``verify`` (signature checks, independent of ``usagekit.signing``),
``faults``, ``presign`` (download URLs), ``api`` (the six actions), ``server`` (HTTP), ``truth``,
``exports`` and ``files`` (the export files), ``core`` (the :class:`Sandbox`).
"""

from __future__ import annotations

from usagekit.sandbox.core import Sandbox, demo_accounts
from usagekit.sandbox.faults import Faults
from usagekit.sandbox.spikes import Spike

__all__ = ["Faults", "Sandbox", "Spike", "demo_accounts"]
