"""Latency, publish throughput and fan-out, measured on each contestant while it runs: its
publish throughput first (HookCast), then publish-to-receipt latency at offered rates up to
what it sustains, then one event fanned out to many webhooks (HookCast)."""

from __future__ import annotations

from typing import Any

from benchmarks.config import RAW
from benchmarks.contestants import HookcastContestant, started
from benchmarks.phases.fanout import fanout
from benchmarks.phases.latency import latency
from benchmarks.phases.publish import publish
from benchmarks.run import Run


def live(run: Run, contestants: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latency": {},
        "highest_rate_p99_under_100ms": {},
        "publish": {},
        "fanout_seconds": {},
    }
    capacity = run.results["phases"].get("throughput", {}).get("deliveries_per_second", {})
    for name in contestants:
        if name == RAW:
            continue
        with started(run, name, backlog=0, phase="live") as contestant:
            # A rate is saturated above what the contestant delivers, or (HookCast)
            # above the single-event publishes its API accepts: measured first.
            limit = (capacity.get(name, {}).get("median") or float("inf")) * 0.9
            if isinstance(contestant, HookcastContestant):
                out["publish"][name] = publish(run, contestant)
                single = out["publish"][name].get("1", {}).get("events_per_second")
                if single:
                    limit = min(limit, single * 0.9)
            out["latency"][name], out["highest_rate_p99_under_100ms"][name] = latency(
                run, contestant, limit
            )
            if isinstance(contestant, HookcastContestant):
                out["fanout_seconds"][name] = fanout(run, contestant)
    return out
