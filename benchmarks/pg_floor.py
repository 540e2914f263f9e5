"""python -m benchmarks.pg_floor: the least PostgreSQL work a durable, row-per-delivery
queue can do per delivery on this machine, outside HookCast's code, beside HookCast's own
figures measured in the same rounds (docs/benchmarks/postgres-delivery.md, "The floor").

Each design is a few plain SQL statements (benchmarks/floor_designs.py) driven by asyncpg
the way HookCast's workers drive theirs: `--claimers` claimers (two), each claiming
`--claim` due deliveries at a time (512), reading their events (600-byte bodies, by key),
and recording them `--record` at a time (128) as sent (nothing is delivered: PostgreSQL's
side alone), until `--deliveries` pending ones are done. Every design runs in a new
database of one throwaway server started with the settings benchmarks.pg_cost uses
(tests/support/postgres.py's, with pg_stat_statements), seeded, vacuumed, analyzed and
checkpointed first. Per delivery: the server's CPU, from /proc/<pid>/schedstat of its live
processes (nanoseconds; every connection is opened before and closed after, so no backend
starts or exits inside) plus the clock ticks of the children it reaped meanwhile
(autovacuum's workers); the WAL written; the statements run. And benchmarks.pg_meter's
figures over the same stretch (clock ticks of every process, the connections' start and
end included: how HookCast's drain is measured).

  minimal     deliveries (id, due, status, lease): one partial due index (status pending);
              claim = FOR UPDATE SKIP LOCKED and a lease update (a column in no index: a
              HOT update), completion = a status update (leaves the partial index: not HOT)
  attempts    minimal, and an attempt row inserted per delivery by the completion's
              statement
  narrow      a table of the pending deliveries alone, claimed as minimal; completion
              deletes the pending row and appends the attempt (no update of an indexed row)
  held        the claim's transaction holds the row locks (FOR UPDATE SKIP LOCKED, no
              update) while another connection appends the attempts; the claim then
              deletes its pending rows and commits (a claimer that dies drops its locks;
              a claim skips pending rows that have an attempt, for a death between the two)
  moved       the claim deletes the rows from the pending table into one lease row per
              claim (their ids in an array); completion appends the attempts and, with a
              claim's last batch, deletes its lease row (an expired lease row would put its
              unrecorded ids back)
  shaped      attempts' statements on HookCast's own rows and indexes (text ids, times in
              microseconds, its eight delivery indexes, its attempts' key; one table, not
              a partition per day): what HookCast's schema costs without its statements
  shaped_lean shaped with only the key and the due index
  shaped_hot  shaped with completions that touch no index: the due indexes and the lease
              on a narrow table of the pending deliveries (the completion deletes its row),
              held and waiting indexed by a column a completion leaves as it is
  shaped_bigint shaped with bigint ids for deliveries, events, webhooks and accounts
  shaped_days shaped partitioned by day as HookCast's deliveries are (today, the week ahead,
              a default partition), its statements naming the days they need
  shaped_c    shaped with its text keys in byte order (COLLATE "C"), whatever the database's
              locale
  shaped_narrow  HookCast's rows as they are (shaped_c), written once at publish and not
              updated when a delivery succeeds: a narrow table of the pending deliveries
              (bigint identity key, account, due, lease, and the delivery's key, event,
              webhook and attempt count) is claimed and leased, and a success deletes its
              row and appends the attempt in one statement
  shaped_narrow_probe  shaped_narrow whose pending rows carry only the delivery's key: the
              claim probes the delivery row (not locked, not updated) for the rest
  shaped_narrow_bigint, shaped_narrow_probe_bigint  the two with bigint ids for deliveries,
              events, webhooks and accounts

`--claimers 1` also splits the claimer's backend's CPU between the claims and the
recordings (the rest of the server is the whole figure less the two).
`--hookcast`: each round also measures HookCast itself, `python -m benchmarks.pg_cost drain
--deliveries N` (its own server, two workers) and `python -m benchmarks.pg_steps
--deliveries N` (its store in process, one claimer, claim and recording apart). Rounds
interleave the designs in an order that rotates, with the load average and steal of each
measurement. One JSON line per measurement, and a summary (medians and spreads per design)
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.config import REPO
from benchmarks.floor_designs import DESIGNS, Design
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter, _run_seconds, _stat_fields
from benchmarks.pg_steps import _parent, server_cpu_seconds
from benchmarks.procs import cpu_times, steal_percent
from benchmarks.servers import create_database, postgres_server


async def _setup(url: str, design: Design, deliveries: int, events: bool) -> int:
    """The design's tables, seeded, vacuumed and checkpointed; the backend that did it."""
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    try:
        await design.create(connection, deliveries, events=events)
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await connection.close()
    return int(backend)


def _await_reaped(pid: int) -> None:
    """Until a closed connection's backend has been reaped, its life is in no reading of
    the server's CPU (neither live nor in the postmaster's reaped children): a drain's
    claimer exiting as pg_meter read its last was missing from it (at load 11-16, 5 drains
    of 24 read 9-18 µs per delivery below `_server_cpu`, one claimer's share),
    and the setup's (the seed, the VACUUM) could be reaped into the drain's figure."""
    for _ in range(1_000):
        if not os.path.exists(f"/proc/{pid}"):
            return
        time.sleep(0.01)
    raise SystemExit(f"backend {pid} was not reaped within 10 s")


async def _left(url: str, design: Design) -> tuple[int, int]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return await design.left(connection)
    finally:
        await connection.close()


def _server_cpu(postmaster: int) -> float:
    """The CPU seconds of the server's live processes (nanoseconds, from schedstat) and of
    those it reaped (its children's clock ticks: autovacuum workers that come and go)."""
    fields = _stat_fields(postmaster)
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return server_cpu_seconds(postmaster) + reaped


class _Steps:
    """With a single claimer, its backends' CPU split between the claims (with their event
    reads and, in `held`, the closing delete) and the recordings, from their schedstat.
    Scanning /proc for the whole server at every step slowed one claimer's drains to
    1,000-1,500 deliveries a second at load 15 (two claimers: 7,000-25,000), so that
    autovacuum ran inside them and landed in whichever step it straddled. The server's
    other processes are `pg_cpu_us` less the two."""

    def __init__(self, backends: list[int]) -> None:
        self._backends = backends
        self.cpu = {"claim": 0.0, "record": 0.0}
        self._last = 0.0

    def _now(self) -> float:
        return sum(_run_seconds(pid) for pid in self._backends)

    def begin(self) -> None:
        if self._backends:
            self._last = self._now()

    def end(self, step: str) -> None:
        if self._backends:
            now = self._now()
            self.cpu[step] += now - self._last
            self._last = now


async def _claimer(
    connection: Any,
    recorder: Any,
    design: Design,
    owner: int,
    args: argparse.Namespace,
    steps: _Steps,
) -> int:
    """Claims and records until a claim comes back empty; how many it recorded."""
    done = 0
    while True:
        steps.begin()
        claim = await design.claim(connection, owner, args.claim)
        if not claim.ids:
            return done
        if args.events:
            await design.read_events(connection, claim)
        steps.end("claim")
        for first in range(0, len(claim.ids), args.record):
            batch = claim.ids[first : first + args.record]
            last = first + args.record >= len(claim.ids)
            await design.record(recorder, claim, batch, last=last)
            steps.end("record")
            done += len(batch)
        await design.finish(connection, claim)
        steps.end("claim")


_COUNTERS = """
SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, (SELECT coalesce(sum(calls), 0)::bigint
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database
    WHERE datname = current_database())), pg_backend_pid()
"""


async def _drain(url: str, design: Design, args: argparse.Namespace) -> dict[str, Any]:
    """The drain, between two readings of the server's CPU (`_server_cpu`: every connection
    is open before and after, so no backend's start or exit falls inside), its WAL position
    and its statements run."""
    import asyncpg

    meter = await asyncpg.connect(url)
    connections = []
    try:
        for _ in range(args.claimers):
            connection = await asyncpg.connect(url)
            recorder = await asyncpg.connect(url) if design.name == "held" else connection
            connections.append((connection, recorder))
        backends = [
            await connection.fetchval("SELECT pg_backend_pid()")
            for pair in connections
            for connection in dict.fromkeys(pair)
        ]
        wal, calls, backend = await meter.fetchrow(_COUNTERS)
        postmaster = _parent(backend)
        steps = _Steps(backends if args.claimers == 1 else [])
        cpu = _server_cpu(postmaster)
        started = time.monotonic()
        counts = await asyncio.gather(
            *(
                _claimer(connection, recorder, design, owner, args, steps)
                for owner, (connection, recorder) in enumerate(connections, start=1)
            )
        )
        seconds = time.monotonic() - started
        cpu_after = _server_cpu(postmaster)
        wal_after, calls_after, _ = await meter.fetchrow(_COUNTERS)
    finally:
        for connection, recorder in connections:
            await connection.close()
            if recorder is not connection:
                await recorder.close()
        await meter.close()
    recorded = sum(counts)
    per = max(recorded, 1)
    return {
        "backends": [*backends, backend],
        "recorded": recorded,
        "seconds": seconds,
        "pg_cpu_us": round((cpu_after - cpu) / per * 1e6, 1),
        "wal_bytes": round((wal_after - wal) / per, 1),
        # less the two readings' own statements
        "statements_each": round((calls_after - calls - 2) / per, 4),
        **(
            {f"{step}_cpu_us": round(cpu / per * 1e6, 1) for step, cpu in steps.cpu.items()}
            if args.claimers == 1
            else {}
        ),
    }


def _measure_design(
    server: Any, name: str, round_: int, args: argparse.Namespace
) -> dict[str, Any]:
    url = create_database(server, f"floor_{name}_{round_}", args.locale)
    design = Design(name)
    _await_reaped(asyncio.run(_setup(url, design, args.deliveries, args.events)))
    # pg_meter's figures too (HookCast's are those): /proc/<pid>/stat's clock ticks of
    # the whole server, the connections' start and end and autovacuum included.
    meter = PostgresMeter(url)
    times = cpu_times()
    meter.start()
    drained = asyncio.run(_drain(url, design, args))
    for pid in drained.pop("backends"):
        _await_reaped(pid)
    cost = meter.stop(args.deliveries)
    steal = steal_percent(times, cpu_times())
    left, attempts = asyncio.run(_left(url, design))
    recorded = drained.pop("recorded")
    if recorded != args.deliveries or left or attempts not in (0, args.deliveries):
        raise SystemExit(f"{name}: {recorded} recorded, {attempts} attempts, {left} left")
    return {
        "design": name,
        "deliveries_per_second": round(args.deliveries / drained.pop("seconds")),
        **drained,
        "meter_pg_cpu_us": cost["pg_cpu_us"],
        "meter_wal_bytes": cost["wal_bytes"],
        "transactions": cost["transactions"],
        "load": round(os.getloadavg()[0], 2),
        "steal_percent": steal,
    }


def _hookcast(args: argparse.Namespace) -> dict[str, Any]:
    """One `pg_cost drain` of HookCast itself, as a child process (its own server)."""
    times = cpu_times()
    command = [sys.executable, "-m", "benchmarks.pg_cost", "drain"]
    command += ["--deliveries", str(args.deliveries), "--label", "floor"]
    output = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=True, timeout=900
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "design": "hookcast",
        "deliveries_per_second": result.get("rate_per_second"),
        "meter_pg_cpu_us": result.get("pg_cpu_us"),
        **{key: result.get(key) for key in ("wal_bytes", "statements_each", "transactions")},
        "updates": result.get("delivery_updates_each"),
        "hot_updates": result.get("hot_updates_each"),
        "load": round(os.getloadavg()[0], 2),
        "steal_percent": steal_percent(times, cpu_times()),
    }


def _hookcast_steps(args: argparse.Namespace) -> dict[str, Any]:
    """One `pg_steps` run of HookCast's store in process (one claimer, its own server):
    the claim's and the recording's share."""
    times = cpu_times()
    command = [sys.executable, "-m", "benchmarks.pg_steps", "--deliveries", str(args.deliveries)]
    output = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=True, timeout=900
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "design": "hookcast_steps",
        "pg_cpu_us": round(result["claim_cpu_us"] + result["record_cpu_us"], 1),
        "claim_cpu_us": result["claim_cpu_us"],
        "record_cpu_us": result["record_cpu_us"],
        "wal_bytes": result["claim_wal_bytes"] + result["record_wal_bytes"],
        "load": round(os.getloadavg()[0], 2),
        "steal_percent": steal_percent(times, cpu_times()),
    }


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for design in dict.fromkeys(r["design"] for r in results):
        mine = [r for r in results if r["design"] == design]
        summary[design] = {
            key: {
                "median": statistics.median(r[key] for r in mine),
                "min": min(r[key] for r in mine),
                "max": max(r[key] for r in mine),
            }
            for key in ("pg_cpu_us", "meter_pg_cpu_us", "wal_bytes", "statements_each")
            if all(isinstance(r.get(key), (int, float)) for r in mine)
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_floor", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--claim", type=int, default=512)
    parser.add_argument("--record", type=int, default=128)
    parser.add_argument(
        "--claimers",
        type=int,
        default=2,
        help="concurrent claimers; with one, the claims' and recordings' CPU apart",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--designs", type=lambda s: s.split(","), default=list(DESIGNS))
    parser.add_argument(
        "--no-events",
        dest="events",
        action="store_false",
        help="claims do not read their events (the queue alone)",
    )
    parser.add_argument(
        "--hookcast",
        action="store_true",
        help="each round also HookCast's drain (pg_cost) and its steps in process (pg_steps)",
    )
    parser.add_argument(
        "--locale",
        default="",
        help="each database's locale (e.g. C, en_US.UTF-8); default the server's C.UTF-8",
    )
    args = parser.parse_args()
    print(json.dumps({"events": args.events, "deliveries": args.deliveries}), flush=True)
    names = [*args.designs, *(["hookcast", "hookcast_steps"] if args.hookcast else [])]
    results: list[dict[str, Any]] = []
    with postgres_server(METER_SETTINGS) as server:
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for design in names[shift:] + names[:shift]:  # the order rotates by round
                if design == "hookcast":
                    result = _hookcast(args)
                elif design == "hookcast_steps":
                    result = _hookcast_steps(args)
                else:
                    result = _measure_design(server, design, round_, args)
                result["round"] = round_ + 1
                results.append(result)
                print(json.dumps(result), flush=True)
    print(json.dumps({"summary": _summary(results)}), flush=True)


if __name__ == "__main__":
    main()
