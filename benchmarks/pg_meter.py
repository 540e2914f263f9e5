"""What PostgreSQL itself does for a measured stretch of work: the CPU time of the server's
processes (from /proc, the postmaster and every backend it forked, those that exited
included), the WAL it wrote, the statements and transactions it ran (pg_stat_statements
and pg_stat_database), the row updates of deliveries' partitions with how many of them
were HOT (pg_stat_user_tables), and the bytes it sent its clients (the kernel's count per
TCP connection, `ss`). Divided by the deliveries or events of the stretch, these
are the figures docs/benchmarks.md reports for the scaled-out deployment."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.config import BenchFailure

# Settings the measuring server starts with: pg_stat_statements counts the statements.
METER_SETTINGS = ("shared_preload_libraries=pg_stat_statements",)
_STATS_FLUSH_SECONDS = 1.2  # backends report their counters at most once a second when idle

_SNAPSHOT = """
SELECT pg_current_wal_lsn() - '0/0'::pg_lsn,
       (SELECT xact_commit + xact_rollback FROM pg_stat_database
         WHERE datname = current_database()),
       (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
       pg_backend_pid(),
       (SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables
         WHERE relname LIKE 'deliveries%'),
       (SELECT coalesce(sum(n_tup_hot_upd), 0) FROM pg_stat_user_tables
         WHERE relname LIKE 'deliveries%')
"""


@dataclass(frozen=True)
class Snapshot:
    cpu_seconds: float
    wal_bytes: int
    transactions: int
    statements: int
    # Row updates of deliveries' partitions, and how many of them were HOT (no index entry).
    updates: int
    hot_updates: int


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def _run_seconds(pid: int) -> float:
    """CPU time of one single-threaded process by the scheduler's count (ns), not in ticks."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU time of the postmaster, its live children and (cutime, cstime) those reaped: the
    live ones by the scheduler's count (/proc/<pid>/schedstat), the reaped ones in ticks
    (10 ms each, all the kernel keeps of them; an idle stretch's backends live throughout)."""
    fields = _stat_fields(postmaster)
    seconds = _run_seconds(postmaster)
    seconds += sum(int(fields[index]) for index in (13, 14)) / os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            child = _stat_fields(int(entry.name))
            if int(child[1]) == postmaster:  # ppid
                seconds += _run_seconds(int(entry.name))
    return seconds


async def _counters(url: str) -> tuple[int, ...]:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        row = await connection.fetchrow(_SNAPSHOT)
        # The postmaster: the parent of this backend, read while the backend lives.
        return int(row[0]), int(row[1]), int(row[2]), _ppid(int(row[3])), int(row[4]), int(row[5])
    finally:
        await connection.close()


async def _top_statements(url: str, limit: int) -> list[dict[str, Any]]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT calls, round(total_exec_time)::int AS ms, rows,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query"
            " FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY calls DESC LIMIT $1",
            limit,
        )
        return [dict(row) for row in rows]
    finally:
        await connection.close()


async def _claims(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                " WHERE query LIKE '%SKIP LOCKED%'"
                " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    finally:
        await connection.close()


async def _statement_calls(url: str) -> dict[str, tuple[int, float, str]]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT queryid::text AS id, calls, total_exec_time,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query"
            " FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return {row["id"]: (row["calls"], row["total_exec_time"], row["query"]) for row in rows}
    finally:
        await connection.close()


def _ppid(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def bytes_sent(port: int) -> dict[tuple[str, str], int]:
    """What the server listening on `port` has sent on each of its TCP connections open now
    (the kernel's `bytes_sent`, read with `ss`), by (local, peer) address: the result rows
    and every other answer, as its clients received them."""
    listing = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    sent: dict[tuple[str, str], int] = {}
    connection: tuple[str, str] | None = None
    for line in listing.splitlines():
        if not line[:1].isspace():  # a connection: Recv-Q Send-Q Local Peer
            local, peer = line.split()[2:4]
            connection = (local, peer)
        elif connection is not None and (found := _BYTES_SENT.search(line)):
            sent[connection] = int(found.group(1))
    return sent


_BYTES_SENT = re.compile(r"\bbytes_sent:(\d+)")


class PostgresMeter:
    """Snapshots of one database's server, before and after a stretch of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._postmaster: int | None = None
        self._start: Snapshot | None = None
        self._port = urlsplit(url).port or 5432
        self._sent: dict[tuple[str, str], int] = {}

    def snapshot(self) -> Snapshot:
        cpu_before = None if self._postmaster is None else postgres_cpu_seconds(self._postmaster)
        wal, _, _, postmaster, _, _ = asyncio.run(_counters(self.url))
        if self._postmaster is None:
            self._postmaster = postmaster
            cpu_before = postgres_cpu_seconds(self._postmaster)
        assert cpu_before is not None
        # The counters lag up to a second behind the backends (reported when idle).
        time.sleep(_STATS_FLUSH_SECONDS)
        _, transactions, statements, _, updates, hot = asyncio.run(_counters(self.url))
        return Snapshot(cpu_before, wal, transactions, statements, updates, hot)

    def start(self) -> None:
        self._start = self.snapshot()
        self._sent = bytes_sent(self._port)

    def stop(self, per: int) -> dict[str, Any]:
        """The stretch's figures per unit (`per` deliveries or events)."""
        assert self._start is not None
        end, start = self.snapshot(), self._start
        # Connections closed meanwhile are not counted: the workers keep theirs throughout.
        sent = sum(n - self._sent.get(key, 0) for key, n in bytes_sent(self._port).items())
        return {
            "pg_cpu_us": round((end.cpu_seconds - start.cpu_seconds) / per * 1e6, 1),
            "wal_bytes": round((end.wal_bytes - start.wal_bytes) / per, 1),
            "transactions": round((end.transactions - start.transactions) / per, 3),
            "statements_each": round((end.statements - start.statements) / per, 3),
            "delivery_updates_each": round((end.updates - start.updates) / per, 3),
            "hot_updates_each": round((end.hot_updates - start.hot_updates) / per, 3),
            # sent by the server on the connections open at the end
            "pg_bytes_sent": round(sent / per),
        }

    def claims(self) -> int:
        """Claims run so far (the statements that lock with SKIP LOCKED)."""
        return asyncio.run(_claims(self.url))

    def statement_calls(self) -> dict[str, tuple[int, float, str]]:
        """Every statement's calls and execution time so far, by query id."""
        return asyncio.run(_statement_calls(self.url))

    def top_statements(self, limit: int = 12) -> list[dict[str, Any]]:
        return asyncio.run(_top_statements(self.url, limit))


def wait_recorded(url: str, expected: int, *, children: Any, timeout: float = 60.0) -> None:
    """Until `expected` attempts are recorded (the recorders flush a little behind the
    receipts), bounded; `children` are checked to be alive meanwhile."""
    _wait_rows(url, "attempts", expected, children=children, timeout=timeout)


def wait_registered(url: str, workers: int, *, children: Any, timeout: float = 60.0) -> None:
    """Until `workers` workers have registered (a worker does once it has started), bounded."""
    _wait_rows(url, "workers", workers, children=children, timeout=timeout)


def _wait_rows(url: str, table: str, expected: int, *, children: Any, timeout: float) -> None:
    """Until `table` holds `expected` rows, at most `timeout` seconds (BenchFailure then),
    with `children` checked to be alive meanwhile."""
    deadline = time.monotonic() + timeout
    while asyncio.run(_count(url, table)) < expected:
        if time.monotonic() > deadline:
            raise BenchFailure(f"fewer than {expected} {table} recorded after {timeout} s")
        children.check_alive()
        time.sleep(0.1)


async def _count(url: str, table: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()
