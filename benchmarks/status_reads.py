"""python -m benchmarks.status_reads: what the API's reads of deliveries' status cost
PostgreSQL when a succeeded delivery's status is derived (benchmarks/floor_designs.py's
`shaped_narrow`: its row written once at publish and never updated on success, a pending
row while it is due) instead of written (HookCast's rows today, `shaped_c`), on a table of
`--deliveries` (200,000) finished deliveries of ten webhooks of one account, created over
the last day: 98% succeeded with one attempt, 2% failed after three, and one in 200 still
pending (in both: a delivery not yet tried).

The reads, as HookCast's store makes them (store/deliveries.py `list_deliveries`,
store/stats.py `count_by_hour`), each run `--repeat` times per measurement on one
connection:

  rows       the page's first statement alone (its 50 rows), where the derivation is
  page       a webhook's delivery-log page: its 50 newest deliveries, the total, their
             attempts (three statements); derived: each row's pending row probed by
             the delivery's key in the page's statement (`queued`)
  succeeded  the same page filtered to succeeded deliveries; derived: rows still marked
             pending whose pending row is absent
  counts     the ten webhooks' deliveries per hour and status over the day, with the
             attempts they made (one statement); derived: the pending table's rows
             grouped the same way in the same statement, subtracted from the rows still
             marked pending (the rest succeeded, each with one attempt more than its row
             says)
  counts_each  counts derived row by row instead: each row still marked pending probes
             the pending table (what subtraction avoids)

PostgreSQL's CPU per read from /proc/<pid>/schedstat of the server's live processes (the
connection open before and after). Before measuring, the derived figures are checked
against today's: the same statuses and attempt counts on a page, the same counts. Rounds
alternate which design runs first; one JSON line per measurement, with the load average
and steal, then the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections import Counter
from typing import Any

from benchmarks.floor_designs import HEADERS, tables
from benchmarks.pg_meter import METER_SETTINGS
from benchmarks.pg_steps import _parent, server_cpu_seconds
from benchmarks.procs import cpu_times, steal_percent
from benchmarks.servers import create_database, postgres_server

ACCOUNT = "BaFiyadE"
WEBHOOKS = [f"wh{n}" for n in range(10)]
_HOUR = 3_600_000_000
_DAY = 24 * _HOUR

# Delivery g of the day: one in 200 pending (never tried), one in 50 failed after three
# attempts, the rest succeeded at their first. Event g // 10 fans out to webhook g % 10.
_KIND = "CASE WHEN g % 200 = 0 THEN 'pending' WHEN g % 50 = 1 THEN 'failed' ELSE 'succeeded' END"
_DELIVERIES = f"""
INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,
                        next_attempt_at, created, last_status_code, completed_at)
SELECT 'dlv_' || md5(g::text)::varchar(22), '{ACCOUNT}', 'evt-' || lpad((g / 10)::text, 7, '0'),
    'wh' || (g % 10), k.kind, CASE k.kind WHEN 'pending' THEN 0 WHEN 'failed' THEN 3 ELSE 1 END,
    t.at, t.at, CASE k.kind WHEN 'pending' THEN NULL WHEN 'failed' THEN 500 ELSE 204 END,
    CASE WHEN k.kind = 'pending' THEN NULL ELSE t.at + 1000 END
FROM generate_series(1, $1) g, LATERAL (SELECT {_KIND} AS kind) k,
    LATERAL (SELECT $2::bigint + g * ({_DAY} / $1) AS at) t
ORDER BY g
"""
_ATTEMPTS = f"""
INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                      latency_ms, response_body, error)
SELECT d.id, n, d.created + n * 100, '{HEADERS}', d.last_status_code, 1.0, '', NULL
FROM deliveries d, generate_series(1, 3) n
WHERE d.status <> 'pending' AND n <= d.attempts
ORDER BY d.created, n
"""
# The derived design: the pending rows, then each succeeded row as publish wrote it.
_PENDING = """
INSERT INTO pending (delivery_id, created, account_id, next_attempt_at, event_id, webhook_id,
                     attempts)
SELECT id, created, account_id, next_attempt_at, event_id, webhook_id, attempts
FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at
"""
_AS_PUBLISHED = """
UPDATE deliveries SET status = 'pending', attempts = 0, last_status_code = NULL,
    completed_at = NULL
WHERE status = 'succeeded'
"""

_COLUMNS = "d.id, d.status, d.attempts, d.last_status_code, d.created, d.completed_at"
_OF_WEBHOOK = "d.account_id = $1 AND d.webhook_id = $2"
_NEWEST = "ORDER BY d.created DESC, d.id DESC LIMIT 50"
# A page's rows each probe the pending table's delivery_id index. In the select list,
# EXISTS had the planner hash the whole pending table once per page instead (a seq scan of
# its 1,000 rows: 377 µs per page's statement against 82, load 13): a scalar subquery with
# LIMIT 1 keeps the probes. In a page's WHERE it is the other way round: NOT EXISTS is an
# anti join probing row by row (0.11 ms by EXPLAIN ANALYZE), the scalar subquery 10-14 ms.
_QUEUED = "coalesce((SELECT true FROM pending p WHERE p.delivery_id = d.id LIMIT 1), false)"
_NOT_QUEUED = "NOT EXISTS (SELECT 1 FROM pending p WHERE p.delivery_id = d.id)"
_TOTAL = f"SELECT count(*) FROM deliveries d WHERE {_OF_WEBHOOK}"
_ATTEMPTS_OF = (
    "SELECT delivery_id, number, status_code, started_at FROM attempts"
    " WHERE delivery_id = ANY($1::text[]) ORDER BY delivery_id, number, id"
)
_BY_HOUR = f"""
SELECT d.webhook_id, d.created / {_HOUR} AS hour, d.status, count(*) AS n,
    sum(d.attempts) AS tried
FROM deliveries d
WHERE d.account_id = $1 AND d.webhook_id = ANY($2::text[]) AND d.created >= $3
GROUP BY d.webhook_id, hour, d.status
"""
_PAGES = {
    "today": {
        "page": f"SELECT {_COLUMNS} FROM deliveries d WHERE {_OF_WEBHOOK} {_NEWEST}",
        "succeeded": f"SELECT {_COLUMNS} FROM deliveries d WHERE {_OF_WEBHOOK}"
        f" AND d.status = 'succeeded' {_NEWEST}",
    },
    "derived": {
        "page": f"SELECT {_COLUMNS}, {_QUEUED} AS queued FROM deliveries d"
        f" WHERE {_OF_WEBHOOK} {_NEWEST}",
        "succeeded": f"SELECT {_COLUMNS}, false AS queued FROM deliveries d WHERE {_OF_WEBHOOK}"
        f" AND d.status = 'pending' AND {_NOT_QUEUED} {_NEWEST}",
    },
}
_COUNTS = {
    "today": _BY_HOUR,
    # the pending table's rows grouped as the deliveries' are, marked `queued`
    "derived": f"""
SELECT *, false AS queued FROM ({_BY_HOUR}) rows
UNION ALL
SELECT p.webhook_id, p.created / {_HOUR}, 'pending', count(*), sum(p.attempts), true
FROM pending p
WHERE p.account_id = $1 AND p.webhook_id = ANY($2::text[]) AND p.created >= $3
GROUP BY p.webhook_id, p.created / {_HOUR}
""",
}
_COUNTS_EACH = (
    _BY_HOUR.replace(
        "d.status, count(*)",
        f"CASE WHEN d.status = 'pending' AND {_NOT_QUEUED} THEN 'succeeded' ELSE d.status END"
        " AS status, count(*)",
    )
    .replace(
        "sum(d.attempts)",
        f"sum(d.attempts + CASE WHEN d.status = 'pending' AND {_NOT_QUEUED} THEN 1 ELSE 0 END)",
    )
    .replace("GROUP BY d.webhook_id, hour, d.status", "GROUP BY d.webhook_id, hour, 3")
)


async def _create(url: str, design: str, deliveries: int, start: int) -> None:
    """The design's tables with `deliveries` created from `start` (µs) over a day."""
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        schema = tables("shaped_c" if design == "today" else "shaped_narrow")
        for statement in schema:
            await connection.execute(statement, *([0] if "$1" in statement else []))
        await connection.execute(_DELIVERIES, deliveries, start)
        await connection.execute(_ATTEMPTS)
        if design == "derived":
            await connection.execute(_PENDING)
            await connection.execute(_AS_PUBLISHED)
            await connection.execute("VACUUM FULL deliveries")  # as if written once
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def _status(row: Any, attempts: list[Any]) -> tuple[str, int, int | None]:
    """A delivery's status, attempt count and last status code, derived where its row was
    not updated: marked pending and not queued means its last attempt succeeded."""
    if row.get("queued") is False and row["status"] == "pending":
        return "succeeded", row["attempts"] + 1, attempts[-1]["status_code"]
    return row["status"], row["attempts"], row["last_status_code"]


async def _page(connection: Any, design: str, read: str, webhook: str) -> list[Any]:
    rows = await connection.fetch(_PAGES[design][read], ACCOUNT, webhook)
    await connection.fetchval(_TOTAL, ACCOUNT, webhook)
    tried: dict[str, list[Any]] = {}
    for attempt in await connection.fetch(_ATTEMPTS_OF, [row["id"] for row in rows]):
        tried.setdefault(attempt["delivery_id"], []).append(attempt)
    return [(row["id"], *_status(dict(row), tried.get(row["id"], []))) for row in rows]


async def _counts(connection: Any, design: str, read: str) -> Counter[Any]:
    since = int(time.time() * 1e6) - _DAY - _HOUR
    statement = _COUNTS_EACH if read == "counts_each" else _COUNTS[design]
    counts: Counter[Any] = Counter()
    for row in await connection.fetch(statement, ACCOUNT, WEBHOOKS, since):
        key = (row["webhook_id"], row["hour"])
        if row.get("queued"):  # still pending: the rest of the rows marked pending succeeded
            counts[(*key, "succeeded", "n")] -= row["n"]
            counts[(*key, "succeeded", "tried")] -= row["tried"] + row["n"]
            counts[(*key, "pending", "n")] += row["n"]
            counts[(*key, "pending", "tried")] += row["tried"]
            continue
        status = row["status"]
        succeeded = design == "derived" and status == "pending" and read == "counts"
        counts[(*key, "succeeded" if succeeded else status, "n")] += row["n"]
        counts[(*key, "succeeded" if succeeded else status, "tried")] += row["tried"] + (
            row["n"] if succeeded else 0
        )
    return Counter({key: value for key, value in counts.items() if value})


async def _read(connection: Any, design: str, read: str, turn: int) -> Any:
    if read == "rows":  # the page's own statement alone, where the derivation is
        webhook = WEBHOOKS[turn % len(WEBHOOKS)]
        return await connection.fetch(_PAGES[design]["page"], ACCOUNT, webhook)
    if read in ("page", "succeeded"):
        return await _page(connection, design, read, WEBHOOKS[turn % len(WEBHOOKS)])
    return await _counts(connection, design, read)


async def _check(urls: dict[str, str]) -> None:
    """The derived statuses and counts are today's, or the figures measure a wrong read."""
    import asyncpg

    found: dict[str, dict[str, Any]] = {}
    for design, url in urls.items():
        connection = await asyncpg.connect(url)
        try:
            found[design] = {
                read: await _read(connection, design, read, 3)
                for read in ("page", "succeeded", "counts")
            }
            if design == "derived":
                found[design]["counts_each"] = await _read(connection, design, "counts_each", 3)
        finally:
            await connection.close()
    today, derived = found["today"], found["derived"]
    for read in ("page", "succeeded", "counts"):
        if today[read] != derived[read] or not today[read]:
            raise SystemExit(f"{read}: derived {_apart(derived[read], today[read])}")
    if derived["counts_each"] != today["counts"]:
        raise SystemExit("counts_each: the row-by-row derivation differs from today's counts")


def _apart(derived: Any, today: Any) -> str:
    """What differs, briefly."""
    if isinstance(today, Counter):
        keys = sorted(key for key in today.keys() | derived.keys() if today[key] != derived[key])
        return ", ".join(f"{key}: {derived[key]} against {today[key]}" for key in keys[:5])
    return f"{derived[:3]} against today's {today[:3]}"


async def _measure(url: str, design: str, read: str, repeat: int) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for turn in range(5):  # past the custom plans of a prepared statement's first runs
            await _read(connection, design, read, turn)
        postmaster = _parent(await connection.fetchval("SELECT pg_backend_pid()"))
        times = cpu_times()
        cpu = server_cpu_seconds(postmaster)
        started = time.monotonic()
        for turn in range(repeat):
            await _read(connection, design, read, turn)
        seconds = time.monotonic() - started
        cpu = server_cpu_seconds(postmaster) - cpu
    finally:
        await connection.close()
    return {
        "design": design,
        "read": read,
        "pg_cpu_us": round(cpu / repeat * 1e6, 1),
        "wall_us": round(seconds / repeat * 1e6, 1),
        "load": round(os.getloadavg()[0], 2),
        "steal_percent": steal_percent(times, cpu_times()),
    }


# what each measurement runs `--repeat` divided by
_READS = {"rows": 1, "page": 1, "succeeded": 1, "counts": 20, "counts_each": 20}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.status_reads", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=400, help="page reads per measurement")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with postgres_server(METER_SETTINGS) as server:
        urls = {design: create_database(server, f"reads_{design}") for design in _COUNTS}
        start = int(time.time() * 1e6) - _DAY  # the same hours in both
        for design, url in urls.items():
            asyncio.run(_create(url, design, args.deliveries, start))
        asyncio.run(_check(urls))
        for round_ in range(args.rounds):
            for read, divisor in _READS.items():
                designs = ["derived"] if read == "counts_each" else list(urls)
                for design in designs if round_ % 2 == 0 else designs[::-1]:
                    repeat = max(args.repeat // divisor, 1)
                    result = asyncio.run(_measure(urls[design], design, read, repeat))
                    result["round"] = round_ + 1
                    results.append(result)
                    print(json.dumps(result), flush=True)
    summary = {
        f"{r['design']} {r['read']}": statistics.median(
            s["pg_cpu_us"] for s in results if (s["design"], s["read"]) == (r["design"], r["read"])
        )
        for r in results
    }
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
