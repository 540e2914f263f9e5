"""Backlog: a large number of pending deliveries seeded, then drained, with the RSS of every
process sampled throughout."""

from __future__ import annotations

from typing import Any

from benchmarks.contestants import started
from benchmarks.receiving import receipt_rate
from benchmarks.run import Run


def backlog(run: Run, contestants: list[str]) -> dict[str, Any]:
    out = {}
    for name in run.config.backlog_contestants:
        if name not in contestants:
            continue
        out[name] = _drain(run, name)
        rate = out[name]["deliveries_per_second"]
        run.log(f"   {name}: drained {run.config.backlog} at {rate:.0f}/s")
    return out


def _drain(run: Run, name: str) -> dict[str, Any]:
    count = run.config.backlog
    run.log(f"   {name}: seeding {count} pending deliveries")
    with started(
        run, name, backlog=count, phase="bl", webhooks=run.config.backlog_webhooks
    ) as contestant:
        stats = run.receiver.wait_for(count, timeout=300 + count / 200, children=run.children)
        contestant.check_durable(count)
        ours = f"{name}:"
        series = {
            k: v for k, v in run.rss.series.items() if k.startswith(ours) and k.endswith("@bl")
        }
        return {
            "deliveries": count,
            "deliveries_per_second": round(receipt_rate(stats), 1),
            "seed_seconds": round(contestant.prepare_seconds, 1),
            "rss_peak_mib": {
                k: round(v, 1)
                for k, v in run.rss.peaks_mib.items()
                if k.startswith(ours) and "@bl" in k
            },
            "rss_series": {k: v[:: max(1, len(v) // 200)] for k, v in series.items()},
        }
