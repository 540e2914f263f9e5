"""python -m benchmarks.scaling [--events N] [--workers 1,2]: what one delivery costs each
process of a scaled-out HookCast, for docs/scaling.md.

On a PostgreSQL server with its durable defaults (fsync, synchronous_commit and full-page
writes on, unlike the test suite's throwaway server), per worker count: N events published
in batches of 100 through `serve --no-worker`, then drained by that many `worker`s into the
benchmark receiver. For each half: wall time, CPU seconds of the API server, the workers and
PostgreSQL (the postmaster and every backend, live or exited: /proc/<pid>/stat), WAL bytes
(pg_current_wal_lsn), WAL fsyncs (pg_stat_wal.wal_sync) and commits; then per delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from benchmarks.config import HOOKCAST, PYTHON, TESTS
from benchmarks.contestants.base import run_json
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.procs import HOST, Children, cpu_seconds, free_port, wait_for_port
from benchmarks.receiving import Receiver

_TICK = os.sysconf("SC_CLK_TCK")
_DURABLE = ("max_connections=200",)  # PostgreSQL's defaults otherwise: fsync on
_SERVER_COUNTERS = """
    SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
           (SELECT wal_sync FROM pg_stat_wal),
           (SELECT sum(xact_commit) FROM pg_stat_database)::bigint
"""


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds of the server: the postmaster, its exited children (cutime, cstime) and
    its live ones (backends, WAL writer, checkpointer, autovacuum)."""
    ticks = sum(int(value) for value in _stat(postmaster)[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = _stat(int(entry.name))
                if int(fields[1]) == postmaster:
                    ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


async def _counters(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(_SERVER_COUNTERS)
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        await conn.close()


class Meter:
    """CPU of named process groups and the server's counters, over one measured step."""

    def __init__(self, url: str, postmaster: int, groups: dict[str, list[int]]) -> None:
        self._url, self._postmaster, self._groups = url, postmaster, groups

    def _sample(self) -> dict[str, float]:
        wal, syncs, commits = asyncio.run(_counters(self._url))
        sample: dict[str, float] = {"wal_bytes": wal, "wal_fsyncs": syncs, "commits": commits}
        sample["postgresql_cpu_s"] = postgres_cpu(self._postmaster)
        for name, leaders in self._groups.items():
            sample[f"{name}_cpu_s"] = sum(cpu_seconds(leader) for leader in leaders)
        sample["wall_s"] = time.monotonic()
        return sample

    def measure(self, step: Callable[[], int], deliveries: int) -> dict[str, float]:
        """Runs `step`, which returns how many of the `deliveries` were made before it was
        ready to be measured (a starting worker's first claims); per delivery of the rest."""
        before = self._sample()
        deliveries -= step()
        ended = time.monotonic()
        # Backends report WAL and commit counts to the statistics within a second or so.
        time.sleep(2.0)
        after = self._sample()
        after["wall_s"] = ended
        totals = {key: after[key] - before[key] for key in before}
        out = {key: round(value, 3) for key, value in totals.items()}
        for key, value in totals.items():
            if key.endswith("_cpu_s"):
                out[key.replace("_cpu_s", "_us_per_delivery")] = round(value / deliveries * 1e6, 1)
        out["wal_bytes_per_delivery"] = round(totals["wal_bytes"] / deliveries, 1)
        out["commits_per_delivery"] = round(totals["commits"] / deliveries, 3)
        out["deliveries_per_second"] = round(deliveries / totals["wall_s"], 1)
        out["wal_fsyncs_per_second"] = round(totals["wal_fsyncs"] / totals["wall_s"], 1)
        return out


@contextlib.contextmanager
def durable_postgres() -> Iterator[Any]:
    sys.path.insert(0, str(TESTS))
    import support.postgres as throwaway  # type: ignore[import-not-found,unused-ignore]

    # The suite's server trades durability for speed; this one keeps PostgreSQL's defaults.
    throwaway._SETTINGS = _DURABLE  # type: ignore[assignment,unused-ignore]
    with throwaway.postgres_server() as server:
        yield server


def _published(command: list[str]) -> int:
    run_json(command, timeout=900)
    return 0


async def _count_workers(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM workers"))
    finally:
        await conn.close()


def _wait_for_workers(url: str, workers: int) -> None:
    """Until every worker has registered its heartbeat (bounded)."""
    deadline = time.monotonic() + 120
    while asyncio.run(_count_workers(url)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)


def measure_workers(server: Any, children: Children, receiver: Receiver, **run: int) -> Any:
    """One database: `events` published, then drained by `workers` workers."""
    from support.postgres import run_sql  # type: ignore[import-not-found,unused-ignore]

    events, workers = run["events"], run["workers"]
    name = f"scaling_{workers}_{int(time.time())}"
    run_sql(server.url(), f"CREATE DATABASE {name}")
    url = server.url(name)
    prepared = Setup(url).prepare(receiver.url, webhooks=1, backlog=0, phase=name)
    receiver.reset(secret=prepared.secret, record=False, verify_every=1 << 30)
    env, port = settings_env(url), free_port()
    serve = children.start(
        f"{name}-serve",
        [HOOKCAST, "serve", "--no-worker", "--host", HOST, "--port", str(port)],
        env=env,
    )
    wait_for_port(port, timeout=60, process=serve.process, name="serve")
    meter = Meter(url, server._process.pid, {"api": [serve.pid]})
    publish = [PYTHON, "-m", "benchmarks.loadgen", "publish", "--api", f"http://{HOST}:{port}"]
    publish += ["--key", prepared.api_key, "--batch", "100", "--count", str(events)]
    publish += ["--concurrency", "16", "--phase", name]
    out = {"publish": meter.measure(lambda: _published(publish), events)}
    leaders: list[int] = []
    for number in range(workers):
        leaders.append(children.start(f"{name}-w{number}", [HOOKCAST, "worker"], env=env).pid)
    _wait_for_workers(url, workers)
    # Measured from the moment every worker has started (its imports and connections are
    # not what a delivery costs); what they delivered before then is subtracted.
    meter = Meter(url, server._process.pid, {"workers": leaders})
    delivered_before = int(receiver.stats()["unique"])

    def drain() -> int:
        receiver.wait_for(events, timeout=900, children=children)
        return delivered_before

    out["deliver"] = meter.measure(drain, events)
    for child in list(children._children):
        if child.name.startswith(name):
            children.stop(child)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="hookcast-scaling-"))
    results: dict[str, Any] = {"events": args.events, "load_before": os.getloadavg()}
    with durable_postgres() as server, contextlib.ExitStack() as stack:
        children = Children(work)
        stack.callback(children.stop_all)
        receiver = Receiver(children)
        for workers in (int(part) for part in args.workers.split(",")):
            results[f"{workers} workers"] = measure_workers(
                server, children, receiver, events=args.events, workers=workers
            )
            print(json.dumps(results[f"{workers} workers"]), flush=True)
    results["load_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
