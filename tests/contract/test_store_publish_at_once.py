"""A publish in one autocommitted statement on PostgreSQL (store/append_at_once.py): taken
for a group of one publish written alone when every delivery is only an INSERT, refused
(writing nothing, the publish then written the general way) when a configuration moved or
an event is stored already, failed whole when a concurrent publish stores one of its
events; two statements for a group of several publishes and for ordered, coalescing and
held deliveries; a webhook deleted or paused meanwhile gets no pending delivery, and the
workers are notified exactly when a delivery is due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Account, DeliveryStatus, Ordering, Webhook
from hookcast.domain.ordering import number_events
from hookcast.ports import ConfigChanged, ConfigVersion, DeliveryQuery, EventQuery
from hookcast.store import SqlStore, group_commit, to_async_url
from hookcast.store.sql import NOTIFY_CHANNEL
from support import factories as make
from support.publishing import (
    account_with_webhook,
    fanout_for,
    published_behind,
    waiting_on_a_lock,
)
from support.waiting import eventually

pytestmark = pytest.mark.postgres


@dataclass
class _Paths:
    """Which ways store/group_commit.py wrote each group: "at once" (one statement),
    "two statements" (store/append_postgres.py), "together" (store/append.py)."""

    taken: list[str] = field(default_factory=list)


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> _Paths:
    seen = _Paths()

    def spy(name: str, write: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def spied(*args: Any, **kwargs: Any) -> Any:
            seen.taken.append(name)
            return await write(*args, **kwargs)

        return spied

    for attribute, name in [
        ("append_at_once", "at once"),
        ("append_on_postgres", "two statements"),
        ("append_together", "together"),
    ]:
        monkeypatch.setattr(group_commit, attribute, spy(name, getattr(group_commit, attribute)))
    return seen


async def _account_with_webhook(store: SqlStore, **webhook: Any) -> tuple[Account, Webhook]:
    return await account_with_webhook(store, all_sites=True, **webhook)


async def _checked(store: SqlStore, account_id: str) -> ConfigVersion:
    return ConfigVersion(account_id, await store.config_version(account_id))


async def _numbers(store: SqlStore, account_id: str) -> dict[str, int | None]:
    page = await store.list_events(EventQuery(account_id))
    return {summary.event.id: summary.event.sequence for summary in page.items}


async def _statuses(store: SqlStore, account_id: str, webhook_id: str) -> list[DeliveryStatus]:
    page = await store.list_deliveries(DeliveryQuery(account_id, webhook_id))
    return [record.delivery.status for record in page.items]


async def test_a_group_of_plain_deliveries_is_one_statement_numbered_in_sql(
    pg_store: SqlStore, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(
        pg_store, events=("media_available", "livesource_created")
    )
    media = [make.event(acme.id, resource_ids={"media_id": "M0000001"}) for _ in range(3)]
    other = make.event(acme.id, resource_ids={"media_id": "M0000002"})
    unnumbered = make.event(acme.id, type="livesource_created", resource_ids={})
    await pg_store.append_events(events=media[:1], fanout=fanout_for(hook, media[:1]))
    batch = [*media[1:], other, unnumbered]

    stored = await pg_store.append_events(
        events=batch, fanout=fanout_for(hook, batch), expect=await _checked(pg_store, acme.id)
    )

    assert stored == [event.id for event in batch]
    assert paths.taken == ["at once", "at once"]
    assert await _numbers(pg_store, acme.id) == {
        media[0].id: 1,
        media[1].id: 2,
        media[2].id: 3,
        other.id: 1,
        unnumbered.id: None,
    }
    assert await _statuses(pg_store, acme.id, hook.id) == [DeliveryStatus.PENDING] * 5


async def test_the_statement_numbers_in_publish_order_as_number_events_does(
    pg_store: SqlStore, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(
        pg_store, events=("media_available", "livesource_created")
    )
    media = {"media_id": "M0000001"}
    # Ids against publish order (the events are inserted in id order), another resource and
    # an event about none between them, and one repeated.
    late, early = make.event(acme.id, id="zz", resource_ids=media), make.event(acme.id, id="AA")
    channel = make.event(acme.id, type="livesource_created", resource_ids={"channel_id": "C1"})
    nothing = make.event(acme.id, type="livesource_created", resource_ids={})
    last = make.event(acme.id, id="mm", resource_ids=media)
    batch = [late, nothing, replace(early, resource_ids=media), late, channel, last]
    unique = [late, nothing, batch[2], channel, last]

    await pg_store.append_events(events=batch, fanout=fanout_for(hook, batch))

    assert paths.taken == ["at once"]
    numbered = number_events(unique, {(acme.id, "media:M0000001"): 3, (acme.id, "channel:C1"): 1})
    assert await _numbers(pg_store, acme.id) == {e.id: e.sequence for e in numbered}
    assert await _numbers(pg_store, acme.id) == {
        "zz": 1,
        nothing.id: None,
        "AA": 2,
        channel.id: 1,
        "mm": 3,
    }


async def test_a_configuration_moved_before_the_statement_refuses_the_publish(
    pg_store: SqlStore, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    checked = await _checked(pg_store, acme.id)
    await pg_store.update_webhook(replace(hook, name="renamed"), make.later(1))  # moves it
    late = make.event(acme.id)

    # The statement is refused, writing nothing, and store/append.py refuses the publish.
    with pytest.raises(ConfigChanged):
        await pg_store.append_events(events=[late], fanout=fanout_for(hook, [late]), expect=checked)

    assert paths.taken == ["at once", "together"]
    assert await _numbers(pg_store, acme.id) == {}
    # The refused statement moved no counter: the media's next event is its first.
    again = make.event(acme.id)
    await pg_store.append_events(events=[again], fanout=fanout_for(hook, [again]))
    assert await _numbers(pg_store, acme.id) == {again.id: 1}


async def test_a_group_of_several_publishes_takes_two_statements(
    pg_store: SqlStore, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    other, other_hook = await _account_with_webhook(pg_store)
    checked = await _checked(pg_store, acme.id)
    await pg_store.update_webhook(replace(hook, name="renamed"), make.later(1))  # moves it
    late, fine = make.event(acme.id), make.event(other.id)

    # One group (published in the same turn of the loop): publishes arrive faster than one
    # statement each would gather them (store/group_commit.py); the moved one is refused
    # alone, as before.
    refused, stored = await asyncio.gather(
        pg_store.append_events(events=[late], fanout=fanout_for(hook, [late]), expect=checked),
        pg_store.append_events(events=[fine], fanout=fanout_for(other_hook, [fine])),
        return_exceptions=True,
    )

    assert isinstance(refused, ConfigChanged)
    assert stored == [fine.id]
    assert paths.taken == ["two statements", "together"]
    assert await _numbers(pg_store, acme.id) == {}
    assert await _numbers(pg_store, other.id) == {fine.id: 1}


async def test_a_retry_is_refused_whole_and_written_the_general_way(
    pg_store: SqlStore, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    first, second = make.event(acme.id), make.event(acme.id)
    await pg_store.append_events(events=[first], fanout=fanout_for(hook, [first]))

    stored = await pg_store.append_events(
        events=[first, second], fanout=fanout_for(hook, [first, second])
    )

    assert stored == [second.id]
    assert paths.taken == ["at once", "at once", "together"]
    assert await _numbers(pg_store, acme.id) == {first.id: 1, second.id: 2}
    assert len(await _statuses(pg_store, acme.id, hook.id)) == 2


async def test_the_same_event_published_twice_at_once_is_stored_once_without_a_gap(
    pg_store: SqlStore, postgres_database: str, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    repeated, last = make.event(acme.id), make.event(acme.id)  # about one media
    # Another publisher stores `repeated` and holds the media's counter: our statement's
    # snapshot does not see the event, then its INSERT meets it.
    stored = await published_behind(
        pg_store, postgres_database, hook, theirs=repeated, ours=[repeated, last]
    )
    assert stored == [last.id]

    assert paths.taken == ["at once", "together"]
    assert await _numbers(pg_store, acme.id) == {repeated.id: 1, last.id: 2}
    assert len(await _statuses(pg_store, acme.id, hook.id)) == 2


async def test_a_webhook_deleted_during_the_statement_gets_no_delivery(
    pg_store: SqlStore, postgres_database: str, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    event = make.event(acme.id)
    checked = await _checked(pg_store, acme.id)
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as conn:
            deleting = await conn.begin()
            assert await pg_store.using(conn).delete_webhook(acme.id, hook.id)
            publishing = asyncio.ensure_future(
                pg_store.append_events(
                    events=[event], fanout=fanout_for(hook, [event]), expect=checked
                )
            )
            # Its check passes (the delete is not committed); its lock waits for the delete.
            await eventually(lambda: waiting_on_a_lock(postgres_database))
            await deleting.commit()
            assert await publishing == [event.id]
    finally:
        await engine.dispose()

    assert paths.taken == ["at once"]
    assert await _numbers(pg_store, acme.id) == {event.id: 1}
    assert await _statuses(pg_store, acme.id, hook.id) == []


async def test_a_webhook_paused_during_the_statement_gets_its_delivery_paused(
    pg_store: SqlStore, postgres_database: str, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    event = make.event(acme.id, created=make.later(1))
    checked = await _checked(pg_store, acme.id)
    made_later = FanoutPlan(Subscribers([hook]), [event], now=make.later(1), new_id=new_delivery_id)
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with _notifications(postgres_database) as notified, engine.connect() as conn:
            pausing = await conn.begin()
            paused = replace(hook, enabled=False, last_modified=make.NOW)
            await pg_store.using(conn).update_webhook(paused, make.NOW)
            publishing = asyncio.ensure_future(
                pg_store.append_events(events=[event], fanout=made_later, expect=checked)
            )
            await eventually(lambda: waiting_on_a_lock(postgres_database))
            await pausing.commit()
            assert await publishing == [event.id]
            assert await notified() == []  # paused: not due
    finally:
        await engine.dispose()

    assert paths.taken == ["at once"]
    assert await _statuses(pg_store, acme.id, hook.id) == [DeliveryStatus.PAUSED]


@pytest.mark.parametrize(
    ("webhook", "statuses"),
    [
        pytest.param(
            {"ordering": Ordering.RESOURCE},
            [DeliveryStatus.PENDING, DeliveryStatus.WAITING],  # a chain
            id="ordered",
        ),
        pytest.param(
            {"coalesce": True},
            [DeliveryStatus.SUPERSEDED, DeliveryStatus.PENDING],  # latest wins
            id="coalescing",
        ),
        pytest.param({"enabled": False}, [DeliveryStatus.HELD] * 2, id="held"),
    ],
)
async def test_deliveries_that_need_more_than_an_insert_take_two_statements(
    pg_store: SqlStore, paths: _Paths, webhook: dict[str, Any], statuses: list[DeliveryStatus]
) -> None:
    acme, hook = await _account_with_webhook(pg_store, events=("media_updated",), **webhook)
    first, second = (make.event(acme.id, type="media_updated") for _ in range(2))

    await pg_store.append_events(events=[first, second], fanout=fanout_for(hook, [first, second]))

    assert paths.taken == ["two statements"]
    numbers = await _numbers(pg_store, acme.id)  # with a webhook_held event when held
    assert (numbers[first.id], numbers[second.id]) == (1, 2)
    page = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    by_event = {record.delivery.event_id: record.delivery.status for record in page.items}
    assert [by_event[first.id], by_event[second.id]] == statuses


@asynccontextmanager
async def _notifications(url: str) -> AsyncIterator[Callable[[], Awaitable[list[str]]]]:
    """Listens on the workers' channel; the callable returns the payloads received since
    the last call, once a marker sent after them has come back (notifications arrive in
    commit order), so no sleep decides that none more is coming."""
    conn = await asyncpg.connect(url)
    marker_conn = await asyncpg.connect(url)
    received: list[str] = []
    markers = 0

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        received.append(payload)

    await conn.add_listener(NOTIFY_CHANNEL, heard)

    async def since_last() -> list[str]:
        nonlocal markers
        markers += 1
        marker = f"marker-{markers}"
        await marker_conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, marker)
        await eventually(lambda: _has(received, marker))
        got = received[: received.index(marker)]
        del received[: received.index(marker) + 1]
        return got

    try:
        yield since_last
    finally:
        await conn.close()
        await marker_conn.close()


async def _has(received: list[str], marker: str) -> bool:
    return marker in received


async def test_the_workers_are_notified_exactly_when_a_delivery_is_due(
    pg_store: SqlStore, postgres_database: str, paths: _Paths
) -> None:
    acme, hook = await _account_with_webhook(pg_store)
    gone = make.webhook(acme.id, all_sites=True)
    await pg_store.create_webhook(gone)
    async with _notifications(postgres_database) as notified:
        due = make.event(acme.id)
        await pg_store.append_events(events=[due], fanout=fanout_for(hook, [due]))
        assert await notified() == [""]

        nowhere = make.event(acme.id)
        await pg_store.append_events(events=[nowhere], fanout=make.no_fanout)
        assert await notified() == []

        # Fanned out to a webhook deleted since: no delivery made, none due.
        orphan = make.event(acme.id)
        stale = fanout_for(gone, [orphan])
        await pg_store.delete_webhook(acme.id, gone.id)
        await pg_store.append_events(events=[orphan], fanout=stale)
        assert await notified() == []

    assert paths.taken == ["at once"] * 3
