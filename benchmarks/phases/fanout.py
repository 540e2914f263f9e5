"""Fan-out: one event published to many webhooks, from the publish call's return to the
last receipt."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.contestants import HookcastContestant
from benchmarks.hookcast_setup import Setup
from benchmarks.procs import http_json
from benchmarks.run import Run
from benchmarks.stats import summary


def fanout(run: Run, contestant: HookcastContestant) -> dict[str, Any]:
    count = run.config.fanout
    Setup(contestant.database_url).add_webhooks(
        contestant.api, run.receiver.url, count, contestant.api_key
    )
    durations = []
    for number in range(run.config.fanout_runs):
        # The webhooks have different secrets: only counts are checked here.
        run.receiver.reset(record=False, verify_every=1 << 30)
        body = {
            "event": "media_updated",
            "event_id": f"fan-{number}",
            "site_id": "BENCH001",
            "media_id": "FANOUT01",
        }
        http_json(
            f"{contestant.api}/v2/events/", body, headers={"Authorization": contestant.api_key}
        )
        returned = time.time()
        stats = run.receiver.wait_for(count, timeout=120, children=run.children, unique=True)
        durations.append(stats["last"] - returned)
        run.log(f"   {contestant.name} fan-out {count}: {durations[-1]:.3f} s")
    return summary(durations)
