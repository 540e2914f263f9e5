"""PostgreSQL: two workers recording batches at once, each disabling a webhook of one
account, each webhook subscribed to the account's webhook_disabled events.

Each recording holds its disabled webhook FOR UPDATE (store/webhooks.py `apply_health`)
and then fans the webhook_disabled event out to the other one, whose delivery's insert
share-locks that webhook's row (FOR KEY SHARE, store/deliveries.py `insert_deliveries`),
which a FOR UPDATE refuses. Taken in that order, the two waited on each other and
PostgreSQL's deadlock detector rolled one back (review12; this test failed so, in both id
orders); now each takes both kinds of lock in one pass in id order (`_LOCK_DISABLING`).
The interleaving is forced, not slept on: a third session holds the events table, where a
recording goes after its disable and before its fan-out, until both recordings wait."""

from __future__ import annotations

import asyncio
import functools

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import LastError
from hookcast.ports import DeliveryQuery, PageRequest, WebhookHealth
from hookcast.store import SqlStore, open_store
from support import factories as make
from support.publishing import waiting_on_locks
from support.waiting import eventually

pytestmark = pytest.mark.postgres


def _gone(webhook_id: str) -> WebhookHealth:
    """A batch's health that disables the webhook (its endpoint answered 410)."""
    at = make.later(10)
    error = LastError(at, 410, "HTTP 410", "gone")
    return WebhookHealth(webhook_id, None, at, last_error=error, disable_reason="410 Gone")


@pytest.mark.parametrize("lower_first", [True, False], ids=["lower-id-first", "higher-id-first"])
async def test_two_recordings_disabling_webhooks_of_one_account_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes, lower_first: bool
) -> None:
    acme = make.account()
    await pg_store.create_account(acme)
    hooks = sorted(
        (
            make.webhook(acme.id, name=name, events=("media_available", "webhook_disabled"))
            for name in ("one", "two")
        ),
        key=lambda hook: hook.id,
        reverse=not lower_first,
    )
    for hook in hooks:
        await pg_store.create_webhook(hook)
    other_worker = await open_store(postgres_database, secret_key=secret_key)
    gate = await asyncpg.connect(postgres_database)
    try:
        holding = gate.transaction()
        await holding.start()
        await gate.execute("LOCK TABLE events IN SHARE MODE")
        recordings: list[asyncio.Future[None]] = []
        # The first recording waits on the gate, then the second, on the gate or on the
        # first's webhook row: the order in which they take their locks is the test's.
        for store, hook in ((pg_store, hooks[0]), (other_worker, hooks[1])):
            recordings.append(asyncio.ensure_future(store.record_results([], [_gone(hook.id)])))
            await eventually(
                functools.partial(_waiting, postgres_database, len(recordings)),
                message=f"recording {len(recordings)} never waited",
            )
        await holding.commit()
        outcomes = await asyncio.gather(*recordings, return_exceptions=True)
    finally:
        await gate.close()
        await other_worker.close()

    assert outcomes == [None, None]  # neither rolled back as a deadlock's victim
    for hook, told in zip(hooks, reversed(hooks), strict=True):
        stored = await pg_store.get_webhook(acme.id, hook.id)
        assert stored is not None
        assert not stored.enabled
        page = await pg_store.list_deliveries(
            DeliveryQuery(acme.id, told.id, page=PageRequest(page_length=10))
        )
        about = [(r.event.type, (r.event.data or {})["webhook_id"]) for r in page.items]
        assert about == [("webhook_disabled", hook.id)]


async def _waiting(url: str, sessions: int) -> bool:
    return await waiting_on_locks(url) == sessions
