"""PostgreSQL: a pause moves the webhook's pending deliveries a stretch per transaction
after the save commits (store/pause_postgres.py). In the save's one statement it locked
all of them until it committed, and every worker's claim stepped over each locked row
(attack 21: 100,000 due, claims 0.6-1.3 s each for 10-20 s, another account's deliveries
up to 12 s late against 0.3 s)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore, cut_short, open_store, pause_postgres, slices
from hookcast.store import webhooks as webhook_sql
from hookcast.store.connector import Transaction
from support import factories as make
from support.publishing import account_with_webhook
from support.sql import generic_plan
from support.walks import held_after_each_write

pytestmark = pytest.mark.postgres

ROWS = 1_000
STRETCH = 100

Writing = Callable[[], AbstractAsyncContextManager[Transaction]]


def _after_each_commit(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[], Awaitable[None]]
) -> None:
    """The pause's stretches one per transaction, `then` awaited after each commits."""
    monkeypatch.setattr(pause_postgres, "STRETCH_ROWS", STRETCH)

    async def one_a_write(writing: Writing, step: slices.Slice, **_: Any) -> None:
        @asynccontextmanager
        async def watched() -> AsyncIterator[Transaction]:
            async with writing() as tx:
                yield tx
            await then()

        await slices.write_in_slices(watched, step, seconds=0)

    monkeypatch.setattr(pause_postgres, "write_in_slices", one_a_write)


async def _statuses(url: str, webhook_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) FROM deliveries WHERE webhook_id = $1 GROUP BY status",
            webhook_id,
        )
    finally:
        await conn.close()
    return {status: count for status, count in rows}


async def test_a_pause_commits_its_backlog_a_stretch_at_a_time(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )
    seen: list[int] = []

    async def count_paused() -> None:
        seen.append((await _statuses(postgres_database, hook.id)).get("paused", 0))

    _after_each_commit(monkeypatch, count_paused)
    await pg_store.update_webhook(replace(hook, enabled=False), make.later(1))

    assert await _statuses(postgres_database, hook.id) == {"paused": ROWS}
    committed = [later - earlier for earlier, later in zip([0, *seen], seen, strict=False)]
    assert max(committed) <= STRETCH, committed  # in one statement: 1,000 at once


async def test_a_resume_during_the_pause_walk_leaves_no_delivery_paused(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume saved between two stretches: the walk reads the webhook enabled and stops,
    so nothing it has not walked yet is paused under an enabled webhook."""
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )
    resumed: list[bool] = []

    async def resume_once() -> None:
        if not resumed:
            resumed.append(True)
            await pg_store.update_webhook(hook, make.later(2))

    _after_each_commit(monkeypatch, resume_once)
    await pg_store.update_webhook(replace(hook, enabled=False), make.later(1))

    assert resumed
    assert await _statuses(postgres_database, hook.id) == {"pending": ROWS}
    saved = await pg_store.get_webhook(acme.id, hook.id)
    assert saved is not None
    assert saved.enabled
    assert DeliveryStatus.PAUSED.value not in await _statuses(postgres_database, hook.id)


async def test_a_save_of_a_webhook_disabled_already_walks_nothing(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename of a paused webhook would walk its whole history again, for nothing to
    pause; as many walks at once as a tenant sends renames."""
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )
    commits: list[None] = []

    async def counted() -> None:
        commits.append(None)

    _after_each_commit(monkeypatch, counted)
    paused = replace(hook, enabled=False)
    await pg_store.update_webhook(paused, make.later(1))
    walked = len(commits)
    for n in range(3):
        await pg_store.update_webhook(replace(paused, name=f"hook {n}"), make.later(2))

    assert walked >= ROWS // STRETCH
    assert len(commits) == walked
    assert await _statuses(postgres_database, hook.id) == {"paused": ROWS}


class _Killed(Exception):
    """The process stopped here."""


async def _pause_cut_short(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A webhook with ROWS deliveries due, whose pause the process 'stopped' after its
    first stretch committed; (account id, webhook id)."""
    acme, hook = await account_with_webhook(store)
    await store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )

    async def stop() -> None:
        raise _Killed

    with monkeypatch.context() as patched:
        _after_each_commit(patched, stop)
        with pytest.raises(_Killed):
            await store.update_webhook(replace(hook, enabled=False), make.later(1))
    return acme.id, hook.id


async def test_a_pause_cut_short_is_finished_when_a_worker_starts(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until a claim parked them, `deliveries list --status pending` and the counts showed
    the rest pending under the disabled webhook (a retry due hours later, for hours)."""
    _, hook_id = await _pause_cut_short(pg_store, monkeypatch)
    assert await _statuses(postgres_database, hook_id) == {
        "paused": STRETCH,
        "pending": ROWS - STRETCH,
    }

    assert await pg_store.finish_walks(make.later(2)) == 1

    assert await _statuses(postgres_database, hook_id) == {"paused": ROWS}
    assert await pg_store.finish_walks(make.later(2)) == 0  # nothing left to finish


async def test_two_workers_starting_together_both_finish_the_pause(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both find the webhook and walk it: each stretch pauses only what is still pending."""
    monkeypatch.setattr(pause_postgres, "STRETCH_ROWS", STRETCH)
    _, hook_id = await _pause_cut_short(pg_store, monkeypatch)
    other = await open_store(postgres_database, secret_key=secret_key)
    try:
        first, second = await asyncio.gather(
            pg_store.finish_walks(make.later(2)), other.finish_walks(make.later(2))
        )
    finally:
        await other.close()

    assert (first, second) == (1, 1)
    assert await _statuses(postgres_database, hook_id) == {"paused": ROWS}


async def test_the_start_leaves_a_webhook_resumed_since_alone(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed after the stop, the webhook has nothing paused and nothing to walk."""
    account_id, hook_id = await _pause_cut_short(pg_store, monkeypatch)
    hook = await pg_store.get_webhook(account_id, hook_id)
    assert hook is not None
    await pg_store.update_webhook(replace(hook, enabled=True), make.later(2))

    assert await pg_store.finish_walks(make.later(3)) == 0

    assert await _statuses(postgres_database, hook_id) == {"pending": ROWS}


async def _analyzed(url: str, *, pending_left: int) -> None:
    """A history of sent deliveries, as most are (all but `pending_left` of those pending
    marked succeeded), with statistics as the store's re-analyses keep them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE deliveries SET status = 'succeeded' WHERE id IN (SELECT id FROM deliveries"
            f" WHERE status = 'pending' ORDER BY id OFFSET {pending_left})"
        )
        await conn.execute("ANALYZE deliveries")
    finally:
        await conn.close()


async def _on_partitions(url: str, index: str) -> set[str]:
    """The names of `index`'s copies on the day partitions (each named by PostgreSQL)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child"
            " ON child.oid = inhrelid JOIN pg_class parent ON parent.oid = inhparent"
            " WHERE parent.relname = $1",
            index,
        )
    finally:
        await conn.close()
    return {row[0] for row in rows}


def _uses(plan: str, copies: set[str]) -> bool:
    return any(f" {name} " in plan for name in copies)


async def test_a_resume_finds_the_paused_deliveries_through_their_index(
    pg_store: SqlStore, postgres_database: str
) -> None:
    """Every save of an enabled webhook, a rename too, runs the resume: through
    (webhook_id, created) it read the webhook's whole history for the paused deliveries it
    almost never has (100,000 past deliveries: 79 ms, under the webhook's row lock; 0.13 ms
    through ix_deliveries_paused). Under the generic plan a connection keeps after five
    runs, where a bound status would not prove the partial index's predicate."""
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )
    await _analyzed(postgres_database, pending_left=0)
    values = {"b_id": hook.id, "b_now": make.later(1)}

    plan = await generic_plan(postgres_database, webhook_sql._RESUME, values)

    assert _uses(plan, await _on_partitions(postgres_database, "ix_deliveries_paused")), plan
    history = await _on_partitions(postgres_database, "ix_deliveries_webhook_id_created")
    assert not _uses(plan, history), plan


async def test_the_start_up_sweep_finds_pending_deliveries_through_their_index(
    pg_store: SqlStore, postgres_database: str
) -> None:
    """Disabled webhooks with a pending delivery (cut_short.py), found through a partial
    index of pending deliveries: no webhook's history is read."""
    await _pause_cut_short(pg_store, pytest.MonkeyPatch())
    await _analyzed(postgres_database, pending_left=10)

    plan = await generic_plan(postgres_database, cut_short._PAUSES_OWING, {})

    pending = set[str]()  # either partial index of pending deliveries
    for index in ("ix_deliveries_account_due", "ix_deliveries_due"):
        pending |= await _on_partitions(postgres_database, index)
    assert _uses(plan, pending), plan
    history = await _on_partitions(postgres_database, "ix_deliveries_webhook_id_created")
    assert not _uses(plan, history), plan


class _Counted:
    """A transaction whose stretch reads (`fetch_all`) are counted in `reads[walk]`."""

    def __init__(self, tx: Transaction, reads: list[int], walk: int) -> None:
        self._tx, self._reads, self._walk = tx, reads, walk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def fetch_all(self, *args: Any, **kwargs: Any) -> Any:
        self._reads[self._walk] += 1
        return await self._tx.fetch_all(*args, **kwargs)


class _Walks:
    """Each pause walk's stretch reads (its `fetch_all`s), in the order the walks began;
    every walk held after each of its writes commits until `go_on` is set, `held` set when
    one is, and `second` once a second walk has begun (its save committed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[int] = []
        self.held = asyncio.Event()
        self.second = asyncio.Event()
        self.go_on = asyncio.Event()
        monkeypatch.setattr(pause_postgres, "STRETCH_ROWS", STRETCH)
        monkeypatch.setattr(pause_postgres, "write_in_slices", self._walk)

    async def _walk(self, writing: Writing, step: slices.Slice, **_: Any) -> None:
        walk = len(self.reads)
        self.reads.append(0)
        if walk == 1:
            self.second.set()

        async def counted(tx: Transaction) -> bool:
            return await step(cast(Transaction, _Counted(tx, self.reads, walk)))

        held = held_after_each_write(writing, committed=self.held, go_on=self.go_on)
        await slices.write_in_slices(held, counted, seconds=0)


async def test_a_resume_and_a_pause_saved_mid_walk_leave_one_walk_going(
    pg_store: SqlStore, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause's walk, then a resume and a pause saved between two of its stretches: the
    first walk stops (the saves take its token, as a worker's disable does). Before, it
    read the webhook disabled again and walked on beside the second: every stretch read
    twice."""
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(ROWS)], fanout=make.fanout_to(hook.id)
    )
    walks = _Walks(monkeypatch)
    first = asyncio.ensure_future(
        pg_store.update_webhook(replace(hook, enabled=False), make.later(1))
    )
    await asyncio.wait_for(walks.held.wait(), 10)
    await pg_store.update_webhook(hook, make.later(2))  # a resume: no walk
    second = asyncio.ensure_future(
        pg_store.update_webhook(replace(hook, enabled=False), make.later(3))
    )
    await asyncio.wait_for(walks.second.wait(), 10)

    walks.go_on.set()
    await asyncio.wait_for(asyncio.gather(first, second), 60)

    assert await _statuses(postgres_database, hook.id) == {"paused": ROWS}
    assert walks.reads[0] == 1  # its first stretch only
    assert walks.reads[1] == ROWS // STRETCH + 1  # the second walked all (and found no more)
