"""A worker pacing its claims holds other processes' wake-ups unread (store/wakeup.py
`holding`): PostgreSQL's NOTIFYs wait in the LISTEN connection and wake its next wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from hookcast.domain.models import Webhook
from hookcast.store import SqlStore, open_store
from support import factories as make


@asynccontextmanager
async def _listening(
    database_url: str, secret_key: bytes, store: SqlStore
) -> AsyncIterator[tuple[Webhook, SqlStore]]:
    """A webhook to publish to, and a store of another process listening for wake-ups."""
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    worker_side = await open_store(database_url, secret_key=secret_key)  # another process
    try:
        await worker_side.wait_for_deliveries(0)  # starts its LISTEN
        yield hook, worker_side
    finally:
        await worker_side.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_notify_held_during_the_block_wakes_the_first_wait_after_it(
    database_url: str, secret_key: bytes, store: SqlStore
) -> None:
    async with _listening(database_url, secret_key, store) as (hook, worker_side):
        with worker_side.holding_wakeups():
            event = make.event(hook.account_id)
            await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
            # A window to watch: a NOTIFY read while held would wake this wait in it.
            assert not await worker_side.wait_for_deliveries(0.5), "read while held"
        assert await asyncio.wait_for(worker_side.wait_for_deliveries(5), 6)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_block_ended_by_an_error_reads_notifications_again(
    database_url: str, secret_key: bytes, store: SqlStore
) -> None:
    async with _listening(database_url, secret_key, store) as (hook, worker_side):
        # As a worker cancelled in its pacing delay: the LISTEN connection must not stay
        # paused, or no other process's publish would wake this one again.
        with pytest.raises(asyncio.CancelledError), worker_side.holding_wakeups():
            raise asyncio.CancelledError
        event = make.event(hook.account_id)
        await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
        assert await asyncio.wait_for(worker_side.wait_for_deliveries(5), 6)
