"""A sync killed at named points, then run again, ends with the dataset an uninterrupted run makes.

A child process runs the sync against the test's sandbox (a real clock, so exports finish while the
child runs). The child script wraps a few seams the sync goes through (the listing, an export created,
the wait, an export file downloaded, a parsed frame cached, a partition's temporary file about to be renamed
over ``part-0.parquet``, a partition written); on the chosen point it prints ``REACHED <point>``,
flushes and blocks, and so does every other thread that comes to a seam after it (nothing moves into
the cache or the dataset past the point). The test reads the child's stdout up to that line, then
kills it (SIGKILL: no cleanup code runs). Every try syncs October and November of two accounts. So every try is killed at a known point whatever the machine's speed, and a try
that never reaches its point fails the test instead of passing unnoticed. After each kill every
partition on disk must be whole and hold only rows its provenance vouches for; then a last run finishes
and equals an uninterrupted sync and the sandbox's truth.

The seams are public functions (``usagekit.listing.list_tasks``, ``usagekit.lifecycle.create_export``
and ``wait``) and the atomic renames themselves (``os.replace`` into the cache or the dataset folder:
the kill comes with the temporary file complete and not yet renamed, or just after the rename), so
they survive a rewrite of the sync's own internals.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from usagekit.dataset import read_dataset, read_manifest, read_partition
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import TYPE_METRICS, sync

NOW = "2026-11-04T08:00:00Z"
WORLD = {"seed": 7, "now": NOW, "accounts": 2, "tasks": 4, "faults": Faults(failed_exports=0.0)}
CHILD = r"""
import os
import sys
import threading
from collections import Counter
from pathlib import Path

endpoint, dataset, cache, point, nth = sys.argv[1:6]
nth = int(nth)
dataset_root, cache_root = Path(dataset).resolve(), Path(cache).resolve()
parsed_root = cache_root / "parsed"
seen = Counter()
guard = threading.Lock()
stopped = threading.Event()  # set at the chosen point: from then on every seam holds its thread


def reach(name, detail=""):
    with guard:
        hit = not stopped.is_set() and name == point and seen[name] + 1 == nth
        seen[name] += 1
        if hit:
            stopped.set()
            print(f"REACHED {name} {detail}".rstrip(), flush=True)
    hold()


def hold():
    if stopped.is_set():  # the thread at the point, and any other that comes to a seam after it,
        threading.Event().wait()  # waits here until the test kills this process


def after(module, name, point_name):
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        reach(point_name)
        return result

    setattr(module, name, wrapped)


def before(module, name, point_name):
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        reach(point_name)
        return original(*args, **kwargs)

    setattr(module, name, wrapped)


def inside(path, folder):
    return Path(path).resolve().is_relative_to(folder)


real_replace = os.replace


def replace(src, dst, *args, **kwargs):
    target = Path(os.fsdecode(dst))
    if inside(target, dataset_root) or inside(target, cache_root):
        hold()  # no file moves into the dataset or the cache once the chosen point is reached
    if inside(target, dataset_root) and target.suffix == ".parquet":
        reach("partition-temp", os.fsdecode(src))
        real_replace(src, dst, *args, **kwargs)
        reach("partition-written", str(target))
        return None
    if inside(target, parsed_root) and target.suffix == ".parquet":
        reach("parsed-temp", os.fsdecode(src))
    elif inside(target, cache_root) and not target.name.startswith(".") and target.suffix != ".json":
        reach("download-temp", os.fsdecode(src))  # an export file, not one of its notes
    return real_replace(src, dst, *args, **kwargs)


os.replace = replace

# patched before usagekit.syncing is imported, so its imports see the wrapped functions too
import usagekit.lifecycle
import usagekit.listing

after(usagekit.listing, "list_tasks", "listed")
after(usagekit.lifecycle, "create_export", "created")
before(usagekit.lifecycle, "wait", "waiting")

from usagekit.sandbox.core import demo_accounts
from usagekit.syncing import sync

accounts = demo_accounts(7, endpoint=endpoint, accounts=2)
report = sync(accounts, "2026-10", "2026-11", dataset, now="2026-11-04T08:00:00Z", cache_dir=cache, poll=0.2)
print(report, flush=True)
sys.exit(report.exit_code)
"""
#: where each try is killed, in order, and at which occurrence of that point. The points come in the
#: order a sync meets them, and each try is stopped before anything the next one needs is done (after
#: the point no file moves into the cache or the dataset), so every try reaches its point: the second
#: creates one export, the third the others and waits, ... the last writes one of the four partitions
KILLS = [
    ("listed", 1),
    ("created", 1),
    ("waiting", 1),
    ("download-temp", 2),
    ("parsed-temp", 1),
    ("partition-temp", 1),
    ("partition-written", 1),
]
#: points whose marker names a file that must still be on disk after the kill
LEAVES_FILE = {"download-temp", "parsed-temp", "partition-temp", "partition-written"}
VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]
TIMEOUT = 120  # seconds a try may take to reach its point: only ever reached when something is wrong


def data(root: Path) -> pd.DataFrame:
    frame = read_dataset(root)[VALUES].astype({"account": "string", "domain": "string", "region": "string"})
    return frame.astype({"metric": "string", "unit": "string"}).sort_values(VALUES[:5]).reset_index(drop=True)


def assert_whole(root: Path) -> None:
    """Every partition readable, and every row inside what its provenance says it holds."""
    if not root.exists():
        return
    for entry in read_manifest(root)["partitions"].values():
        rows = read_partition(root, entry["account"], entry["month"])
        assert len(rows) == entry["rows"] and entry["provenance"] is not None
        inside = pd.Series(False, index=rows.index)
        for piece in entry["provenance"]["pieces"]:
            for a, b in piece["covers"]:
                metric = rows["metric"].isin(TYPE_METRICS[piece["type"]])
                inside |= metric & (rows["start"] >= pd.Timestamp(a)) & (rows["start"] < pd.Timestamp(b))
        assert inside.all()


def kill_at(command: list[str], point: str, nth: int, log: Path) -> str:
    """Run the child until it reports ``point`` (its ``nth`` time), kill it, return the marker's detail."""
    with log.open("wb") as errors:
        child = subprocess.Popen(
            [*command, point, str(nth)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        watchdog = threading.Timer(TIMEOUT, child.kill)  # a hung child fails the test, never hangs it
        watchdog.start()
        try:
            lines = []
            for line in child.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if line.startswith(f"REACHED {point}"):
                    child.kill()
                    break
        finally:
            watchdog.cancel()
            child.kill()
            child.communicate()
    reached = [line for line in lines if line.startswith("REACHED")]
    assert reached, f"the sync never reached {point!r}:\n{''.join(lines)}{log.read_text()}"
    return reached[0].removeprefix(f"REACHED {point}").strip()


def test_syncs_killed_at_named_points_then_one_more_equal_an_uninterrupted_sync(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = fresh_sandbox(**WORLD, clock="real", task_delay=0.6)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root, cache = tmp_path / "usage", tmp_path / "cache"
    command = [sys.executable, str(script), box.endpoint, str(root), str(cache)]
    for point, nth in KILLS:
        detail = kill_at(command, point, nth, tmp_path / "child.err")
        if point in LEAVES_FILE:  # the kill came between writing the file and whatever follows
            assert Path(detail).is_file(), f"{point}: {detail} is gone"
        assert_whole(root)
    last = subprocess.run([*command, "none", "0"], capture_output=True, text=True, timeout=TIMEOUT)
    assert last.returncode == 0, last.stdout + last.stderr
    assert "REACHED" not in last.stdout
    assert_whole(root)

    calm = fresh_sandbox(**WORLD, task_delay=1)
    reference = sync(
        calm.accounts,
        "2026-10",
        "2026-11",
        tmp_path / "reference",
        now=lambda: calm.now,
        sleep=calm.advance,
        cache_dir=tmp_path / "cache2",
    )
    assert reference.complete
    pd.testing.assert_frame_equal(data(root), data(tmp_path / "reference"))
    until = pd.Timestamp("2026-11-03T16:00:00Z")
    since = pd.Timestamp("2026-09-30T16:00:00Z")  # Beijing midnight of 1 October
    truth = [calm.truth.usage_over(a.name, since, until) for a in calm.accounts]
    assert data(root)["value"].sum() == sum(f["value"].sum() for f in truth)
