"""Outcomes recorded out of the order their attempts were made in (two PostgreSQL workers
recording one webhook's outcomes at once; a write retried after the write begun beside it,
tests/contract/test_store_outcomes_written_ahead.py): the webhook's health follows the
attempts, not the commits."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus, LastError, Webhook
from hookcast.ports import ClaimedDelivery, EventQuery, WebhookHealth
from hookcast.store import SqlStore
from support import factories as make
from support.publishing import waiting_on_locks
from support.waiting import eventually


async def _waiting_on_locks(url: str, count: int) -> bool:
    return await waiting_on_locks(url) == count


async def _hook_with_deliveries(
    store: SqlStore, count: int
) -> tuple[Webhook, list[ClaimedDelivery]]:
    """A webhook with `count` deliveries claimed, beside a webhook of its account that is
    told when it fails or recovers."""
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    watcher = make.webhook(acme.id, events=("webhook_failing", "webhook_recovered"))
    await store.create_webhook(hook)
    await store.create_webhook(watcher)
    events = [make.event(acme.id) for _ in range(count)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=make.NOW, limit=count, lease_seconds=60)
    return hook, list(claimed)


async def _told(store: SqlStore, hook: Webhook, kind: str) -> int:
    return len((await store.list_events(EventQuery(hook.account_id, type=kind))).items)


@pytest.mark.postgres
async def test_an_older_failure_committed_after_a_newer_success_leaves_the_webhook_healthy(
    pg_store: SqlStore, postgres_database: str
) -> None:
    hook, (failed, succeeded) = await _hook_with_deliveries(pg_store, 2)
    error = LastError(make.later(1), 503, "HTTP 503", "busy")
    # Worker A's attempt failed at 1 s; worker B's succeeded at 2 s.
    failure = pg_store.record_results(
        [make.retry_later(failed, make.later(300), at=make.later(1))],
        [WebhookHealth(hook.id, None, make.later(1), last_error=error, retry_at=make.later(300))],
    )
    success = pg_store.record_results(
        [make.succeeded(succeeded, at=make.later(2))], [WebhookHealth(hook.id, make.later(2), None)]
    )

    # Both wait on a third transaction's lock of the webhook's row, B first: B's commit then
    # comes first, and A reads the webhook after it (PostgreSQL queues waiters in order).
    locker = await asyncpg.connect(postgres_database)
    try:
        holding = locker.transaction()
        await holding.start()
        await locker.execute("SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", hook.id)
        b = asyncio.ensure_future(success)
        await eventually(lambda: _waiting_on_locks(postgres_database, 1), message="B never waited")
        a = asyncio.ensure_future(failure)
        await eventually(lambda: _waiting_on_locks(postgres_database, 2), message="A never waited")
        await holding.commit()
        async with asyncio.timeout(10):
            await asyncio.gather(a, b)
    finally:
        await locker.close()

    found = await pg_store.get_webhook(hook.account_id, hook.id)
    assert found is not None
    assert (found.last_success, found.failing_since, found.next_retry_at) == (
        make.later(2),
        None,
        None,
    )
    assert found.last_error == error  # the latest failure there was, kept after recovery
    assert await _told(pg_store, hook, "webhook_failing") == 0
    record = await pg_store.get_delivery(hook.account_id, failed.delivery_id)
    assert record is not None  # the failed attempt is in the log, its retry still ahead
    assert (len(record.attempts), record.delivery.status) == (1, DeliveryStatus.PENDING)


async def test_an_older_success_recorded_after_a_newer_failure_leaves_the_webhook_failing(
    store: SqlStore,
) -> None:
    hook, (succeeded, failed) = await _hook_with_deliveries(store, 2)
    error = LastError(make.later(2), 503, "HTTP 503", "busy")
    # The failure at 2 s is recorded first; the success at 1 s, made before it, after.
    await store.record_results(
        [make.retry_later(failed, make.later(300), at=make.later(2))],
        [WebhookHealth(hook.id, None, make.later(2), last_error=error, retry_at=make.later(300))],
    )
    await store.record_results(
        [make.succeeded(succeeded, at=make.later(1))], [WebhookHealth(hook.id, make.later(1), None)]
    )

    found = await store.get_webhook(hook.account_id, hook.id)
    assert found is not None
    assert (found.last_success, found.failing_since, found.next_retry_at) == (
        make.later(1),
        make.later(2),
        make.later(300),
    )
    assert (
        await _told(store, hook, "webhook_failing"),
        await _told(store, hook, "webhook_recovered"),
    ) == (1, 0)


async def test_an_older_failure_recorded_after_a_newer_one_keeps_the_newer_error(
    store: SqlStore,
) -> None:
    hook, (older, newer) = await _hook_with_deliveries(store, 2)
    first = LastError(make.later(1), 500, "HTTP 500", "broken")
    latest = LastError(make.later(2), 503, "HTTP 503", "busy")
    # The failure at 2 s is recorded first; the one at 1 s, made before it, after.
    await store.record_results(
        [make.retry_later(newer, make.later(300), at=make.later(2))],
        [WebhookHealth(hook.id, None, make.later(2), last_error=latest, retry_at=make.later(300))],
    )
    await store.record_results(
        [make.retry_later(older, make.later(200), at=make.later(1))],
        [WebhookHealth(hook.id, None, make.later(1), last_error=first, retry_at=make.later(200))],
    )

    found = await store.get_webhook(hook.account_id, hook.id)
    assert found is not None
    assert found.last_error == latest  # what the endpoint says now, not what it said before
    # failing since the first failure, the next retry the soonest of both
    assert (found.failing_since, found.next_retry_at) == (make.later(1), make.later(200))
    assert await _told(store, hook, "webhook_failing") == 1
