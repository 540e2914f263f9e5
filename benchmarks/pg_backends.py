"""python -m benchmarks.pg_backends [--events N] [--batch B] [--workers W]: which process
PostgreSQL works for while the scaled-out deployment publishes and delivers.

`serve --no-worker` and W workers on a fresh database of a throwaway server (with
pg_stat_statements' planning times); N events published through `POST /v2/events/` in
batches of B from 16 raw connections, every delivery received (`--warm`: after that many
single events, not measured). Prints one JSON document:
events/s; PostgreSQL's CPU µs per event split by the process each backend served (`serve`,
`worker0`, ...; its background processes by name; the sampler below as "another client"),
read from /proc before and after; the states and wait events of the client backends,
sampled every 10 ms; and the statements with the most execution and planning time during
the run (calls, times, plans). benchmarks.publish_rounds
gives PostgreSQL's CPU per event as one figure: this splits it, for a single run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.config import REPO, SCALED, Config
from benchmarks.contestants import HookcastContestant, started
from benchmarks.contestants.hookcast import postmaster_pid
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter, _stat_fields
from benchmarks.procs import Children, RssSampler
from benchmarks.receiving import Receiver
from benchmarks.run import Run
from benchmarks.servers import postgres_server

_SETTINGS = (*METER_SETTINGS, "pg_stat_statements.track_planning=on")
_SAMPLE_SECONDS = 0.01
_ACTIVITY = """
SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 50)
FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
"""
_STATEMENTS = """
SELECT calls, round(total_exec_time)::int AS exec_ms, round(total_plan_time)::int AS plan_ms,
       plans, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time + total_plan_time DESC LIMIT $1
"""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_backends", description=__doc__)
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--statements", type=int, default=8, help="statements listed")
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        help="single events published before the measured run (its processes' connections, "
        "type look-ups and first plans then made)",
    )
    return parser.parse_args(argv)


def _backends(postmaster: int) -> dict[int, tuple[int, str]]:
    """The postmaster's children: pid -> (CPU ticks, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(int(entry.name))
            if int(fields[1]) == postmaster:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found[int(entry.name)] = (int(fields[11]) + int(fields[12]), command)
    return found


def _client_ports(clients: dict[int, str]) -> dict[str, str]:
    """Local TCP port -> the name of the client process owning that socket."""
    inodes = {}
    for pid, name in clients.items():
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        inodes[link[8:-1]] = name
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports[str(int(fields[1].rsplit(":", 1)[1], 16))] = inodes[fields[9]]
    return ports


def _served(command: str, ports: dict[str, str]) -> str:
    """Whom a backend works for: the client process of its connection, or its own role."""
    client = re.search(r"\(\d+\)", command)
    if client is not None:
        return ports.get(client.group(0)[1:-1], "another client")
    return command.removeprefix("postgres: ").split(" ")[0]


async def _sample(url: str, stop: threading.Event, seen: collections.Counter[str]) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 900  # bounded, whatever happens to `stop`
        while not stop.is_set() and time.monotonic() < deadline:
            for state, kind, event, query in await connection.fetch(_ACTIVITY):
                what = f"{state} {kind or '-'}:{event or '-'}"
                seen[f"{what} {query}" if state == "active" else what] += 1
            await asyncio.sleep(_SAMPLE_SECONDS)
    finally:
        await connection.close()


async def _statements(url: str, limit: int, *, reset: bool = False) -> list[dict[str, Any]]:
    """The costliest statements since the last reset; `reset`: none, and start counting."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        if reset:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await connection.execute("SELECT pg_stat_statements_reset()")
            return []
        return [dict(row) for row in await connection.fetch(_STATEMENTS, limit)]
    finally:
        await connection.close()


def _publish(
    run: Run, contestant: HookcastContestant, *, batch: int, count: int, phase: str
) -> float:
    """Publishes `count` events in batches of `batch`, all of them received; events/s.
    `phase` makes the event ids (another phase's are new events, not retries)."""
    run.receiver.reset(secret=contestant.secret, record=False)
    result = contestant.loadgen(
        *("publish", "--batch", str(batch), "--count", str(count)),
        *("--concurrency", "16", "--phase", phase, "--client", "raw"),
    )
    run.receiver.wait_for(count, timeout=120 + count / 200, children=run.children)
    return float(result["events_per_second"])


def _measure(run: Run, contestant: HookcastContestant, args: argparse.Namespace) -> dict[str, Any]:
    if args.warm:
        _publish(run, contestant, batch=1, count=args.warm, phase="warm")
    names = {child.pid: child.name for child in contestant.children}
    postmaster = postmaster_pid(contestant.database_url)
    ports = _client_ports(names)
    asyncio.run(_statements(contestant.database_url, 0, reset=True))  # before the meter's count
    meter = PostgresMeter(contestant.database_url)
    meter.start()
    before = _backends(postmaster)
    stop, seen = threading.Event(), collections.Counter[str]()
    sampler = threading.Thread(
        target=lambda: asyncio.run(_sample(contestant.database_url, stop, seen))
    )
    sampler.start()
    try:
        rate = _publish(run, contestant, batch=args.batch, count=args.events, phase="backends")
        # Read while the sampler's backend lives: its share shows as "another client".
        ports |= _client_ports(names)  # connections opened meanwhile
        after = _backends(postmaster)
    finally:
        stop.set()
        sampler.join()
    ticks: collections.Counter[str] = collections.Counter()
    for pid, (now, command) in after.items():
        ticks[_served(command, ports)] += now - before.get(pid, (0, command))[0]
    per_event = 1e6 / os.sysconf("SC_CLK_TCK") / args.events
    samples = sum(seen.values()) or 1
    return {
        "events_per_second": round(rate),
        "postgres": meter.stop(args.events),
        "pg_cpu_us_per_event_for": {k: round(v * per_event) for k, v in ticks.most_common()},
        "client_backends_sampled_percent": {
            k: round(v / samples * 100, 1) for k, v in seen.most_common(12)
        },
        "statements": asyncio.run(_statements(contestant.database_url, args.statements)),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = Config(publish_events={args.batch: args.events})
    config.scaled_workers = args.workers
    work = Path(tempfile.mkdtemp(prefix="hookcast-pg-backends-"))
    with contextlib.ExitStack() as stack:
        children = Children(work)
        stack.callback(children.stop_all)
        run = Run(
            config=config,
            work=work,
            log=lambda line: print(line, file=sys.stderr, flush=True),
            children=children,
            rss=stack.enter_context(RssSampler()),
            results={"rounds": [], "steal_percent": {}},
            receiver=Receiver(children),
            redis_url=None,
            postgres=stack.enter_context(postgres_server(_SETTINGS)),
        )
        with started(run, SCALED, backlog=0, phase="backends") as contestant:
            assert isinstance(contestant, HookcastContestant)
            measured = _measure(run, contestant, args)
    print(json.dumps(measured, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
