"""Publishing on PostgreSQL (store/append_postgres.py): concurrent publishes share one
transaction, and one that meets an event stored meanwhile by another publisher still
numbers the resource's events without a gap, and a young database's plans look stored events
up by their key."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Account, Event, Ordering, Webhook
from hookcast.ports import DeliveryQuery, EventQuery, Fanout, PageRequest
from hookcast.store import SqlStore, to_async_url
from hookcast.store.append_postgres import NUMBERING
from support import factories as make
from support.waiting import eventually

pytestmark = pytest.mark.postgres


async def _account_with_webhook(store: SqlStore) -> tuple[Account, Webhook]:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    return acme, hook


async def _transactions_that_stored(url: str, account_id: str) -> int:
    """How many transactions inserted the account's events and deliveries (a row's xmin
    is the transaction that inserted it)."""
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(DISTINCT xmin::text) FROM ("
                " SELECT xmin FROM events WHERE account_id = $1"
                " UNION ALL SELECT xmin FROM deliveries WHERE account_id = $1) AS stored",
                account_id,
            )
        )
    finally:
        await conn.close()


async def _waiting_on_a_lock(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(waiting)
    finally:
        await conn.close()


async def test_concurrent_single_publishes_share_one_transaction(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    events = [
        make.event(acme.id, resource_ids={"media_id": f"M{number:07d}"}) for number in range(20)
    ]
    stored = await asyncio.gather(
        *(pg_store.append_events(events=[e], fanout=make.fanout_to(hook.id)) for e in events)
    )

    assert stored == [[event.id] for event in events]
    assert await _transactions_that_stored(postgres_database, acme.id) == 1
    deliveries = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert deliveries.total == 20


def _fanout(hook: Webhook, events: Sequence[Event]) -> Fanout:
    """The fan-out a publish of `events` makes to `hook` (ordered or not)."""
    return FanoutPlan(Subscribers([hook]), events, now=make.NOW, new_id=new_delivery_id)


@pytest.mark.parametrize("ordering", [Ordering.NONE, Ordering.RESOURCE])
async def test_an_event_another_publisher_stores_meanwhile_takes_no_second_number(
    pg_store: SqlStore, postgres_database: str, ordering: Ordering
) -> None:
    acme = make.account()
    await pg_store.create_account(acme)
    hook = make.webhook(acme.id, ordering=ordering, all_sites=True)
    await pg_store.create_webhook(hook)
    first, repeated, last = (make.event(acme.id) for _ in range(3))  # all about one media
    await pg_store.append_events(events=[first], fanout=_fanout(hook, [first]))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            # Another publisher stores `repeated` and holds the media's counter to its commit.
            await pg_store.using(conn).append_events(
                events=[repeated], fanout=_fanout(hook, [repeated])
            )
            ours = asyncio.ensure_future(
                pg_store.append_events(
                    events=[repeated, last], fanout=_fanout(hook, [repeated, last])
                )
            )
            await eventually(lambda: _waiting_on_a_lock(postgres_database))
            await transaction.commit()
            assert await ours == [last.id]
    finally:
        await engine.dispose()

    page = await pg_store.list_events(EventQuery(acme.id, PageRequest(page_length=10)))
    numbers = {summary.event.id: summary.event.sequence for summary in page.items}
    assert numbers == {first.id: 1, repeated.id: 2, last.id: 3}
    deliveries = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert deliveries.total == 3


async def test_a_young_database_finds_stored_events_by_primary_key(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    for _ in range(30):  # past the store's re-analyses at 1,000 and 2,000 events
        batch = [make.event(acme.id) for _ in range(100)]
        await pg_store.append_events(events=batch, fanout=make.fanout_to(hook.id))
    await pg_store.close()  # waits for the re-analysis under way

    plan = await _generic_numbering_plan(postgres_database, acme.id, batch[0].id)

    assert "pk_events" in plan, plan
    assert "ix_events_account_id_created" not in plan, plan
    assert "Seq Scan on events" not in plan, plan


async def _generic_numbering_plan(url: str, account_id: str, event_id: str) -> str:
    """The plan a connection keeps for a publish's first statement once it stops
    re-planning (store/append_postgres.py)."""
    compiled = NUMBERING.compiled(PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    values = {
        "v_accounts": [account_id],
        "v_versions": [1],
        "c_accounts": [account_id],
        "c_ids": [event_id],
        "c_keys": ["media:MNYaMSQl"],
    }
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        rows = await conn.fetch(f"EXPLAIN {compiled.sql}", *compiled.parameters(values))
        return "\n".join(row[0] for row in rows)
    finally:
        await conn.close()
