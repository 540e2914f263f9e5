"""Publish-call return to receipt (for HookCast also from the send: benchmarks/latency.py's
both_clocks), at the configured offered rates and then up a ladder of
higher ones until p99 reaches 100 ms or the rate passes the contestant's capacity."""

from __future__ import annotations

from typing import Any

from benchmarks.contestants import Contestant
from benchmarks.latency import both_clocks, sent_times_path
from benchmarks.run import Run
from benchmarks.stats import latencies_ms, read_times


def latency(run: Run, contestant: Contestant, limit: float) -> tuple[dict[str, Any], Any]:
    """Each rate's latencies, and the highest rate whose p99 stayed under 100 ms (None if
    none did); rates above `limit` count as saturated."""
    results: dict[str, Any] = {}
    highest: Any = None
    rates = run.config.rates
    for rate in [*rates, *(r for r in run.config.ladder if r > max(rates))]:
        # The rates are always measured, saturated or not (what a saturated
        # contestant's latency grows to is part of the answer); the search beyond them
        # stops at the first rate above the capacity measured first.
        if rate > limit and rate not in rates:
            results[str(rate)] = {"saturated": True, "capacity": round(limit / 0.9)}
            break
        measured = _at_rate(run, contestant, rate)
        results[str(rate)] = measured
        run.log(
            f"   {contestant.name} @ {rate}/s: p50 {measured['p50']:.1f} "
            f"p99 {measured['p99']:.1f} max {measured['max']:.1f} ms "
            f"(achieved {measured['achieved_rate']:.0f}/s)"
        )
        if measured["p99"] < 100 and measured["achieved_rate"] >= 0.95 * rate:
            highest = rate if highest is None else max(highest, rate)
        elif rate not in rates:
            break
    return results, highest


def _at_rate(run: Run, contestant: Contestant, rate: int) -> dict[str, Any]:
    phase = f"l{rate}-{contestant.name[:3]}"
    run.receiver.reset(secret=contestant.secret, record=True)
    published_file = run.work / f"{phase}.published"
    result = contestant.pace(rate, run.config.rate_seconds, phase, published_file)
    # A refused publish (503 under load) is a finding, not a harness failure: only the
    # accepted events are expected at the receiver, and the refusals are reported.
    refused = {"refused": result["errors"], "refusals": result.get("first_errors", [])}
    if result["errors"]:
        run.log(f"   {contestant.name} refused {result['errors']} publishes at {rate}/s")
    published = read_times(published_file)
    timeout = 60 + len(published) / 100
    run.receiver.wait_for(len(published), timeout=timeout, children=run.children)
    arrived = run.receiver.dump(run.work / f"{phase}.arrived")
    measured = latencies_ms(published, arrived)
    # HookCast's load generator also notes when each publish was sent (the clock).
    sent_file = sent_times_path(published_file)
    clocks = both_clocks(published, read_times(sent_file), arrived) if sent_file.exists() else {}
    return {
        **{k: round(v, 2) for k, v in measured.items()},
        **clocks,
        "achieved_rate": round(result["achieved_rate"], 1),
        **refused,
    }
