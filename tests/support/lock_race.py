"""PostgreSQL: two writers raced into each other's locks, deterministically (no sleeps).

`race` holds the first writer at a gate (a third session's SHARE lock on a table it writes
to) until the second waits too, then lets both go and looks for a lock cycle between them.
Used by tests/contract/test_store_disables_lock_order.py (webhook rows) and
tests/contract/test_store_delivery_lock_order.py (delivery, chain and webhook rows)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]

from hookcast.store import SqlStore, open_store
from support.publishing import waiting_on_locks
from support.waiting import eventually

__all__ = ["race", "waiting"]


async def waiting(url: str, sessions: int) -> bool:
    """Whether exactly `sessions` sessions of the database wait on a lock."""
    return await waiting_on_locks(url) == sessions


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


async def _cycle(url: str) -> list[int]:
    """Two sessions of the database that each wait on a lock the other holds, or none."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    finally:
        await conn.close()
    blockers = {pid: set(blocking) for pid, blocking in rows}
    for pid, found in blockers.items():
        for other in found:
            if pid in blockers.get(other, ()):
                return [pid, other]
    return []


async def race(
    url: str,
    secret_key: bytes,
    *,
    gate_table: str,
    first: Callable[[SqlStore], Awaitable[object]],
    second: Callable[[SqlStore], Awaitable[object]],
) -> tuple[list[int], list[object]]:
    """Runs `first` and `second` on two stores of the database, `first` held at the gate (a
    third session's SHARE lock on `gate_table`) until `second` waits too, then both let go:
    the sessions of a lock cycle if they waited on each other (ended so that the test can
    end), and the two outcomes (an exception as itself). PostgreSQL looks for a deadlock only
    after a minute here: a cycle stays to be seen, not ended at once with one side written
    again as if nothing happened."""
    database = _database_name(url)
    gate = await asyncpg.connect(url)
    await gate.execute(f"ALTER DATABASE \"{database}\" SET deadlock_timeout = '60s'")
    one = await open_store(url, secret_key=secret_key)
    two = await open_store(url, secret_key=secret_key)
    cycle: list[int] = []
    try:
        holding = gate.transaction()
        await holding.start()
        await gate.execute(f"LOCK TABLE {gate_table} IN SHARE MODE")
        started = asyncio.ensure_future(first(one))
        await eventually(functools.partial(waiting, url, 1), message="the first never waited")
        then = asyncio.ensure_future(second(two))
        await eventually(
            functools.partial(waiting, url, 2), message="the second never waited on the first"
        )
        await holding.commit()
        both = asyncio.gather(started, then, return_exceptions=True)

        async def ended() -> bool:
            cycle[:] = [] if both.done() else await _cycle(url)
            return both.done() or bool(cycle)

        await eventually(ended, message="neither finished nor deadlocked")
        if cycle:  # ended for the teardown: one of the two is rolled back
            await gate.execute("SELECT pg_terminate_backend($1)", cycle[0])
        outcomes = list(await both)
    finally:
        await gate.execute(f'ALTER DATABASE "{database}" RESET deadlock_timeout')
        await gate.close()
        await one.close()
        await two.close()
    return cycle, outcomes
