"""SqlStore.using(connection): HookCast's writes inside a caller's own transaction, which
commits or rolls back with the caller's (the transactional outbox behind Hub.publish)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookcast.domain.models import Account, Webhook
from hookcast.ports import AccountFull, DeliveryQuery, EventQuery, WebhookQuery
from hookcast.store import SqlStore, open_store, to_async_url
from support import factories as make
from support.publishing import account_with_webhook


@pytest.fixture
async def platform_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The publishing platform's own engine on the same database (not HookCast's)."""
    engine = create_async_engine(to_async_url(database_url))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _stored(store: SqlStore, acme: Account, hook: Webhook) -> tuple[int, int]:
    events = await store.list_events(EventQuery(account_id=acme.id))
    deliveries = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    return events.total, deliveries.total


async def test_events_commit_with_the_callers_transaction(
    store: SqlStore, platform_engine: AsyncEngine
) -> None:
    acme, hook = await account_with_webhook(store)
    event = make.event(acme.id)
    async with platform_engine.connect() as conn, conn.begin():
        stored = await store.using(conn).append_events(
            events=[event], fanout=make.fanout_to(hook.id)
        )
        assert stored == [event.id]
        assert await _stored(store, acme, hook) == (0, 0)  # not visible before the commit
    assert await _stored(store, acme, hook) == (1, 1)


async def test_events_roll_back_with_the_callers_transaction(
    store: SqlStore, platform_engine: AsyncEngine
) -> None:
    acme, hook = await account_with_webhook(store)
    async with platform_engine.connect() as conn:
        transaction = await conn.begin()
        await store.using(conn).append_events(
            events=[make.event(acme.id)], fanout=make.fanout_to(hook.id)
        )
        await transaction.rollback()
    assert await _stored(store, acme, hook) == (0, 0)


async def test_a_connection_without_a_transaction_is_refused(
    store: SqlStore, platform_engine: AsyncEngine
) -> None:
    async with platform_engine.connect() as conn:
        with pytest.raises(ValueError, match="transaction"):
            store.using(conn)


async def test_the_view_reads_the_callers_uncommitted_rows(
    store: SqlStore, platform_engine: AsyncEngine
) -> None:
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    async with platform_engine.connect() as conn, conn.begin():
        view = store.using(conn)
        await view.create_site(site)
        assert await view.existing_site_ids(acme.id, [site.id]) == {site.id}
        await view.close()  # a no-op: the connection stays the caller's
        await conn.rollback()
    assert await store.get_site(acme.id, site.id) is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_workers_elsewhere_are_notified_on_commit_only(
    database_url: str, secret_key: bytes, store: SqlStore, platform_engine: AsyncEngine
) -> None:
    acme, hook = await account_with_webhook(store)
    worker_side = await open_store(database_url, secret_key=secret_key)  # another process
    try:
        await worker_side.wait_for_deliveries(0)  # starts its LISTEN
        async with platform_engine.connect() as conn, conn.begin():
            await store.using(conn).append_events(
                events=[make.event(acme.id)], fanout=make.fanout_to(hook.id)
            )
            waiting = asyncio.create_task(worker_side.wait_for_deliveries(5))
            await asyncio.sleep(0.5)  # a window to watch: an early NOTIFY would arrive in it
            assert not waiting.done(), "woken before the commit"
        await asyncio.wait_for(waiting, 3)
    finally:
        await worker_side.close()


async def test_a_create_refused_at_the_bound_stores_nothing_in_the_callers_transaction(
    store: SqlStore, platform_engine: AsyncEngine
) -> None:
    # AccountFull promises nothing stored: the caller may carry on and commit its own work.
    acme = make.account()
    await store.create_account(acme)
    await store.create_webhook(make.webhook(acme.id), most=1)
    await store.create_api_key(make.api_key(acme.id), most=1)
    async with platform_engine.connect() as conn, conn.begin():
        view = store.using(conn)
        with pytest.raises(AccountFull):
            await view.create_webhook(make.webhook(acme.id), most=1)
        with pytest.raises(AccountFull):
            await view.create_api_key(make.api_key(acme.id), most=1)
    assert (await store.list_webhooks(WebhookQuery(account_id=acme.id))).total == 1
    assert len(await store.list_api_keys(acme.id)) == 1
