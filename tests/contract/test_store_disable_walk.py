"""A worker's recording that disables a webhook (a 410, too many failures) pauses its backlog
after the recording returns, in a walk the store owns. Awaited inside `record_results`, the
walk held the worker's outcome flusher (delivery/outcomes.py): every later result of that
worker, other accounts' included, waited for it (23-37 s for 100,000 pending on PostgreSQL),
and results buffered past their leases could be claimed and sent again by another worker.

The walk is held after its first write commits (`HeldWalk`), so it is under way, not over,
for as long as a test needs: no timing decides what the test sees.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import ClaimedDelivery, DeliveryQuery, PageRequest, WebhookHealth
from hookcast.store import SqlStore, open_store, pause_postgres, slices, webhook_walk
from support import factories as make
from support.publishing import account_with_webhook
from support.walks import held_after_each_write

BACKLOG = 60
STRETCH = 10  # deliveries a write of the walk pauses: six writes
BOUND = 10.0  # seconds any one step may take on a loaded machine (the walk is held for ever)


class HeldWalk:
    """The walks of a webhook's backlog, one stretch a write, each held after its write
    commits until `go_on` is set; `walked` is set once the first write has committed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.walked = asyncio.Event()
        self.go_on = asyncio.Event()
        monkeypatch.setattr(webhook_walk, "SLICE_ROWS", STRETCH)  # SQLite
        monkeypatch.setattr(pause_postgres, "STRETCH_ROWS", STRETCH)  # PostgreSQL
        monkeypatch.setattr(webhook_walk, "write_in_slices", self._held)
        monkeypatch.setattr(pause_postgres, "write_in_slices", self._held)

    async def _held(self, writing: Any, step: slices.Slice, **kwargs: Any) -> None:
        held = held_after_each_write(writing, committed=self.walked, go_on=self.go_on)
        await slices.write_in_slices(held, step, **{**kwargs, "seconds": 0})


async def _count(store: SqlStore, account_id: str, webhook_id: str, status: DeliveryStatus) -> int:
    query = DeliveryQuery(account_id=account_id, webhook_id=webhook_id, page=PageRequest())
    return (await store.list_deliveries(replace(query, status=status))).total


async def _two_accounts(store: SqlStore) -> tuple[ClaimedDelivery, ClaimedDelivery]:
    """Account A's webhook with BACKLOG pending deliveries and account B's with one; one
    delivery of each claimed (A's, then B's)."""
    acme, hook = await account_with_webhook(store)
    other, theirs = await account_with_webhook(store)
    await store.append_events(
        events=[make.event(acme.id) for _ in range(BACKLOG)], fanout=make.fanout_to(hook.id)
    )
    await store.append_events(events=[make.event(other.id)], fanout=make.fanout_to(theirs.id))
    claimed = await store.claim_due_deliveries(
        now=make.later(1), limit=BACKLOG + 1, lease_seconds=60
    )
    by_webhook = {item.webhook_id: item for item in claimed}
    return by_webhook[hook.id], by_webhook[theirs.id]


async def _disable(store: SqlStore, sent: ClaimedDelivery) -> None:
    """Records a 410 Gone for `sent`, which disables its webhook, within BOUND seconds."""
    gone = WebhookHealth(sent.webhook_id, None, make.later(2), disable_reason="410 Gone")
    recording = store.record_results([make.gave_up(sent, at=make.later(2))], [gone])
    await asyncio.wait_for(recording, BOUND)


async def test_a_disable_returns_before_its_walk_and_other_accounts_record_meanwhile(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent, theirs = await _two_accounts(store)
    walk = HeldWalk(monkeypatch)

    await _disable(store, sent)  # on main: held here until the walk's end, which never comes
    await asyncio.wait_for(walk.walked.wait(), BOUND)
    success = WebhookHealth(theirs.webhook_id, make.later(2), None)
    await asyncio.wait_for(store.record_results([make.succeeded(theirs)], [success]), BOUND)

    theirs_now = await store.get_delivery(theirs.account_id, theirs.delivery_id)
    assert theirs_now is not None
    assert theirs_now.delivery.status is DeliveryStatus.SUCCEEDED
    a_pending = await _count(store, sent.account_id, sent.webhook_id, DeliveryStatus.PENDING)
    assert 0 < a_pending < BACKLOG - 1  # A's walk is under way, not over

    walk.go_on.set()
    await asyncio.wait_for(store.settle_pauses(), BOUND)
    a_paused = await _count(store, sent.account_id, sent.webhook_id, DeliveryStatus.PAUSED)
    assert a_paused == BACKLOG - 1  # all but the one that failed
    assert await _count(store, sent.account_id, sent.webhook_id, DeliveryStatus.PENDING) == 0


async def test_closing_the_store_stops_a_walk_whose_rest_is_never_sent(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, database_url: str, secret_key: bytes
) -> None:
    """The process stopping mid-walk: `close` stops the walk after the write under way
    rather than walk the rest (100,000 pending took 19-25 s on PostgreSQL). What is left
    pending was made before the disable: a claim parks it, paused (delivery/worker.py
    `_sendable`); the next worker's start-up sweep pauses it (`finish_walks`, on either
    database)."""
    sent, _ = await _two_accounts(store)
    walk = HeldWalk(monkeypatch)
    await _disable(store, sent)
    await asyncio.wait_for(walk.walked.wait(), BOUND)

    settle = store.settle_pauses

    async def tokens_taken_back() -> None:
        # `close` has taken the walk's token back (`_stop_pauses`), and waits for it now:
        # only then does the held walk go on, whatever `close` awaited before.
        walk.go_on.set()
        await settle()

    monkeypatch.setattr(store, "settle_pauses", tokens_taken_back)
    await asyncio.wait_for(store.close(), BOUND)

    again = await open_store(database_url, secret_key=secret_key)
    try:
        left = await _count(again, sent.account_id, sent.webhook_id, DeliveryStatus.PENDING)
        assert 0 < left < BACKLOG - 1  # stopped after the write under way
        claimed = await again.claim_due_deliveries(
            now=make.later(120), limit=BACKLOG + 1, lease_seconds=60
        )
        a_claimed = [item for item in claimed if item.webhook_id == sent.webhook_id]
        assert len(a_claimed) == left
        assert all(
            not item.webhook.enabled and item.created <= item.webhook.last_modified
            for item in a_claimed
        )
    finally:
        await again.close()
