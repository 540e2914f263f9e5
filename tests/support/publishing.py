"""What the store's tests share: an account with one webhook (either database), one ordering
its deliveries with a backlog about one media item, the fan-out
a publish of some events makes to it, and on PostgreSQL whether sessions of the test's
database wait on a lock (asked on a connection of its own each time, so a snapshot of
pg_stat_activity taken inside a transaction is never read again) and a publish that meets
an event another publisher has stored but not committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Account, Event, Ordering, Site, Webhook
from hookcast.ports import Fanout
from hookcast.store import SqlStore, to_async_url
from support import factories as make
from support.waiting import eventually


async def account_with_webhook(store: SqlStore, **webhook: Any) -> tuple[Account, Webhook]:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id, **webhook)
    await store.create_webhook(hook)
    return acme, hook


async def ordered_webhook(store: SqlStore) -> tuple[Account, Site, Webhook]:
    """An account with a site and a webhook ordering its deliveries by resource."""
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), ordering=Ordering.RESOURCE)
    await store.create_webhook(hook)
    return acme, site, hook


async def ordered_backlog(store: SqlStore, count: int) -> tuple[Account, Webhook]:
    """An account whose webhook orders its deliveries by resource, with `count` deliveries
    about one media item published a second apart: the first pending, the rest waiting."""
    acme, site, hook = await ordered_webhook(store)
    events = [
        make.event(acme.id, site.id, resource_ids={"media_id": "media1"}, created=make.later(n))
        for n in range(count)
    ]
    await store.append_events(events=events, fanout=fanout_for(hook, events))
    return acme, hook


def fanout_for(hook: Webhook, events: Sequence[Event]) -> Fanout:
    """The fan-out a publish of `events` makes to `hook` (ordered or not)."""
    return FanoutPlan(Subscribers([hook]), events, now=make.NOW, new_id=new_delivery_id)


async def waiting_on_locks(url: str) -> int:
    """How many sessions of the database wait on a lock."""
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    finally:
        await conn.close()


async def waiting_on_a_lock(url: str) -> bool:
    return await waiting_on_locks(url) > 0


async def published_behind(
    store: SqlStore, url: str, hook: Webhook, *, theirs: Event, ours: Sequence[Event]
) -> Sequence[str]:
    """What a publish of `ours` stored when another publisher had stored `theirs` (and
    moved its resource's counter) in a transaction it commits only once ours waits on it."""
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await store.using(conn).append_events(
                events=[theirs], fanout=fanout_for(hook, [theirs])
            )
            publishing = asyncio.ensure_future(
                store.append_events(events=ours, fanout=fanout_for(hook, ours))
            )
            await eventually(lambda: waiting_on_a_lock(url))
            await transaction.commit()
            return await publishing
    finally:
        await engine.dispose()
