"""Publishing on PostgreSQL (store/append_postgres.py): concurrent publishes share one
transaction, and one that meets an event stored meanwhile by another publisher still
numbers the resource's events without a gap, two groups that carry the same events in
opposite orders both succeed without a deadlock, a group PostgreSQL rolls back to end one
(with a caller's transaction) is written again, a publish does not wait for a worker's
recording that holds its webhook, and a young database's plans look stored events up by
their key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.ext.asyncio import AsyncTransaction, create_async_engine

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id, new_event_id
from hookcast.domain.models import DeliveryStatus, Event, Ordering, Webhook
from hookcast.ports import (
    ConfigChanged,
    ConfigVersion,
    DeliveryQuery,
    EventQuery,
    Fanout,
    PageRequest,
    WebhookHealth,
)
from hookcast.store import SqlStore, open_store, to_async_url
from hookcast.store.append import Publish
from hookcast.store.append_at_once import PUBLISH, plan_at_once, publish_values
from hookcast.store.append_postgres import NUMBERING
from hookcast.store.caller_transaction import CallerTransaction
from hookcast.store.operational import lock_standing
from support import factories as make
from support.publishing import (
    account_with_webhook,
    fanout_for,
    published_behind,
    waiting_on_a_lock,
    waiting_on_locks,
)
from support.sql import generic_plan
from support.waiting import DEADLINE, eventually

pytestmark = pytest.mark.postgres


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


async def _published_after(
    holder: AsyncTransaction, publishing: asyncio.Future[Any], url: str
) -> None:
    """Lets `publishing` run into the lock `holder` took (or finish first), then commits
    `holder` and waits for the publish; one refused with ConfigChanged is a caller's to
    fan out again."""

    async def stored_or_waits() -> bool:
        return publishing.done() or await waiting_on_a_lock(url)

    await eventually(stored_or_waits, message="the publish neither ran nor waited")
    await holder.commit()
    with contextlib.suppress(ConfigChanged):
        await publishing


async def test_concurrent_single_publishes_share_one_transaction(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await account_with_webhook(pg_store)
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


@pytest.mark.parametrize("ordering", [Ordering.NONE, Ordering.RESOURCE])
async def test_an_event_another_publisher_stores_meanwhile_takes_no_second_number(
    pg_store: SqlStore, postgres_database: str, ordering: Ordering
) -> None:
    acme, hook = await account_with_webhook(pg_store, ordering=ordering, all_sites=True)
    first, repeated, last = (make.event(acme.id) for _ in range(3))  # all about one media
    await pg_store.append_events(events=[first], fanout=fanout_for(hook, [first]))
    # Another publisher stores `repeated` and holds the media's counter to its commit.
    stored = await published_behind(
        pg_store, postgres_database, hook, theirs=repeated, ours=[repeated, last]
    )
    assert stored == [last.id]

    page = await pg_store.list_events(EventQuery(acme.id, PageRequest(page_length=10)))
    numbers = {summary.event.id: summary.event.sequence for summary in page.items}
    assert numbers == {first.id: 1, repeated.id: 2, last.id: 3}
    deliveries = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert deliveries.total == 3


def _about_no_resource(account_id: str, **overrides: Any) -> Event:
    """An event that takes no resource counter (so counters do not order its publishes)."""
    return make.event(
        account_id,
        type="livesource_created",
        resource_ids={"livesource_id": "Ls4Vb9Kd"},
        **overrides,
    )


def _in_id_order(account_id: str, count: int) -> list[Event]:
    """`count` events about no resource whose ids sort in list order in any collation."""
    prefix = new_event_id()
    return [_about_no_resource(account_id, id=f"{prefix}-{n:04d}") for n in range(count)]


# Three rounds of 1,000 events in HookCast's key order: the suite's, not test-lowest's (a
# deadlock's error through the driver is the next test's, run on the floors).
@pytest.mark.suite_only
async def test_two_groups_with_the_same_events_in_opposite_orders_both_succeed(
    postgres_database: str, secret_key: bytes
) -> None:
    # PostgreSQL would look for a deadlock only after a minute: one between the groups shows
    # as publishes that do not finish, not as one ended and hidden by the store's redo.
    async with _store_with_deadlock_timeout(postgres_database, secret_key, "60s") as store:
        acme, hook = await account_with_webhook(store)
        other, other_hook = await account_with_webhook(store)
        engine = create_async_engine(to_async_url(postgres_database))
        stored: list[str] = []
        published: list[str] = []
        try:
            for _ in range(3):  # rounds
                # The batch in key order, the pair against it: were events inserted as
                # published, the pair's group would hold the last while waiting for the
                # first, which the batch's group holds while waiting for the last.
                batch = _in_id_order(acme.id, 1000)
                lone = _about_no_resource(other.id)
                async with engine.connect() as conn:
                    transaction = await conn.begin()
                    # Another publisher holds an event in the middle of the batch to its
                    # commit, so the batch's group waits there, half inserted, while the
                    # pair's group begins: the two groups' transactions are under way at once.
                    stored += await store.using(conn).append_events(
                        events=[batch[500]], fanout=make.fanout_to(hook.id)
                    )
                    whole = asyncio.ensure_future(
                        store.append_events(events=batch, fanout=make.fanout_to(hook.id))
                    )
                    await eventually(lambda: waiting_on_a_lock(postgres_database))
                    pair = asyncio.ensure_future(
                        store.append_events(
                            events=[batch[-1], batch[0]], fanout=make.fanout_to(hook.id)
                        )
                    )
                    alone = asyncio.ensure_future(
                        store.append_events(events=[lone], fanout=make.fanout_to(other_hook.id))
                    )
                    # The pair's group waits on an event the batch's group inserted.
                    await eventually(
                        lambda: _at_least(2, waiting_on_locks(postgres_database)),
                        message="the pair's group never waited on the batch's",
                    )
                    await transaction.commit()
                    publishes = asyncio.gather(whole, pair, alone)
                    for ids in await asyncio.wait_for(publishes, timeout=DEADLINE):
                        stored += ids
                published += [event.id for event in batch] + [lone.id]
        finally:
            await engine.dispose()

        assert sorted(stored) == sorted(published)  # each stored once, by one publish
        page = await store.list_events(EventQuery(acme.id, PageRequest(page_length=1)))
        assert page.total == 3000
        deliveries = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
        assert deliveries.total == 3000
        theirs = await store.list_deliveries(DeliveryQuery(other.id, other_hook.id))
        assert theirs.total == 3


@asynccontextmanager
async def _store_with_deadlock_timeout(
    url: str, secret_key: bytes, timeout: str
) -> AsyncIterator[SqlStore]:
    """A store whose sessions wait `timeout` on a lock before PostgreSQL looks for a
    deadlock (and ends it by rolling one of them back)."""
    conn = await asyncpg.connect(url)
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute(f"ALTER DATABASE \"{database}\" SET deadlock_timeout = '{timeout}'")
    finally:
        await conn.close()
    store = await open_store(url, secret_key=secret_key)  # its sessions begin after that
    try:
        yield store
    finally:
        await store.close()


async def _at_least(n: int, count: Awaitable[int]) -> bool:
    return await count >= n


async def test_a_group_rolled_back_to_end_a_deadlock_is_written_again(
    postgres_database: str, secret_key: bytes
) -> None:
    # The store's sessions look for a deadlock after 3 s of waiting, the caller's below after
    # a minute: the group's transaction is the one PostgreSQL rolls back.
    async with _store_with_deadlock_timeout(postgres_database, secret_key, "3s") as store:
        acme, hook = await account_with_webhook(store)
        other, other_hook = await account_with_webhook(store)
        first, second = _in_id_order(acme.id, 2)
        lone = _about_no_resource(other.id)
        engine = create_async_engine(to_async_url(postgres_database))
        try:
            async with engine.connect() as conn:
                transaction = await conn.begin()
                await conn.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")
                caller = store.using(conn)  # a caller's transaction, locking in its own order
                await caller.append_events(events=[second], fanout=make.fanout_to(hook.id))
                # One group: the pair, and another account's event.
                pair = asyncio.ensure_future(
                    store.append_events(events=[first, second], fanout=make.fanout_to(hook.id))
                )
                alone = asyncio.ensure_future(
                    store.append_events(events=[lone], fanout=make.fanout_to(other_hook.id))
                )
                await eventually(lambda: waiting_on_a_lock(postgres_database))  # on `second`
                # The caller now waits on the group's `first`: a deadlock.
                await caller.append_events(events=[first], fanout=make.fanout_to(hook.id))
                await transaction.commit()
        finally:
            await engine.dispose()

        assert await pair == []  # the caller stored both first
        assert await alone == [lone.id]
        mine = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
        theirs = await store.list_deliveries(DeliveryQuery(other.id, other_hook.id))
        assert (mine.total, theirs.total) == (2, 1)


async def test_a_publish_does_not_wait_for_a_recording_that_holds_its_webhook(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await account_with_webhook(pg_store)
    event = make.event(acme.id, resource_ids={"media_id": "M0000001"})
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            recording = await conn.begin()
            # The lock a worker's recording takes on its webhooks until it commits.
            await lock_standing(CallerTransaction(conn), [hook.id])
            stored = await asyncio.wait_for(
                pg_store.append_events(events=[event], fanout=make.fanout_to(hook.id)), DEADLINE
            )
            await recording.rollback()
    finally:
        await engine.dispose()

    assert stored == [event.id]
    deliveries = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert deliveries.total == 1


@pytest.mark.parametrize("ordering", [Ordering.NONE, Ordering.RESOURCE])
async def test_a_publish_during_a_pause_leaves_no_delivery_the_worker_would_send(
    pg_store: SqlStore, postgres_database: str, ordering: Ordering
) -> None:
    # A person pauses the webhook (their clock read at make.NOW, before the publisher's)
    # while an event is published to it (its delivery made at make.later(1)), its
    # configuration checked before the pause commits. The worker parks a pending delivery
    # claimed under a disabled webhook only if it was made no later than the webhook's last
    # change (delivery/worker.py `_sendable`): this one would be sent, and retried, to the
    # paused webhook. The pause locked the webhook first here; under FOR SHARE as under
    # FOR KEY SHARE the publish then stored its delivery pending once the pause committed
    # (ordered: through store/append.py, unordered: store/append_postgres.py).
    acme, hook = await account_with_webhook(pg_store, ordering=ordering, all_sites=True)
    event = make.event(acme.id, created=make.later(1))
    made_later = FanoutPlan(Subscribers([hook]), [event], now=make.later(1), new_id=new_delivery_id)
    checked = ConfigVersion(acme.id, await pg_store.config_version(acme.id))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            pausing = await conn.begin()
            paused = replace(hook, enabled=False, last_modified=make.NOW)
            await pg_store.using(conn).update_webhook(paused, make.NOW)
            publishing = asyncio.ensure_future(
                pg_store.append_events(events=[event], fanout=made_later, expect=checked)
            )

            await _published_after(pausing, publishing, postgres_database)
    finally:
        await engine.dispose()

    await _none_the_worker_would_send(pg_store, acme.id, hook.id)


async def test_a_pause_during_a_publish_pauses_its_deliveries(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # The other order: the publish locked the webhook first (in a caller's transaction
    # here), and the pause, its clock read before the publisher's, commits before it. Under
    # FOR KEY SHARE the pause no longer waited for the publish, so its UPDATE of the
    # webhook's pending deliveries missed the publish's, and they stayed pending.
    acme, hook = await account_with_webhook(pg_store)
    event = make.event(acme.id, created=make.later(1))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            publishing = await conn.begin()
            await pg_store.using(conn).append_events(events=[event], fanout=make.fanout_to(hook.id))
            paused = replace(hook, enabled=False, last_modified=make.NOW)
            pausing = asyncio.ensure_future(pg_store.update_webhook(paused, make.NOW))

            async def paused_or_waits() -> bool:
                return pausing.done() or await waiting_on_a_lock(postgres_database)

            await eventually(paused_or_waits, message="the pause neither ran nor waited")
            await publishing.commit()
            await pausing
    finally:
        await engine.dispose()

    await _none_the_worker_would_send(pg_store, acme.id, hook.id)


async def _none_the_worker_would_send(store: SqlStore, account_id: str, webhook_id: str) -> None:
    """No delivery of the (disabled) webhook is pending and made after its last change."""
    webhook = await store.get_webhook(account_id, webhook_id)
    assert webhook is not None
    assert not webhook.enabled
    page = await store.list_deliveries(DeliveryQuery(account_id, webhook_id))
    sent = [
        record.delivery.status
        for record in page.items
        if record.delivery.status is DeliveryStatus.PENDING
        and record.delivery.created > webhook.last_modified
    ]
    assert not sent, "a pending delivery made after the pause's last_modified"


@pytest.mark.parametrize("statement", ["numbering", "at once"])
async def test_a_young_database_finds_stored_events_by_primary_key(
    pg_store: SqlStore, postgres_database: str, statement: str
) -> None:
    acme, hook = await account_with_webhook(pg_store)
    for _ in range(30):  # past the store's re-analyses at 1,000 and 2,000 events
        batch = [make.event(acme.id) for _ in range(100)]
        await pg_store.append_events(events=batch, fanout=make.fanout_to(hook.id))
    await pg_store.close()  # waits for the re-analysis under way

    if statement == "numbering":
        plan = await generic_plan(postgres_database, NUMBERING, _numbering_values(batch[0]))
    else:
        one = make.event(acme.id)
        group = plan_at_once([Publish([one], make.fanout_to(hook.id), None)])
        assert group is not None
        plan = await generic_plan(postgres_database, PUBLISH, publish_values(group))

    assert "pk_events" in plan, plan
    assert "ix_events_account_id_created" not in plan, plan
    assert "Seq Scan on events" not in plan, plan


def _numbering_values(event: Event) -> dict[str, Any]:
    return {
        "v_accounts": [event.account_id],
        "v_versions": [1],
        "c_accounts": [event.account_id],
        "c_ids": [event.id],
        "c_keys": ["media:MNYaMSQl"],
    }


def _disabled_by_a_worker(webhook_id: str) -> WebhookHealth:
    """What a worker's recording applies when a failure disables the webhook (410 Gone)."""
    return WebhookHealth(
        webhook_id, succeeded_at=None, failed_at=datetime.now(UTC), disable_reason="410 Gone"
    )


def _made_at(hook: Webhook, event: Event, now: datetime) -> Fanout:
    return FanoutPlan(Subscribers([hook]), [event], now=now, new_id=new_delivery_id)


@pytest.mark.parametrize("ordering", [Ordering.NONE, Ordering.RESOURCE])
async def test_a_publish_during_a_disable_by_the_worker_leaves_no_delivery_it_would_send(
    pg_store: SqlStore, postgres_database: str, ordering: Ordering
) -> None:
    # As a pause through the API (the test above), but the worker disables the webhook
    # while recording a failure, and its recording holds the webhook under FOR NO KEY
    # UPDATE, which a publish's FOR KEY SHARE does not wait for: the publish, its
    # configuration checked before the disable commits and its delivery made after the
    # disable's clock read, read the webhook enabled, stored the delivery pending after the
    # disable had paused the others, and the worker sent it.
    acme, hook = await account_with_webhook(pg_store, ordering=ordering, all_sites=True)
    checked = ConfigVersion(acme.id, await pg_store.config_version(acme.id))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            recording = await conn.begin()
            await pg_store.using(conn).record_results([], [_disabled_by_a_worker(hook.id)])
            made = datetime.now(UTC)
            event = make.event(acme.id, created=made)
            publishing = asyncio.ensure_future(
                pg_store.append_events(
                    events=[event], fanout=_made_at(hook, event, made), expect=checked
                )
            )

            await _published_after(recording, publishing, postgres_database)
    finally:
        await engine.dispose()

    await _none_the_worker_would_send(pg_store, acme.id, hook.id)


async def test_a_disable_by_the_worker_during_a_publish_pauses_its_deliveries(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # The other order: the publish locked the webhook first (in a caller's transaction), on
    # a host whose clock is a second ahead of the worker's, and the worker's disable
    # commits before it: its pause of the webhook's pending deliveries missed the
    # publish's, and they stayed pending, made later than the disable.
    acme, hook = await account_with_webhook(pg_store, all_sites=True)
    made = datetime.now(UTC) + timedelta(seconds=1)
    event = make.event(acme.id, created=made)
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            publishing = await conn.begin()
            await pg_store.using(conn).append_events(
                events=[event], fanout=_made_at(hook, event, made)
            )
            disabling = asyncio.ensure_future(
                pg_store.record_results([], [_disabled_by_a_worker(hook.id)])
            )

            async def disabled_or_waits() -> bool:
                return disabling.done() or await waiting_on_a_lock(postgres_database)

            await eventually(disabled_or_waits, message="the disable neither ran nor waited")
            await publishing.commit()
            await disabling
    finally:
        await engine.dispose()

    await _none_the_worker_would_send(pg_store, acme.id, hook.id)
