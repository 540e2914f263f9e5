"""An idle worker on PostgreSQL looks at the next due time in its beat's own statement: one
round trip a beat, not a beat and a read of the next due time
(docs/benchmarks/postgres-low-rates.md, "The idle look in the beat"). What it sleeps on is a beat's
read sent after its wait began, so a delivery that falls due without a wake-up is still claimed at
its time.

Statements are counted by the server (pg_stat_statements, on a server of the test's own,
for it must be loaded when the server starts), between the worker's own beats: no timing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from delivery_harness import Deployment, processes, require_postgres
from receivers import answer
from test_delivery_guarantees import SUBPROCESS_ENV

from hookcast.delivery.worker import WorkerOptions
from hookcast.store.migrate import migrate
from support.postgres import postgres_server, run_sql
from support.waiting import STARTING, eventually

# A worker as `hookcast worker` runs one: it looks at the next due time after a second idle.
IDLE = WorkerOptions(concurrency=32, lease_seconds=30.0)
# How late after its due time an idle worker may claim what fell due unannounced: it sleeps
# until the due time its latest beat read (main read it a second apart, as often as it beats).
LATE_BOUND = 1.0


@pytest.fixture
def counted_database(database_url: str) -> Iterator[str]:
    """A migrated database on a server that counts statements (pg_stat_statements), beside
    `database_url`'s PostgreSQL run only: its SQLite run skips here, before the server is
    started and migrated for nothing (2-3 s on a quiet machine)."""
    require_postgres(database_url)
    with postgres_server(("shared_preload_libraries=pg_stat_statements",)) as server:
        if server is None:
            pytest.skip("PostgreSQL is not installed")
        run_sql(server.url(), "CREATE EXTENSION pg_stat_statements", "CREATE DATABASE idle")
        url = server.url("idle")
        migrate(url)
        yield url


class _Counts:
    """The statements the server ran in the test's database: the workers' beats (the
    statement that writes their row) and all others. Read from another database, so the
    reading is not counted."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url.rsplit("/", 1)[0] + "/postgres"

    async def now(self) -> tuple[int, int]:
        connection = await asyncpg.connect(self._url, timeout=5)
        try:
            row = await connection.fetchrow(
                """SELECT
                    coalesce(sum(calls) FILTER (WHERE query LIKE '%INSERT INTO workers%'), 0),
                    coalesce(sum(calls) FILTER (WHERE query NOT LIKE '%INSERT INTO workers%'), 0)
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'idle')"""
            )
        finally:
            await connection.close()
        return int(row[0]), int(row[1])

    async def beats_reach(self, count: int, *, timeout: float = 30) -> tuple[int, int]:
        """Polls until the beats number `count`; the counts then."""
        counts = (0, 0)

        async def reached() -> bool:
            nonlocal counts
            counts = await self.now()
            return counts[0] >= count

        await eventually(reached, timeout=timeout, interval=0.2)
        return counts


def _crossed_the_horizons_hour(start: time.struct_time, end: time.struct_time) -> bool:
    """Whether 01:00 UTC fell between two moments: the delivery horizon's limit moves up
    then (store/horizon.py), and the beat after it advances the horizon, statements of
    liveness the count would otherwise take for idle reads."""
    return (start.tm_yday, start.tm_hour) != (end.tm_yday, end.tm_hour) and end.tm_hour == 1


@pytest.mark.timeout(150)  # a start-up of up to STARTING, and eight beats
async def test_an_idle_worker_sends_nothing_between_its_beats(
    database_url: str, counted_database: str, tmp_path: Path
) -> None:
    """A `hookcast worker` with nothing to do: over five of its beats (a second apart while
    it holds no lease) the server runs nothing else of it. Main ran a read of the next due
    time besides each beat, a round trip of its own every second."""
    require_postgres(database_url)  # once, beside the PostgreSQL tests; its server is its own
    counts = _Counts(counted_database)
    async with processes(counted_database, tmp_path, **SUBPROCESS_ENV) as procs:
        worker = procs.worker()
        # Started, and idle since its first claim.
        beats, others = await counts.beats_reach(3, timeout=STARTING + 30)
        started = time.gmtime()
        beats_after, others_after = await counts.beats_reach(beats + 5)
        if _crossed_the_horizons_hour(started, time.gmtime()):  # a beat advanced it: again
            beats, others = beats_after, others_after
            beats_after, others_after = await counts.beats_reach(beats + 5)
    assert others_after == others, (
        f"{others_after - others} statements beside {beats_after - beats} beats:\n"
        f"{worker.log_tail()}"
    )


@pytest.mark.timeout(90)
async def test_a_delivery_that_falls_due_unannounced_is_claimed_at_its_time(
    database_url: str,
) -> None:
    """A pending delivery is moved to fall due two seconds later by a write that wakes no
    worker (as a retry recorded by a worker killed since, or a lease running out): the idle
    worker, which had read nothing due for an hour, learns it from a later beat's read and
    claims it at its due time, not at its next look nor never."""
    require_postgres(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(200))
        await hookcast.hook_for(receiver)
        (event,) = await hookcast.publish_media(1)  # no worker yet: it waits, pending
        _due_in(database_url, event, seconds=3600)
        hookcast.start_worker(IDLE)
        counts = _Beats(database_url)
        await counts.reach(await counts.now() + 2)  # idle, its beats reading "in an hour"
        due = time.monotonic() + 2.0
        _due_in(database_url, event, seconds=2.0)
        (sent,) = await receiver.wait_for(1, timeout=15)
    late = sent.arrived - due
    assert -0.05 < late < LATE_BOUND, f"sent {late:+.2f} s from its due time"


def _due_in(database_url: str, event_id: str, *, seconds: float) -> None:
    """Moves the event's pending delivery to fall due `seconds` from now, with no NOTIFY."""
    due = int((time.time() + seconds) * 1e6)
    run_sql(
        database_url,
        f"UPDATE deliveries SET next_attempt_at = {due} "
        f"WHERE event_id = '{event_id}' AND status = 'pending'",
    )


class _Beats:
    """The workers' beats as their rows show them: a beat moves `last_seen`."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._seen: set[int] = set()

    async def now(self) -> int:
        connection = await asyncpg.connect(self._url, timeout=5)
        try:
            self._seen.update(
                int(seen)
                for seen in await connection.fetchval("SELECT array_agg(last_seen) FROM workers")
                or ()
            )
        finally:
            await connection.close()
        return len(self._seen)

    async def reach(self, count: int) -> None:
        async def reached() -> bool:
            return await self.now() >= count

        await eventually(reached, timeout=30, interval=0.1)
