"""wait_for_deliveries: woken by work becoming due, in this process or another."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

import pytest

from hookcast.store import SqlStore, open_store
from support import factories as make
from support.publishing import account_with_webhook

WAIT = 5.0  # a wake-up must come well before this timeout


async def _woken_by(waiter: SqlStore, action: Callable[[], Awaitable[object]]) -> float:
    """Seconds the waiter slept while `action` ran once it was waiting."""
    await waiter.wait_for_deliveries(0)  # the first wait starts the LISTEN on PostgreSQL
    # Forget earlier wake-ups, including the NOTIFYs of our own earlier writes, which on
    # PostgreSQL arrive a moment after the in-process one.
    await waiter.settle_wakeups()
    started = time.monotonic()
    waiting = asyncio.create_task(waiter.wait_for_deliveries(WAIT))
    # Once listening, a wait parks on its event without any I/O first: one turn of the
    # loop puts it there.
    await asyncio.sleep(0)
    assert not waiting.done()
    await action()
    await asyncio.wait_for(waiting, WAIT * 2)
    return time.monotonic() - started


async def test_wait_times_out_when_nothing_happens(store: SqlStore) -> None:
    started = time.monotonic()
    await store.wait_for_deliveries(0.2)
    assert 0.15 <= time.monotonic() - started < WAIT


async def test_append_wakes_a_waiter(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    event = make.event(acme.id)
    publish = lambda: store.append_events(events=[event], fanout=make.fanout_to(hook.id))  # noqa: E731
    assert await _woken_by(store, publish) < WAIT


async def test_a_wake_up_before_the_wait_is_not_lost(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    await store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    started = time.monotonic()
    await store.wait_for_deliveries(WAIT)
    assert time.monotonic() - started < WAIT / 2


async def test_manual_retry_and_release_wake_a_waiter(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    await store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (claimed,) = await store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=30)

    lease = (claimed.delivery_id, claimed.lease_token)
    assert await _woken_by(store, lambda: store.release_deliveries([lease], make.NOW)) < WAIT
    retry = partial(
        store.reschedule_delivery, account_id=acme.id, delivery_id=claimed.delivery_id, now=make.NOW
    )
    assert await _woken_by(store, retry) < WAIT


async def test_publish_in_another_process_wakes_a_waiter(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    # A second store stands in for another process: on PostgreSQL an API server or worker,
    # on SQLite `serve --no-worker` beside the delivering `serve`.
    acme, hook = await account_with_webhook(store)
    publisher = await open_store(database_url, secret_key=secret_key)
    try:
        event = make.event(acme.id)
        publish = lambda: publisher.append_events(events=[event], fanout=make.fanout_to(hook.id))  # noqa: E731
        assert await _woken_by(store, publish) < WAIT
    finally:
        await publisher.close()


async def test_a_second_waiter_on_one_sqlite_file_falls_back_to_its_timeout(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    """Only one process delivers from a SQLite file; another that waits too (misconfigured)
    is not woken by others' publishes, but its waits still end, and the first is woken."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL wakes every listening process")
    acme, hook = await account_with_webhook(store)
    await store.wait_for_deliveries(0)  # the first waiter listens
    second = await open_store(database_url, secret_key=secret_key)
    publisher = await open_store(database_url, secret_key=secret_key)
    try:
        await second.wait_for_deliveries(0)
        event = make.event(acme.id)
        publish = lambda: publisher.append_events(events=[event], fanout=make.fanout_to(hook.id))  # noqa: E731
        assert await _woken_by(store, publish) < WAIT
        assert not await second.wait_for_deliveries(0.1)
    finally:
        await second.close()
        await publisher.close()
