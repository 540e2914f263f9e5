"""A test or example a person sends to a webhook goes "even when it is disabled"
(services/deliveries.py `send_example`): no walk, start-up sweep or park pauses it, while
a published delivery of the disabled webhook is paused as before (store/pausable.py).

On both databases. Before, the sweep and a disable's walk paused every pending delivery
of a disabled webhook: a test sent while no worker ran, or retrying when the webhook was
disabled, went only once it was enabled again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from hookcast.domain.fanout import direct_delivery
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Delivery, DeliveryStatus, Event, Webhook
from hookcast.ports import ConfigVersion, DeliveryQuery, PageRequest
from hookcast.store import SqlStore
from support import factories as make
from support.publishing import account_with_webhook
from support.sql import execute_sql

LATER = make.later(3600)  # every delivery below is due by then


def _test_to(hook: Webhook, *, at: datetime) -> tuple[Event, Delivery]:
    """A test sent to the webhook `at`, as services/deliveries.py `send_test` makes it."""
    test = make.event(hook.account_id, type="webhook_test", created=at)
    return test, direct_delivery(test, hook.id, now=at, delivery_id=new_delivery_id())


async def _send_test(store: SqlStore, hook: Webhook, *, at: datetime) -> str:
    test, sent = _test_to(hook, at=at)
    await store.append_events(events=[test], fanout=lambda _: [sent])
    return sent.id


async def _publish(store: SqlStore, hook: Webhook) -> None:
    """One published delivery to the webhook, made before its disable."""
    await store.append_events(events=[make.event(hook.account_id)], fanout=make.fanout_to(hook.id))


async def _disable(store: SqlStore, hook: Webhook, *, at: datetime) -> None:
    """A person's save that disables the webhook, its walk over."""
    await store.update_webhook(replace(hook, enabled=False), at)
    await store.settle_pauses()


async def _enable(store: SqlStore, hook: Webhook, *, at: datetime) -> None:
    """A person's save that enables the webhook again, its walk over."""
    saved = await store.get_webhook(hook.account_id, hook.id)
    assert saved is not None
    await store.update_webhook(replace(saved, enabled=True), at)
    await store.settle_pauses()


async def _status(store: SqlStore, hook: Webhook, delivery_id: str) -> DeliveryStatus:
    found = await store.get_delivery(hook.account_id, delivery_id)
    assert found is not None
    return found.delivery.status


async def _claimed(store: SqlStore) -> dict[str, str]:
    """The deliveries a claim takes now: each id's lease token."""
    claimed = await store.claim_due_deliveries(now=LATER, limit=10, lease_seconds=60)
    return {item.delivery_id: item.lease_token for item in claimed}


async def test_a_test_sent_to_a_disabled_webhook_survives_the_start_up_sweep(
    store: SqlStore,
) -> None:
    """No worker ran since the test was sent: the next one's start swept it, paused."""
    _, hook = await account_with_webhook(store)
    await _publish(store, hook)
    await _disable(store, hook, at=make.later(10))
    test_id = await _send_test(store, hook, at=make.later(20))

    assert await store.finish_walks(make.later(30)) == 0  # nothing owed: no walk

    assert list(await _claimed(store)) == [test_id]


async def test_a_test_pending_when_its_webhook_is_disabled_still_goes(
    store: SqlStore,
) -> None:
    """Sent before the disable (retrying against a receiver that is down, say): the
    disable's walk leaves it pending and pauses the published delivery beside it."""
    _, hook = await account_with_webhook(store)
    test_id = await _send_test(store, hook, at=make.later(5))
    await _publish(store, hook)

    await _disable(store, hook, at=make.later(10))
    await store.finish_walks(make.later(30))

    assert list(await _claimed(store)) == [test_id]
    query = DeliveryQuery(
        account_id=hook.account_id,
        webhook_id=hook.id,
        status=DeliveryStatus.PAUSED,
        page=PageRequest(),
    )
    assert (await store.list_deliveries(query)).total == 1  # the published one


async def test_a_park_keeps_a_test_leased_and_pauses_a_published_delivery(
    store: SqlStore,
) -> None:
    """A claim that reached both before the disable's walk: the worker parks what it
    claimed of a disabled webhook, and sends what the park kept leased."""
    _, hook = await account_with_webhook(store)
    test_id = await _send_test(store, hook, at=make.later(5))
    await _publish(store, hook)
    leases = await _claimed(store)
    await _disable(store, hook, at=make.later(10))

    kept = await store.park_deliveries(sorted(leases.items()))

    assert list(kept) == [test_id]
    (published_id,) = set(leases) - {test_id}
    assert await _status(store, hook, published_id) is DeliveryStatus.PAUSED
    assert await _status(store, hook, test_id) is DeliveryStatus.PENDING
    assert await _claimed(store) == {}  # still leased to the parking worker


async def test_a_test_published_beside_a_checked_publish_that_holds_is_not_paused(
    store: SqlStore,
) -> None:
    """Concurrent publishes share a transaction (store/group_commit.py): on PostgreSQL a
    checked publish that holds a delivery has the group's deliveries stored one by one
    (store/deliveries.py `insert_deliveries`), which paused every pending one to a
    disabled webhook, the test among them; the enable after left it paused."""
    acme, hook = await account_with_webhook(store)
    await _disable(store, hook, at=make.later(10))
    checked = ConfigVersion(acme.id, await store.config_version(acme.id))
    test, sent = _test_to(hook, at=make.later(20))

    def held(events: Sequence[Event]) -> list[Delivery]:
        made = make.fanout_to(hook.id)(events)
        return [replace(delivery, status=DeliveryStatus.HELD) for delivery in made]

    await asyncio.gather(  # queued together: one group
        store.append_events(events=[make.event(acme.id)], fanout=held, expect=checked),
        store.append_events(events=[test], fanout=lambda _: [sent]),
    )

    assert await _status(store, hook, sent.id) is DeliveryStatus.PENDING
    assert list(await _claimed(store)) == [sent.id]


async def test_an_enable_resumes_a_test_stored_paused(store: SqlStore, database_url: str) -> None:
    """A test a publish paused before it was kept from that (the test above), or an
    operator's hand: enabling the webhook makes it pending, as it does a published one."""
    _, hook = await account_with_webhook(store)
    await _disable(store, hook, at=make.later(10))
    test_id = await _send_test(store, hook, at=make.later(20))
    execute_sql(database_url, f"UPDATE deliveries SET status = 'paused' WHERE id = '{test_id}'")
    assert await _status(store, hook, test_id) is DeliveryStatus.PAUSED

    await _enable(store, hook, at=make.later(30))

    assert await _status(store, hook, test_id) is DeliveryStatus.PENDING
    assert list(await _claimed(store)) == [test_id]
