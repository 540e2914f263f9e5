"""python -m benchmarks.publish_inprocess [--events N] [--concurrency C] [--batch B]: the
publish path alone on PostgreSQL, without HTTP or workers: C concurrent publishers call
`EventService.publish` (B events a call) until N events are stored, on a fresh database of
a throwaway server. Prints one JSON line: events/s, this process's CPU µs per event, and
PostgreSQL's CPU, WAL, transactions and statements per event (benchmarks/pg_meter.py).
Run it with PYTHONPATH=<another worktree>/src for a baseline, interleaved."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path
from typing import Any

from benchmarks.hookcast_setup import Setup
from benchmarks.payloads import published_event
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter
from benchmarks.servers import create_database, postgres_server
from hookcast.domain.models import Role
from hookcast.services import Caller


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _publish(setup: Setup, args: argparse.Namespace) -> dict[str, float]:
    services = await setup._services()
    try:
        account = await services.accounts.default_account()
        caller = Caller(account_id=account.id, role=Role.ADMIN)
        await services.events.publish(caller, published_event("warm", 0))  # fills the caches
        numbers = list(range(args.events))

        async def publisher() -> None:
            while numbers:
                taken = [numbers.pop() for _ in range(min(args.batch, len(numbers)))]
                events = [published_event("p", number) for number in taken]
                body: Any = events[0] if args.batch == 1 else {"events": events}
                await services.events.publish(caller, body)

        started, cpu = time.perf_counter(), _cpu_seconds()
        await asyncio.gather(*(publisher() for _ in range(args.concurrency)))
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    finally:
        await services.store.close()
    return {
        "events_per_second": round(args.events / seconds),
        "publisher_cpu_us": round(cpu / args.events * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish_inprocess")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    with postgres_server(METER_SETTINGS) as server:
        url = create_database(server, "publish")
        setup = Setup(url)
        setup.prepare("http://127.0.0.1:9/unreached", webhooks=1)  # no worker sends
        meter = PostgresMeter(url)
        meter.start()
        measured = asyncio.run(_publish(setup, args))
        cost = meter.stop(args.events)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps({**vars(args), **measured, **cost, "load_average": load}), flush=True)


if __name__ == "__main__":
    main()
