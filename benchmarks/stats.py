"""Small statistics without third-party packages (the smoke run must work on a fresh
machine): nearest-rank percentiles, medians with spread, and the latency join."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the runs themselves."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return {"median": None, "min": None, "max": None, "runs": list(values)}
    return {
        "median": statistics.median(clean),
        "min": min(clean),
        "max": max(clean),
        "runs": [round(v, 2) for v in clean],
    }


def read_times(path: Path) -> dict[str, float]:
    """ "<unix time> <event id>" lines: the first time each id appears."""
    times: dict[str, float] = {}
    with path.open(encoding="ascii") as lines:
        for line in lines:
            at, _, event_id = line.rstrip("\n").partition(" ")
            times.setdefault(event_id, float(at))
    return times


def latencies_ms(published: dict[str, float], arrived: dict[str, float]) -> dict[str, Any]:
    """Publish-call return to first receipt, per event; every published event must arrive."""
    missing = [event_id for event_id in published if event_id not in arrived]
    values = sorted((arrived[e] - t) * 1000 for e, t in published.items() if e in arrived)
    return {
        "events": len(values),
        "missing": len(missing),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": values[-1] if values else math.nan,
        "min": values[0] if values else math.nan,
    }
