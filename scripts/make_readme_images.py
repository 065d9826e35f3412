"""Regenerate the README's plot images from the sandbox: ``python scripts/make_readme_images.py``.

It starts a sandbox (seed 7, frozen at 2026-11-20T08:00:00Z, the test suite's world), lists every
export task of its demo accounts, reads the successful detail exports and writes, into
``docs/images/`` (or the folder given as the first argument):

- ``timeline.png``: ``plot_timeline(tasks, tz="Asia/Shanghai")``, export windows and their gaps;
- ``runs.png``: ``plot_timeline(tasks, view="runs")``, when each export ran;
- ``usage.png``: ``plot_usage(usage, metric="traffic", freq="1D", tz="Asia/Shanghai")``, daily traffic;
- ``bandwidth.png``: ``plot_usage(usage, metric="bandwidth", freq="1D", tz="Asia/Shanghai")``, daily peaks;
- ``bill_check.png``: ``plot_bill_check(check_bill(...), "demo-media")`` of October in a sandbox (seed 0) whose
  billing side sees demo-media's 12 October 1.5 times as high as the exports (``bill_drift``), the month's
  days exported by account where none covers them (as ``notebooks/billcheck.ipynb`` does).

The same seed and ``now`` give the same images, so a change in them is a change in the plots.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import usagekit
from usagekit.reconcile import OverlapWarning

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
NOW = "2026-11-20T08:00:00Z"
ACCOUNT = "demo-games"


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    with (
        usagekit.Sandbox(seed=SEED, now=NOW, clock="frozen") as sandbox,
        tempfile.TemporaryDirectory(prefix="usagekit-images-") as cache,
    ):
        tasks = usagekit.list_tasks(sandbox.accounts, progress=False)
        # list_tasks keeps the real time of the listing; the frozen sandbox's own time keeps the image
        # of running tasks the same from run to run
        tasks.attrs["listed_at"] = NOW
        done = tasks[(tasks.kind == "detail") & (tasks.status == "success") & (tasks.account == ACCOUNT)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverlapWarning)
            frame = usagekit.usage(done, progress=False, cache_dir=cache)

    figures = {
        "timeline.png": usagekit.plot_timeline(tasks, tz="Asia/Shanghai"),
        "runs.png": usagekit.plot_timeline(tasks[tasks.account == ACCOUNT], view="runs"),
        "usage.png": usagekit.plot_usage(frame, metric="traffic", freq="1D", tz="Asia/Shanghai"),
        "bandwidth.png": usagekit.plot_usage(frame, metric="bandwidth", freq="1D", tz="Asia/Shanghai"),
    }
    figures["bill_check.png"] = bill_check_axes()
    for name, ax in figures.items():
        path = folder / name
        ax.figure.savefig(path, dpi=90, metadata={"Software": None})
        print(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size:,} bytes"
        )
    return 0


def bill_check_axes() -> object:
    """The bill check of October for demo-media, a drift planted on one day."""
    from usagekit.billusage import month_usage
    from usagekit.sandbox import Faults

    with (
        usagekit.Sandbox(
            seed=0,
            now=NOW,
            task_delay=0.5,
            faults=Faults(failed_exports=0),
            bill_types={"demo-media": "day_bandwidth"},
            bill_drift={("demo-media", "2026-10-12"): 1.5},
        ) as sandbox,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", OverlapWarning)
        media = [a for a in sandbox.accounts if a.name == "demo-media"]
        frame = month_usage(media, "2026-10", create=True)
        check = usagekit.check_bill(frame, media, month="2026-10")
    return usagekit.plot_bill_check(check, "demo-media")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
