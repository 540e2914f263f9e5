"""What a publish may hand its own worker (`Store.append_events`'s `handover`): the
deliveries stored pending under its lease to a webhook enabled as stored, on either
database. A publish whose configuration was not checked (its last attempt, or a person's
test) to a webhook paused since its fan-out read it stores its delivery as made, and hands
over none of it; the interleavings with another process's pause, disable or delete on
PostgreSQL are tests/integration/test_publish_handoff.py's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hookcast.domain.fanout import FanoutPlan, Lease, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.store import SqlStore
from support import factories as make

_LEASE = Lease(token="handoff-token", until=make.later(60), room=10)


@pytest.mark.parametrize("paused", [False, True], ids=["enabled", "paused-since-fan-out"])
async def test_a_publish_hands_over_its_leased_deliveries_to_enabled_webhooks_only(
    store: SqlStore, paused: bool
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hooks = [make.webhook(acme.id, all_sites=True) for _ in range(2)]
    for hook in hooks:
        await store.create_webhook(hook)
    event = make.event(acme.id)
    plan = FanoutPlan(
        Subscribers(hooks), [event], now=make.NOW, new_id=new_delivery_id, lease=_LEASE
    )
    if paused:
        await store.update_webhook(replace(hooks[0], enabled=False), make.NOW)
    handover: set[str] = set()

    assert await store.append_events(events=[event], fanout=plan, handover=handover) == [event.id]

    leased = {delivery.webhook_id: delivery.id for delivery, _, _ in plan.leased}
    assert set(leased) == {hook.id for hook in hooks}  # fan-out read both enabled
    expected = {leased[hook.id] for hook in (hooks[1:] if paused else hooks)}
    assert handover == expected


async def test_a_republished_event_hands_over_nothing(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id, all_sites=True)
    await store.create_webhook(hook)
    event = make.event(acme.id)
    await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
    plan = FanoutPlan(
        Subscribers([hook]), [event], now=make.NOW, new_id=new_delivery_id, lease=_LEASE
    )
    handover: set[str] = set()

    assert await store.append_events(events=[event], fanout=plan, handover=handover) == []

    assert handover == set()
