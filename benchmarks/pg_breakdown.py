"""Where PostgreSQL's work goes over a measured stretch, per unit of work: each statement's
calls, execution and planning time, rows, WAL bytes, shared blocks hit and dirtied and JIT
compilation (pg_stat_statements), each table's row writes and scans (catalogs too) and
each index's scans (pg_stat_all_tables, pg_stat_user_indexes; a day
partition counted with its parent), the vacuums and analyzes the stretch ran, the WAL by
record type (pg_walinspect's `pg_get_wal_stats` over the stretch's LSNs) and the CPU of
the server's processes by kind (client backends, autovacuum workers, the WAL writer, ...;
sampled every 20 ms, so that processes which exit meanwhile count too). Counters are
differences of two snapshots, so the seeding before the stretch is not in them.
`benchmarks.pg_cost drain --breakdown` prints it beside its figures."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from pathlib import Path
from typing import Any

from benchmarks.pg_meter import PostgresMeter, _run_seconds, _stat_fields

# pg_cost's server settings for a breakdown: planning timed too (a little dearer, so a
# breakdown run is not one of a measured pair).
BREAKDOWN_SETTINGS = ("pg_stat_statements.track_planning=on", "log_autovacuum_min_duration=0")

_STATEMENTS = """
SELECT queryid::text, left(regexp_replace(query, '\\s+', ' ', 'g'), 80), calls, plans,
       total_exec_time * 1e3, total_plan_time * 1e3, rows, wal_bytes::float8, wal_records,
       shared_blks_hit, shared_blks_read, shared_blks_dirtied, jit_functions,
       (jit_generation_time + jit_inlining_time + jit_optimization_time
        + jit_emission_time) * 1e3
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_STATEMENT_FIELDS = (
    "calls",
    "plans",
    "exec_us",
    "plan_us",
    "rows",
    "wal_bytes",
    "wal_records",
    "blks_hit",
    "blks_read",
    "blks_dirtied",
    "jit_functions",
    "jit_us",
)
_TABLES = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan,
       coalesce(idx_scan, 0), n_dead_tup
FROM pg_stat_all_tables WHERE schemaname <> 'information_schema'
"""
_TABLE_FIELDS = (
    "ins",
    "upd",
    "hot_upd",
    "del",
    "seq_scan",
    "idx_scan",
    "dead",
)
# Each table's last vacuum and analyze, by autovacuum or not: those of the stretch are new.
# (Their times, not pg_stat_all_tables' counts: in drains on PostgreSQL 15 the counts had
# not moved where the log and these times showed an autovacuum pass.)
_MAINTAINED = """
SELECT relname, kind, at::text FROM pg_stat_all_tables, LATERAL (VALUES
    ('autovacuum', last_autovacuum), ('autoanalyze', last_autoanalyze),
    ('vacuum', last_vacuum), ('analyze', last_analyze)) AS done(kind, at)
WHERE at IS NOT NULL
"""
_INDEXES = "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes"
_INDEX_FIELDS = ("scans", "tuples_read")
_SAMPLE_SECONDS = 0.02
# A day partition (deliveries_20261207, ix_deliveries_20261207_due, ...) counts with its parent.
_DAY = re.compile(r"_(\d{8})(?=_|$)")


def _family(name: str) -> str:
    return _DAY.sub("_*", name)


def _add(into: dict[str, list[float]], key: str, values: Any) -> None:
    totals = into.setdefault(key, [0.0] * len(values))
    for index, value in enumerate(values):
        totals[index] += float(value)


async def _snapshot(url: str) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        for extension in ("pg_stat_statements", "pg_walinspect"):
            await connection.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        statements: dict[str, list[float]] = {}
        texts: dict[str, str] = {}
        for row in await connection.fetch(_STATEMENTS):
            texts[row[0]] = row[1]
            _add(statements, row[0], row[2:])
        tables: dict[str, list[float]] = {}
        for row in await connection.fetch(_TABLES):
            _add(tables, _family(row[0]), row[1:])
        indexes: dict[str, list[float]] = {}
        for row in await connection.fetch(_INDEXES):
            _add(indexes, _family(row[0]), row[1:])
        lsn = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
        maintained = await connection.fetch(_MAINTAINED)
        postmaster = int(_stat_fields(await connection.fetchval("SELECT pg_backend_pid()"))[1])
    finally:
        await connection.close()
    return {
        "statements": statements,
        "texts": texts,
        "tables": tables,
        "indexes": indexes,
        "lsn": lsn,
        "maintained": {tuple(row) for row in maintained},
        "postmaster": postmaster,
    }


def _process_seconds(postmaster: int) -> dict[int, tuple[str, float]]:
    """The server's processes now alive: pid -> (kind, CPU seconds). The kind is the
    process's title ("walwriter", "autovacuum worker", "parallel worker", ...), or "backend"
    for a client's connection."""
    seen: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(entry.name)
            if int(_stat_fields(pid)[1]) != postmaster:
                continue
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            words = title.removeprefix("postgres: ").split(" ")
            kind = "backend" if "(" in title else " ".join(words[:2])
            seen[pid] = (kind, _run_seconds(pid))
    return seen


class _Sampler:
    """The server's processes read every `_SAMPLE_SECONDS` in a thread, so that those
    which exit within the stretch (a connection closed, an autovacuum or parallel worker)
    are counted too, up to their last sample."""

    def __init__(self, postmaster: int) -> None:
        self._postmaster = postmaster
        self.first = _process_seconds(postmaster)
        self.last = dict(self.first)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(_SAMPLE_SECONDS):
            self._sample()

    def _sample(self) -> None:
        for pid, (kind, seconds) in _process_seconds(self._postmaster).items():
            # An exited process not yet reaped has no title left: keep the one it had.
            self.last[pid] = (kind if kind else self.last.get(pid, (kind, 0.0))[0], seconds)

    def stop(self) -> dict[str, dict[str, float]]:
        """CPU seconds and processes by kind and by whether they were still alive."""
        self._stopping.set()
        self._thread.join(timeout=10)
        self._sample()
        alive = _process_seconds(self._postmaster)
        kinds: dict[str, dict[str, float]] = {}
        for pid, (kind, seconds) in self.last.items():
            name = kind if pid in alive else f"{kind} (exited)"
            was = self.first.get(pid, (kind, 0.0))[1]
            totals = kinds.setdefault(name, {"seconds": 0.0, "processes": 0})
            totals["seconds"] += seconds - was
            totals["processes"] += 1
        return kinds


async def _wal_records(url: str, start: str, end: str) -> list[dict[str, Any]]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            'SELECT "resource_manager/record_type" AS kind, count, combined_size'
            " FROM pg_get_wal_stats($1::text::pg_lsn, $2::text::pg_lsn, true) WHERE count > 0"
            " ORDER BY combined_size DESC LIMIT 16",
            start,
            end,
        )
        return [dict(row) for row in rows]
    finally:
        await connection.close()


def _difference(
    before: dict[str, list[float]], after: dict[str, list[float]], fields: tuple[str, ...], per: int
) -> dict[str, dict[str, float]]:
    changed = {}
    for key, values in after.items():
        was = before.get(key, [0.0] * len(values))
        moved = [(now - then) / per for now, then in zip(values, was, strict=True)]
        if any(moved):
            changed[key] = {
                field: round(value, 4) for field, value in zip(fields, moved, strict=True)
            }
    return changed


class Breakdown:
    """Snapshots of one database's statistics before and after a stretch of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._start: dict[str, Any] | None = None
        self._sampler: _Sampler | None = None

    def start(self) -> None:
        self._start = asyncio.run(_snapshot(self.url))
        self._sampler = _Sampler(self._start["postmaster"])

    def stop(self, per: int, *, statements: int = 14) -> dict[str, Any]:
        """The stretch's counters per unit (`per` deliveries); the `statements` with the most
        execution and planning time (µs)."""
        assert self._start is not None
        assert self._sampler is not None
        processes = self._sampler.stop()
        end, start = asyncio.run(_snapshot(self.url)), self._start
        moved = _difference(start["statements"], end["statements"], _STATEMENT_FIELDS, per)
        top = sorted(moved.items(), key=lambda item: -(item[1]["exec_us"] + item[1]["plan_us"]))
        wal = asyncio.run(_wal_records(self.url, start["lsn"], end["lsn"]))
        return {
            "statements": [
                {**figures, "query": end["texts"][key]} for key, figures in top[:statements]
            ],
            "tables": _difference(start["tables"], end["tables"], _TABLE_FIELDS, per),
            # (table, which, when) of each vacuum and analyze the stretch ran
            "maintained": sorted(end["maintained"] - start["maintained"]),
            "indexes": _difference(start["indexes"], end["indexes"], _INDEX_FIELDS, per),
            "wal_records": [
                {
                    **row,
                    "count": round(row["count"] / per, 3),
                    "combined_size": round(row["combined_size"] / per, 1),
                }
                for row in wal
            ],
            "process_cpu_us": {
                kind: {"cpu_us": round(totals["seconds"] / per * 1e6, 2), **totals}
                for kind, totals in sorted(processes.items())
            },
        }


class BrokenDownMeter(PostgresMeter):
    """A PostgresMeter whose figures also carry the stretch's `Breakdown` (its snapshots
    taken outside the meter's, so the meter does not count their statements)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._breakdown = Breakdown(url)

    def start(self) -> None:
        self._breakdown.start()
        super().start()

    def stop(self, per: int) -> dict[str, Any]:
        cost = super().stop(per)
        return {**cost, "breakdown": self._breakdown.stop(per)}
