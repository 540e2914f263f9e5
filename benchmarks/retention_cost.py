"""python -m benchmarks.retention_cost [--deliveries N]: what retention costs PostgreSQL to
remove one day of N finished deliveries (each with one attempt and its event), row by row as
before migration 0016 against dropping the day's partitions after it, on a server with its
durable defaults: wall time, WAL bytes (pg_current_wal_lsn) and the server's CPU seconds.
The events (not partitioned) are deleted row by row in both; measured apart."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from benchmarks.scaling import durable_postgres, postgres_cpu
from hookcast.store import migrate
from hookcast.store.asyncpg_connector import AsyncpgConnector
from hookcast.store.migrate import upgrade_to
from hookcast.store.operations import _PRUNE_DELIVERIES, _PRUNE_EVENTS, drop_old_days
from hookcast.store.types import to_micros

_BATCH = 1000  # retention's rows per transaction (delivery/retention.py)
_HEADERS = '{"content-type":"application/json","user-agent":"HookCast","webhook-id":"msg_x"}'
_SEED = (
    "INSERT INTO accounts (id, name, created) VALUES ('acct0001', 'a', 0)",
    "INSERT INTO webhooks (id, account_id, name, description, webhook_url, enabled, "
    "retry_policy, timeout_seconds, secret_encrypted, created, last_modified) VALUES "
    "('hook0001', 'acct0001', 'h', '', 'https://example.com/', true, '{}', 5, 'x', 0, 0)",
)
# $1: the day's first µs, $2: how many; attempts' $3: their request headers.
_EVENTS = """
    INSERT INTO events (account_id, id, site_id, type, resource_ids, event_time, created)
    SELECT 'acct0001', 'evt_' || n, 'site0001', 'media_available',
        '{"media_id":"M' || n || '"}', $1::bigint + n, $1::bigint + n
    FROM generate_series(1, $2::int) AS n
"""
_DELIVERIES = """
    INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,
        next_attempt_at, created, completed_at)
    SELECT 'dlv_' || n, 'acct0001', 'evt_' || n, 'hook0001', 'succeeded', 1,
        $1::bigint + n, $1::bigint + n, $1::bigint + n + 1000
    FROM generate_series(1, $2::int) AS n
"""
_ATTEMPTS = """
    INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
        latency_ms, response_body)
    SELECT 'dlv_' || n, 1, $1::bigint + n + 500, $3, 204, 1.5, ''
    FROM generate_series(1, $2::int) AS n
"""


async def _seed(url: str, day: datetime, deliveries: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for statement in _SEED:
                await conn.execute(statement)
            start = to_micros(day)
            await conn.execute(_EVENTS, start, deliveries)
            await conn.execute(_DELIVERIES, start, deliveries)
            await conn.execute(_ATTEMPTS, start, deliveries, _HEADERS)
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def _wal(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
    finally:
        await conn.close()


async def _measured(url: str, postmaster: int, work: Callable[[], Awaitable[int]]) -> Any:
    wal, cpu, began = await _wal(url), postgres_cpu(postmaster), time.monotonic()
    rows = await work()
    return {
        "rows": rows,
        "seconds": round(time.monotonic() - began, 3),
        "wal_bytes": await _wal(url) - wal,
        "postgresql_cpu_s": round(postgres_cpu(postmaster) - cpu, 2),
    }


async def _batches(connector: AsyncpgConnector, statement: Any, before: datetime) -> int:
    total = 0
    while True:
        async with connector.writing() as tx:
            done = await tx.execute(statement, {"b_before": before, "b_limit": _BATCH})
        total += done
        if done < _BATCH:
            return total


async def _drop(connector: AsyncpgConnector, before: datetime) -> int:
    return await drop_old_days(connector.writing, before)


async def measure(url: str, postmaster: int, *, deliveries: int, partitioned: bool) -> Any:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day += timedelta(days=1)  # a day the migration created ahead
    await _seed(url, day, deliveries)
    before = day + timedelta(days=1)
    connector = AsyncpgConnector(url)
    try:
        if partitioned:
            log = await _measured(url, postmaster, lambda: _drop(connector, before))
        else:
            log = await _measured(
                url, postmaster, lambda: _batches(connector, _PRUNE_DELIVERIES, before)
            )
        events = await _measured(
            url, postmaster, lambda: _batches(connector, _PRUNE_EVENTS, before)
        )
    finally:
        await connector.close()
    return {"deliveries_and_attempts": log, "events": events}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retention_cost")
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    results: dict[str, Any] = {"deliveries": args.deliveries}
    with durable_postgres() as server:
        from support.postgres import run_sql  # type: ignore[import-not-found,unused-ignore]

        for label, partitioned in (("row by row (0011)", False), ("day dropped (0016)", True)):
            name = "retention_partitioned" if partitioned else "retention_rows"
            run_sql(server.url(), f"CREATE DATABASE {name}")
            url = server.url(name)
            if partitioned:
                migrate(url)
            else:
                asyncio.run(upgrade_to(url, "0011_portal_settings"))
            results[label] = asyncio.run(
                measure(
                    url, server._process.pid, deliveries=args.deliveries, partitioned=partitioned
                )
            )
            print(label, json.dumps(results[label]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
