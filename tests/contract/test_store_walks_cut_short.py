"""Walks over a webhook's backlog cut short by a stopped process (SQLite makes them a
stretch at a time, each write committed on its own: store/cut_short.py), finished by the
start-up sweep, `finish_walks`. Stopped here by a stretch that raises, as a process killed
mid-walk leaves the writes before it committed and none after."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.ports import DeliveryQuery, PageRequest
from hookcast.store import SqlStore, cut_short, pause_walk, slices, webhook_walk
from hookcast.store import chains as chain_sql
from hookcast.store.statement import Statement
from support import factories as make
from support.publishing import account_with_webhook, ordered_backlog

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class _Killed(Exception):
    """The process stopped here."""


def _one_stretch_a_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each write of a walk commits after one stretch of 2 (a stop between two writes)."""
    monkeypatch.setattr(webhook_walk, "SLICE_ROWS", 2)
    monkeypatch.setattr(webhook_walk, "write_in_slices", partial(slices.write_in_slices, seconds=0))


def _stop_after(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, stretches: int) -> None:
    """`module.name` (a walk's stretch) runs `stretches` times, then the process 'stops'."""
    moving = getattr(module, name)
    done = 0

    async def cut_short(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        done += 1
        if done > stretches:
            raise _Killed
        return await moving(*args, **kwargs)

    monkeypatch.setattr(module, name, cut_short)


async def _statuses(store: SqlStore, account_id: str, webhook_id: str) -> list[DeliveryStatus]:
    page = await store.list_deliveries(
        DeliveryQuery(account_id, webhook_id, page=PageRequest(page_length=100))
    )
    return sorted(record.delivery.status for record in page.items)


async def test_a_resume_cut_short_is_finished_at_start_up(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing claims a paused delivery: a resume cut short left the rest paused under an
    enabled webhook, never sent, until someone saved the webhook again."""
    _one_stretch_a_write(monkeypatch)
    acme, hook = await account_with_webhook(store)
    events = [make.event(acme.id, created=make.later(n)) for n in range(6)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    await store.update_webhook(replace(hook, enabled=False), make.later(10))
    with monkeypatch.context() as patched:
        _stop_after(patched, pause_walk, "pause_or_resume", 1)
        with pytest.raises(_Killed):
            await store.update_webhook(hook, make.later(11))
    assert (await _statuses(store, acme.id, hook.id)).count(DeliveryStatus.PAUSED) == 4

    assert await store.finish_walks(make.later(11)) == 1

    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.PENDING] * 6
    claimed = await store.claim_due_deliveries(now=make.later(12), limit=10, lease_seconds=30)
    assert len(claimed) == 6
    assert await store.finish_walks(make.later(11)) == 0  # nothing left to finish


async def test_a_pause_cut_short_is_finished_at_start_up(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_stretch_a_write(monkeypatch)
    acme, hook = await account_with_webhook(store)
    events = [make.event(acme.id, created=make.later(n)) for n in range(6)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    with monkeypatch.context() as patched:
        _stop_after(patched, pause_walk, "pause_or_resume", 1)
        with pytest.raises(_Killed):
            await store.update_webhook(replace(hook, enabled=False), make.later(10))

    assert await store.finish_walks(make.later(11)) == 1

    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.PAUSED] * 6


async def test_ordering_off_cut_short_is_finished_at_start_up(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, hook = await ordered_backlog(store, 3)
    with monkeypatch.context() as patched:
        _stop_after(patched, chain_sql, "release_waiting", 0)
        with pytest.raises(_Killed):
            await store.update_webhook(replace(hook, ordering=Ordering.NONE), make.later(10))
    assert DeliveryStatus.WAITING in await _statuses(store, acme.id, hook.id)

    assert await store.finish_walks(make.later(11)) == 1

    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.PENDING] * 3
    async with store._reading() as tx:
        assert not await chain_sql.has_chains(tx, hook.id)


async def test_a_recovery_cut_short_before_its_chains_started_is_finished_at_start_up(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, hook = await ordered_backlog(store, 3)
    for at in (5, 7, 9):
        (head,) = await store.claim_due_deliveries(now=make.later(at), limit=10, lease_seconds=30)
        await store.record_results([make.gave_up(head, make.later(at + 1))], [])
    with monkeypatch.context() as patched:
        _stop_after(patched, chain_sql, "start_unchained", 0)
        with pytest.raises(_Killed):
            await store.recover_deliveries(
                account_id=acme.id, webhook_id=hook.id, since=make.NOW, now=make.later(20)
            )
    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.WAITING] * 3

    assert await store.finish_walks(make.later(11)) == 1

    claimed = await store.claim_due_deliveries(now=make.later(21), limit=10, lease_seconds=30)
    assert [c.sequence for c in claimed] == [1]


async def test_the_start_up_sweep_reads_no_webhook_s_history(
    store: SqlStore, database_url: str
) -> None:
    """Each condition of the sweep is an index probe: an enabled webhook's paused deliveries
    were read through (webhook_id, created), all its history when it had none (100,000
    finished deliveries: 94-171 ms per start; now 0.4-22 ms)."""
    await account_with_webhook(store)

    plan = _plan(database_url, cut_short._OWING)

    on_deliveries = [step for step in plan if " deliveries " in f"{step} "]
    assert any("ix_deliveries_paused" in step for step in on_deliveries), plan
    assert all(step.startswith("SEARCH") for step in on_deliveries), plan
    assert not any("webhook_id_created" in step for step in on_deliveries), plan


async def test_the_chains_a_walk_left_unstarted_are_found_through_the_waiting_index(
    store: SqlStore, database_url: str
) -> None:
    """chains.py `_UNCHAINED` (`start_unchained`, after a recovery's or a held release's
    walk, and in the sweep) bound the waiting status: SQLite took ix_deliveries_waiting only
    by preparing the statement again after each bind (the value decides whether the partial
    index applies): 190-213 us a run, 30-36 us with the status written in (empty tables,
    three interleaved rounds of 20,000 runs each)."""
    await account_with_webhook(store)

    plan = _plan(database_url, chain_sql._UNCHAINED)

    on_deliveries = [step for step in plan if " deliveries " in f"{step} "]
    assert any("ix_deliveries_waiting" in step for step in on_deliveries), plan


def _plan(database_url: str, statement: Statement) -> list[str]:
    """SQLite's plan of `statement` with every parameter NULL: the plan no bound value
    decides (SQLite plans a bound status's partial index again after each bind)."""
    sql = statement.compiled(sqlite.dialect()).sql
    with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
        return [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?"))]
