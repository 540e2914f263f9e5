"""python -m benchmarks.publish_alone [--rounds 2] [--single N] [--batched N]: publishing
on PostgreSQL through `POST /v2/events/` with nothing delivered meanwhile.

`benchmarks.publish_rounds` measures what issue 19's first target asks for, publishing
while the contestant delivers everything it accepts; on a machine of two shared cores
scaled out's deliveries (two workers claiming, PostgreSQL recording) then take most of the
CPU, and the single-event rate says more about them than about publishing. Here `serve
--no-worker` runs without workers: the events and their deliveries are stored and nothing
claims them. Each round on a fresh, never-analyzed database: single events from 16
connections, then batches of 100; events/s, the API server's CPU µs per event and
PostgreSQL's CPU, WAL, transactions and statements per event, with the load average. Run it
with PYTHONPATH=<another worktree>/src for a baseline, interleaved.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.config import REPO, SCALED, Config
from benchmarks.contestants import HookcastContestant, started
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter
from benchmarks.procs import Children, RssSampler, cpu_seconds
from benchmarks.receiving import Receiver
from benchmarks.run import Run
from benchmarks.servers import postgres_server


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish_alone", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--single", type=int, default=10_000, help="single-event publishes")
    parser.add_argument("--batched", type=int, default=30_000, help="events in batches of 100")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--locale", default="", help="the database's locale (pg_cost's)")
    return parser.parse_args(argv)


def _measure(
    contestant: HookcastContestant, *, batch: int, count: int, concurrency: int
) -> dict[str, Any]:
    """One batch size's rate and costs per event."""
    meter = PostgresMeter(contestant.database_url)
    before = [cpu_seconds(child.pid) for child in contestant.children]
    meter.start()
    result = contestant.loadgen(
        "publish",
        *("--batch", str(batch), "--count", str(count)),
        *("--concurrency", str(concurrency), "--phase", f"alone{batch}", "--client", "raw"),
    )
    postgres = meter.stop(count)
    if result["errors"] or result["accepted"] != count:
        raise SystemExit(f"publish batch {batch}: {result}")
    cpu = [
        round((cpu_seconds(child.pid) - start) / count * 1e6, 1)
        for child, start in zip(contestant.children, before, strict=True)
    ]
    return {
        "batch": batch,
        "events_per_second": round(result["events_per_second"]),
        "serve_cpu_us": cpu[0],
        **postgres,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = Config(publish_events={1: args.single, 100: args.batched})
    config.scaled_workers = 0  # nothing claims: the deliveries stay pending
    work = Path(tempfile.mkdtemp(prefix="hookcast-publish-alone-"))
    results: dict[str, Any] = {"rounds": [], "steal_percent": {}}
    with contextlib.ExitStack() as stack:
        children = Children(work)
        stack.callback(children.stop_all)
        run = Run(
            config=config,
            work=work,
            log=lambda line: print(line, flush=True),
            children=children,
            rss=stack.enter_context(RssSampler()),
            results=results,
            receiver=Receiver(children),
            redis_url=None,
            postgres=stack.enter_context(postgres_server(METER_SETTINGS)),
            locale=args.locale,
        )
        for number in range(args.rounds):
            with (
                run.steal(f"round {number}"),
                started(run, SCALED, backlog=0, phase=f"alone{number}") as contestant,
            ):
                assert isinstance(contestant, HookcastContestant)
                for batch, count in config.publish_events.items():
                    figures = _measure(
                        contestant, batch=batch, count=count, concurrency=args.concurrency
                    )
                    print(json.dumps({"round": number, **figures}), flush=True)
    print(json.dumps({"steal_percent": results["steal_percent"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
