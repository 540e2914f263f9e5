"""Publish throughput through the HTTP API: single events, then batches; every published
event is also counted at the receiver, so nothing accepted was lost."""

from __future__ import annotations

from typing import Any

from benchmarks.config import BenchFailure
from benchmarks.contestants import HookcastContestant
from benchmarks.run import Run


def publish(run: Run, contestant: HookcastContestant) -> dict[str, Any]:
    out = {}
    for batch, count in run.config.publish_events.items():
        run.receiver.reset(secret=contestant.secret, record=False)
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
        )
        if result["errors"] or result["accepted"] != count:
            raise BenchFailure(f"publish batch {batch}: {result}")
        # Every published event is delivered too: counted, so nothing was lost.
        run.receiver.wait_for(count, timeout=120 + count / 200, children=run.children)
        out[str(batch)] = {k: round(v, 1) for k, v in result.items() if k != "first_errors"}
        run.log(
            f"   {contestant.name} publish batch {batch}: "
            f"{result['events_per_second']:.0f} events/s"
        )
    return out
