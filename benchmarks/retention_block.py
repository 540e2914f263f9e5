"""python -m benchmarks.retention_block [--days D] [--deliveries N]: how long one retention
pass over a backlog of D finished days (N deliveries each, with their attempts and events)
keeps a concurrent write of `deliveries` waiting on PostgreSQL (durable defaults).

The pass is the store's own (`SqlStore.prune_before`), so the code of the worktree it runs in
is measured. While it runs, a second session inserts one delivery at a time (a publish's
write of the table, rolled back) and times each: the longest is how long a publish or a
claim waited (both lock `deliveries` in a mode a DROP's ACCESS EXCLUSIVE lock excludes).
Run it in two worktrees, in interleaved pairs, to compare their code
(docs/benchmarks/postgres-delivery.md, "Retention by day, a transaction per day")."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from benchmarks.retention_cost import _ATTEMPTS, _HEADERS, _SEED
from benchmarks.scaling import durable_postgres
from hookcast.store import migrate, open_store
from hookcast.store.asyncpg_connector import AsyncpgConnector
from hookcast.store.partitions import create_ahead
from hookcast.store.types import to_micros

# Per day, with the day's number in the ids ($3): the events and deliveries of retention_cost.
_EVENTS = """
    INSERT INTO events (account_id, id, site_id, type, resource_ids, event_time, created)
    SELECT 'acct0001', 'evt_' || $3::text || '_' || n, 'site0001', 'media_available',
        '{"media_id":"M' || n || '"}', $1::bigint + n, $1::bigint + n
    FROM generate_series(1, $2::int) AS n
"""
_DELIVERIES = """
    INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,
        next_attempt_at, created, completed_at)
    SELECT 'dlv_' || $3::text || '_' || n, 'acct0001', 'evt_' || $3::text || '_' || n,
        'hook0001', 'succeeded', 1, $1::bigint + n, $1::bigint + n, $1::bigint + n + 1000
    FROM generate_series(1, $2::int) AS n
"""
_DAY_ATTEMPTS = _ATTEMPTS.replace("'dlv_' || n", "'dlv_' || $4::text || '_' || n")
# The probe: one pending delivery of a day the pass keeps (the default partition), undone.
_PROBE = """
    INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,
        next_attempt_at, created)
    VALUES ('probe', 'acct0001', 'evt_probe', 'hook0001', 'pending', 0, 0, 0)
"""
# Its event, of a day no pass here reaches.
_PROBE_EVENT = """
    INSERT INTO events (account_id, id, site_id, type, resource_ids, event_time, created)
    VALUES ('acct0001', 'evt_probe', 'site0001', 'media_available', '{}', 0, 9e15::bigint)
"""


async def _seed(url: str, first: datetime, days: int, deliveries: int) -> None:
    connector = AsyncpgConnector(url)
    try:
        async with connector.writing() as tx:
            await create_ahead(tx, now=first - timedelta(days=1), days=days)
    finally:
        await connector.close()
    conn = await asyncpg.connect(url)
    try:
        for statement in (*_SEED, _PROBE_EVENT):
            await conn.execute(statement)
        for number in range(days):
            start = to_micros(first + timedelta(days=number))
            async with conn.transaction():
                await conn.execute(_EVENTS, start, deliveries, str(number))
                await conn.execute(_DELIVERIES, start, deliveries, str(number))
                await conn.execute(_DAY_ATTEMPTS, start, deliveries, _HEADERS, str(number))
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def _probes(url: str, stop: asyncio.Event) -> list[float]:
    """Each probe's wall seconds (its insert and rollback) until `stop` is set."""
    conn = await asyncpg.connect(url)
    waits: list[float] = []
    try:
        while not stop.is_set():
            began = time.monotonic()
            probe = conn.transaction()
            await probe.start()
            await conn.execute(_PROBE)
            await probe.rollback()
            waits.append(time.monotonic() - began)
    finally:
        await conn.close()
    return waits


async def measure(url: str, *, days: int, deliveries: int) -> Any:
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first += timedelta(days=1)
    await _seed(url, first, days, deliveries)
    store = await open_store(url, secret_key=b"k" * 32)
    stop = asyncio.Event()
    try:
        probing = asyncio.ensure_future(_probes(url, stop))
        began = time.monotonic()
        pruned = await store.prune_before(first + timedelta(days=days), limit=1000)
        seconds = time.monotonic() - began
        stop.set()
        waits = await probing
    finally:
        await store.close()
    return {
        "days": days,
        "deliveries_per_day": deliveries,
        "dropped": pruned.deliveries,
        "pass_s": round(seconds, 3),
        "probes": len(waits),
        "longest_probe_ms": round(max(waits) * 1000, 1),
        "median_probe_ms": round(sorted(waits)[len(waits) // 2] * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retention_block")
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with durable_postgres() as server:
        migrate(server.url())
        result = asyncio.run(measure(server.url(), days=args.days, deliveries=args.deliveries))
    print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
