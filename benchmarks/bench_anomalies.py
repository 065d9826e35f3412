"""How often :func:`usagekit.anomalies` alarms on usage with nothing planted (its false-positive rate).

For each seed, a sandbox world (``--accounts`` accounts, 3 to 8 domains each) and its true per-domain
usage over the lookback plus ``--weeks`` weeks (hourly periods), with no spike: every period flagged by
the default settings is a false positive (the sandbox's own noise and odd short spikes are all there
is). Prints, per metric, the domain-weeks scored (non-idle domains times the weeks after the lookback),
the periods flagged and the rate per 10 domain-weeks (the target: at most 1), then the same with one
planted 6-hour 8x spike per world to show it is found.

Run: ``python benchmarks/bench_anomalies.py`` (``--seeds 0-9``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

from usagekit.anomaly import anomalies
from usagekit.sandbox import Sandbox, Spike

NOW = pd.Timestamp("2026-11-20T00:00:00Z")
LOOKBACK_WEEKS = 8


def _usage(box: Sandbox, start: pd.Timestamp) -> pd.DataFrame:
    frames = []
    for spec in box.world.accounts:
        frames.append(box.truth.usage_over(spec.name, start, NOW, domains=list(spec.domain_names)))
    return pd.concat(frames, ignore_index=True)


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="seeds, as 0-9 or 3")
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--weeks", type=int, default=4, help="weeks checked after the lookback")
    args = parser.parse_args()
    start = NOW - pd.Timedelta(weeks=LOOKBACK_WEEKS + args.weeks)
    totals: dict[str, list[int]] = {m: [0, 0] for m in ("traffic", "bandwidth", "requests")}
    found_spikes = 0
    began = time.perf_counter()
    for seed in _seeds(args.seeds):
        with Sandbox(seed=seed, now=NOW.isoformat(), clock="frozen", accounts=args.accounts) as box:
            usage = _usage(box, start)
            active = sum(1 for spec in box.world.accounts for d in spec.domains if not d.idle)
            for metric, counts in totals.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a short history would make the rate look better
                    flagged = anomalies(usage, metric=metric)
                counts[0] += active * args.weeks
                counts[1] += len(flagged)
            spec = box.world.accounts[0]
            domain = next(d.name for d in spec.domains if not d.idle)
            at = NOW - pd.Timedelta(days=9, hours=5)
        spike = Spike(spec.name, domain, at.isoformat(), hours=6, factor=8.0)
        with Sandbox(
            seed=seed, now=NOW.isoformat(), clock="frozen", accounts=args.accounts, spikes=[spike]
        ) as box:
            flagged = anomalies(_usage(box, start))
            hit = flagged[(flagged["domain"] == domain) & (flagged["start"] >= at)]
            found_spikes += int(len(hit) == 6 and (hit["direction"] == "up").all())
            print(
                f"seed {seed}: planted spike found in {len(hit)} of 6 hours, lowest score {hit['score'].min():.1f}"
            )
    print(f"\n{'metric':<10} {'domain-weeks':>12} {'flagged':>8} {'per 10 domain-weeks':>20}")
    for metric, (weeks, flagged) in totals.items():
        print(f"{metric:<10} {weeks:>12} {flagged:>8} {10 * flagged / max(weeks, 1):>20.3f}")
    weeks = sum(w for w, _ in totals.values())
    flagged = sum(f for _, f in totals.values())
    print(f"{'all':<10} {weeks:>12} {flagged:>8} {10 * flagged / max(weeks, 1):>20.3f}")
    print(
        f"planted spikes found: {found_spikes} of {len(_seeds(args.seeds))}; {time.perf_counter() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
