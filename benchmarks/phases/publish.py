"""Publish throughput through the HTTP API: single events, then batches; every published
event is also counted at the receiver, so nothing accepted was lost."""

from __future__ import annotations

from typing import Any

from benchmarks.config import BenchFailure
from benchmarks.contestants import HookcastContestant
from benchmarks.pg_meter import PostgresMeter
from benchmarks.procs import cpu_seconds
from benchmarks.run import Run


def publish(
    run: Run, contestant: HookcastContestant, *, meter: PostgresMeter | None = None
) -> dict[str, Any]:
    """Each batch size's rate, with the CPU µs per event of the contestant's processes
    (`serve` first) and, with a `meter`, PostgreSQL's: publishing and delivering the events,
    both done while the publishers run."""
    out = {}
    for batch, count in run.config.publish_events.items():
        run.receiver.reset(secret=contestant.secret, record=False)
        cpu_before = [cpu_seconds(child.pid) for child in contestant.children]
        if meter is not None:
            meter.start()
        result = contestant.loadgen(
            "publish",
            "--batch",
            str(batch),
            "--count",
            str(count),
            "--concurrency",
            str(run.config.publish_concurrency),
            "--phase",
            f"p{batch}",
            # Raw connections: aiohttp's client cost as much CPU per request as the API
            # server it measured, on the same cores (benchmarks/loadgen.py).
            "--client",
            "raw",
        )
        if result["errors"] or result["accepted"] != count:
            raise BenchFailure(f"publish batch {batch}: {result}")
        # Every published event is delivered too: counted, so nothing was lost.
        run.receiver.wait_for(count, timeout=120 + count / 200, children=run.children)
        figures = {k: round(v, 1) for k, v in result.items() if k != "first_errors"}
        figures["cpu_us_per_event"] = [
            round((cpu_seconds(child.pid) - before) / count * 1e6, 1)
            for child, before in zip(contestant.children, cpu_before, strict=True)
        ]
        if meter is not None:
            figures["postgres"] = meter.stop(count)
        out[str(batch)] = figures
        run.log(
            f"   {contestant.name} publish batch {batch}: "
            f"{result['events_per_second']:.0f} events/s, CPU µs per event "
            f"{figures['cpu_us_per_event']}"
            + (f", PostgreSQL {figures['postgres']}" if meter is not None else "")
        )
    return out
