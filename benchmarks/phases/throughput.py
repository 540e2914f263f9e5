"""Throughput: N pending deliveries drained per contestant, run by run (contestants
interleaved, so machine load hits them alike); each run's rate from first to last receipt
and in equal slices by arrival order, every delivery checked where it is recorded."""

from __future__ import annotations

from typing import Any

from benchmarks.config import RAW
from benchmarks.contestants import started
from benchmarks.receiving import receipt_rate, window_rates
from benchmarks.run import Run
from benchmarks.stats import summary


def throughput(run: Run, contestants: list[str]) -> dict[str, Any]:
    rates: dict[str, list[float]] = {name: [] for name in contestants if name != RAW}
    extra: dict[str, Any] = {}
    for number in range(run.config.runs):
        for name in rates:
            with run.steal(f"{name} run {number}"):
                windows = _drain(run, name, number, extra.setdefault(name, {}))
            rates[name].extend(windows)
            details = extra[name]
            run.log(
                f"   run {number}: {name} {details['whole_run'][-1]:.0f} deliveries/s "
                f"(windows {details['windows'][-1]})"
            )
    return {
        # Every window of every run: a run of N deliveries is cut into `windows` equal
        # parts by arrival order, so the spread shows how steady the rate was.
        "deliveries_per_second": {name: summary(values) for name, values in rates.items()},
        "details": extra,
    }


def _drain(run: Run, name: str, number: int, details: dict[str, Any]) -> list[float]:
    """One run of contestant `name`: its window rates; whole-run rate, windows and
    preparation time appended to `details`."""
    expected = run.config.deliveries_for(name)
    with started(run, name, backlog=expected, phase=f"t{number}") as contestant:
        stats = run.receiver.wait_for(expected, timeout=120 + expected / 50, children=run.children)
        contestant.check_durable(expected)
        arrived = run.receiver.dump(run.work / f"{name}-t{number}.arrived")
        windows = window_rates(sorted(arrived.values()), run.config.windows)
        details.setdefault("whole_run", []).append(round(receipt_rate(stats), 1))
        details.setdefault("windows", []).append([round(w, 1) for w in windows])
        details.setdefault("prepare_seconds", []).append(round(contestant.prepare_seconds, 1))
    return windows
