"""Delivery counts by webhook, hour and status, with their attempts: the dashboard's health
figures and chart."""

from __future__ import annotations

from collections.abc import Sequence

from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.ports import DeliveryCount, Fanout
from hookcast.store import SqlStore
from support import factories as make

SUCCEEDED, FAILED = DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED
PENDING = DeliveryStatus.PENDING


def _with_status(webhook_id: str, status: DeliveryStatus, attempts: int) -> Fanout:
    def fanout(events: Sequence[Event]) -> Sequence[Delivery]:
        return [make.delivery(e, webhook_id, status=status, attempts=attempts) for e in events]

    return fanout


async def _publish(
    store: SqlStore,
    account_id: str,
    webhook_id: str,
    status: DeliveryStatus,
    *seconds: float,
    attempts: int = 0,
) -> None:
    published = [make.event(account_id, created=make.later(s)) for s in seconds]
    await store.append_events(events=published, fanout=_with_status(webhook_id, status, attempts))


async def test_counts_are_grouped_by_webhook_hour_and_status(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook, other_hook = make.webhook(acme.id), make.webhook(acme.id)
    await store.create_webhook(hook)
    await store.create_webhook(other_hook)
    # NOW is 12:00 exactly: 12:00 and 12:59:59 share an hour, 13:00 starts the next one.
    await _publish(store, acme.id, hook.id, SUCCEEDED, 0, 3599, 3600)
    await _publish(store, acme.id, hook.id, FAILED, 60)
    await _publish(store, acme.id, hook.id, PENDING, 70, 80, attempts=3)  # retrying
    await _publish(store, acme.id, other_hook.id, SUCCEEDED, 10)
    await _publish(store, acme.id, hook.id, SUCCEEDED, -1)  # before `since`: left out

    counts = await store.count_deliveries_by_hour(
        account_id=acme.id, webhook_ids=[hook.id, other_hook.id], since=make.NOW
    )

    assert sorted(counts, key=lambda c: (c.webhook_id != hook.id, c.hour, c.status)) == [
        DeliveryCount(hook.id, make.NOW, FAILED, 1),
        DeliveryCount(hook.id, make.NOW, PENDING, 2, attempts=6),
        DeliveryCount(hook.id, make.NOW, SUCCEEDED, 2),
        DeliveryCount(hook.id, make.later(3600), SUCCEEDED, 1),
        DeliveryCount(other_hook.id, make.NOW, SUCCEEDED, 1),
    ]


async def test_counts_are_scoped_to_the_account_and_the_webhooks_asked_for(
    store: SqlStore,
) -> None:
    acme, rival = make.account(), make.account()
    await store.create_account(acme)
    await store.create_account(rival)
    hook, unasked = make.webhook(acme.id), make.webhook(acme.id)
    rivals_hook = make.webhook(rival.id)
    for webhook in (hook, unasked, rivals_hook):
        await store.create_webhook(webhook)
    await _publish(store, acme.id, unasked.id, SUCCEEDED, 0)
    await _publish(store, rival.id, rivals_hook.id, SUCCEEDED, 0)

    assert (
        await store.count_deliveries_by_hour(
            account_id=acme.id, webhook_ids=[hook.id], since=make.NOW
        )
        == []
    )
    assert (
        await store.count_deliveries_by_hour(
            account_id=acme.id, webhook_ids=[rivals_hook.id], since=make.NOW
        )
        == []
    )
    assert (
        await store.count_deliveries_by_hour(account_id=acme.id, webhook_ids=[], since=make.NOW)
        == []
    )
