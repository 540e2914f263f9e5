"""PostgreSQL: two workers recording batches at once, each disabling a webhook of one
account, each webhook subscribed to the account's webhook_disabled events.

Each recording holds its disabled webhook FOR UPDATE (store/webhooks.py `apply_health`)
and then fans the webhook_disabled event out to the other one, whose delivery's insert
share-locks that webhook's row (FOR KEY SHARE, store/deliveries.py `insert_deliveries`),
which a FOR UPDATE refuses. Taken in that order, the two waited on each other and
PostgreSQL's deadlock detector rolled one back (review12; this test failed so, in both id
orders); now each takes both kinds of lock in one pass in id order (store/operational.py
`lock_standing`, store/webhook_locks.py).
The interleaving is forced, not slept on: a third session holds the events table, where a
recording goes after its disable and before its fan-out, until both recordings wait."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import DeliveryStatus, LastError, Webhook
from hookcast.ports import (
    ClaimedDelivery,
    DeliveryQuery,
    DeliveryResult,
    PageRequest,
    WebhookHealth,
)
from hookcast.store import SqlStore, open_store
from support import factories as make
from support.lock_race import race, waiting
from support.waiting import eventually

pytestmark = pytest.mark.postgres


def _gone(webhook_id: str) -> WebhookHealth:
    """A batch's health that disables the webhook (its endpoint answered 410)."""
    at = make.later(10)
    error = LastError(at, 410, "HTTP 410", "gone")
    return WebhookHealth(webhook_id, None, at, last_error=error, disable_reason="410 Gone")


@pytest.mark.parametrize("lower_first", [True, False], ids=["lower-id-first", "higher-id-first"])
async def test_two_recordings_disabling_webhooks_of_one_account_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes, lower_first: bool
) -> None:
    acme = make.account()
    await pg_store.create_account(acme)
    hooks = sorted(
        (
            make.webhook(acme.id, name=name, events=("media_available", "webhook_disabled"))
            for name in ("one", "two")
        ),
        key=lambda hook: hook.id,
        reverse=not lower_first,
    )
    for hook in hooks:
        await pg_store.create_webhook(hook)
    other_worker = await open_store(postgres_database, secret_key=secret_key)
    gate = await asyncpg.connect(postgres_database)
    try:
        holding = gate.transaction()
        await holding.start()
        await gate.execute("LOCK TABLE events IN SHARE MODE")
        recordings: list[asyncio.Future[None]] = []
        # The first recording waits on the gate, then the second, on the gate or on the
        # first's webhook row: the order in which they take their locks is the test's.
        for store, hook in ((pg_store, hooks[0]), (other_worker, hooks[1])):
            recordings.append(asyncio.ensure_future(store.record_results([], [_gone(hook.id)])))
            await eventually(
                functools.partial(waiting, postgres_database, len(recordings)),
                message=f"recording {len(recordings)} never waited",
            )
        await holding.commit()
        outcomes = await asyncio.gather(*recordings, return_exceptions=True)
    finally:
        await gate.close()
        await other_worker.close()

    assert outcomes == [None, None]  # neither rolled back as a deadlock's victim
    for hook, told in zip(hooks, reversed(hooks), strict=True):
        stored = await pg_store.get_webhook(acme.id, hook.id)
        assert stored is not None
        assert not stored.enabled
        page = await pg_store.list_deliveries(
            DeliveryQuery(acme.id, told.id, page=PageRequest(page_length=10))
        )
        about = [(r.event.type, (r.event.data or {})["webhook_id"]) for r in page.items]
        assert about == [("webhook_disabled", hook.id)]


@pytest.mark.parametrize("paused_first", [True, False], ids=["paused-id-first", "paused-id-last"])
async def test_a_recording_disabling_one_webhook_and_a_publish_holding_another_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes, paused_first: bool
) -> None:
    # A paused webhook's in-flight attempt is recorded in the batch that disables another
    # webhook of the account, while a publish to both stores its deliveries: held for the
    # paused one, whose run of held deliveries it announces (an UPDATE of the webhook's row,
    # store/operational.py `_tells_run`), pending for the other. The recording holds the
    # paused webhook FOR NO KEY UPDATE (its standing) and wants the other FOR UPDATE; the
    # publish holds that one FOR KEY SHARE and wants the paused one's row for its UPDATE.
    acme = make.account()
    await pg_store.create_account(acme)
    site = make.site(acme.id)
    await pg_store.create_site(site)
    first, last = sorted(make.webhook(acme.id).id for _ in range(2))
    paused_id, failing_id = (first, last) if paused_first else (last, first)
    paused = make.webhook(
        acme.id, id=paused_id, site_ids=(site.id,), enabled=False, disabled_reason="paused"
    )
    failing = make.webhook(acme.id, id=failing_id, site_ids=(site.id,))
    for hook in (paused, failing):
        await pg_store.create_webhook(hook)
    event = make.event(acme.id, site.id)
    plan = FanoutPlan(
        Subscribers(await pg_store.publish_webhooks(acme.id)),
        [event],
        now=event.created,
        new_id=new_delivery_id,
    )
    # The publish waits at the gate once it has share-locked both webhooks, before it
    # inserts its deliveries (and announces the held ones).
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="deliveries",
        first=lambda store: store.append_events(events=[event], fanout=plan),
        second=lambda store: store.record_results([], [make.failing(paused.id), _gone(failing.id)]),
    )

    assert not cycle, "the recording and the publish waited on each other"
    assert outcomes == [[event.id], None]


async def test_a_recording_disabling_a_held_events_subscriber_and_a_publish_telling_it_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # As above, but the webhook the recording disables is not one the publish delivers to:
    # it subscribes to the account's webhook_held events, which the publish tells the
    # paused webhook's new run of held deliveries with. Its id comes first: the recording
    # takes it FOR UPDATE, then waits for the paused one's row, which the publish holds FOR
    # NO KEY UPDATE (its one pass, to tell the run); the publish then fans webhook_held out
    # to it, whose delivery's insert share-locks a row its pass never took (review16).
    acme = make.account()
    await pg_store.create_account(acme)
    site = make.site(acme.id)
    await pg_store.create_site(site)
    listening_id, paused_id = sorted(make.webhook(acme.id).id for _ in range(2))
    listening = make.webhook(acme.id, id=listening_id, events=("webhook_held",))
    paused = make.webhook(
        acme.id, id=paused_id, site_ids=(site.id,), enabled=False, disabled_reason="paused"
    )
    for hook in (listening, paused):
        await pg_store.create_webhook(hook)
    event = make.event(acme.id, site.id)
    plan = FanoutPlan(
        Subscribers(await pg_store.publish_webhooks(acme.id)),
        [event],
        now=event.created,
        new_id=new_delivery_id,
    )
    # The publish waits at the gate once its pass has locked the paused webhook, before it
    # inserts its held delivery and tells the run.
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="deliveries",
        first=lambda store: store.append_events(events=[event], fanout=plan),
        second=lambda store: store.record_results(
            [], [make.failing(paused.id), _gone(listening.id)]
        ),
    )

    assert not cycle, "the recording and the publish waited on each other"
    assert outcomes == [[event.id], None]


def _recovering(webhook_id: str) -> WebhookHealth:
    """A batch's health that ends the webhook's failing period (a success after it began)."""
    return WebhookHealth(webhook_id, make.later(20), None)


def _warned(webhook_id: str) -> WebhookHealth:
    """A batch's health of a webhook failing already that warns of its disable ahead."""
    at = make.later(20)
    error = LastError(at, 503, "HTTP 503", "")
    return WebhookHealth(webhook_id, None, at, last_error=error, disable_at=make.later(3600))


# Each notice a recording tells about a webhook whose row its pass holds: the health that
# tells it, after the one (if any) that puts the webhook in the state it changes. (A
# disable's pass share-locked its account's webhooks already: webhook_disabled never
# closed the cycle, tested beside the others.)
_TELLING: dict[str, tuple[Callable[[str], WebhookHealth] | None, Callable[[str], WebhookHealth]]]
_TELLING = {
    "webhook_failing": (None, make.failing),
    "webhook_recovered": (make.failing, _recovering),
    "webhook_disable_warning": (make.failing, _warned),
    "webhook_disabled": (None, _gone),
}


@pytest.mark.parametrize("notice", list(_TELLING))
async def test_a_recording_telling_a_failure_and_one_disabling_the_subscriber_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes, notice: str
) -> None:
    # Two workers' batches share a failing webhook. The first's tells the account it is
    # failing (webhook_failing; or that it recovered, is about to be disabled, or is
    # disabled), fanned out to a webhook subscribed to such events, whose delivery's
    # insert share-locks it; the second's disables that subscriber, lower in id order: FOR
    # UPDATE, then it waits for the failing webhook's row, which the first holds FOR NO
    # KEY UPDATE (its standing). Taken after the first's pass, the share lock closed a
    # cycle (review16); now the first, seeing it tells something its pass did not cover,
    # begins again with the account's webhooks in its pass (store/operational.py
    # `lock_standing`).
    before, telling = _TELLING[notice]
    acme = make.account()
    await pg_store.create_account(acme)
    listening_id, failing_id = sorted(make.webhook(acme.id).id for _ in range(2))
    listening = make.webhook(acme.id, id=listening_id, events=(notice,))
    failing = make.webhook(acme.id, id=failing_id)
    for hook in (listening, failing):
        await pg_store.create_webhook(hook)
    if before is not None:
        await pg_store.record_results([], [before(failing.id)])
    # The first recording waits at the gate, holding the failing webhook, before it stores
    # the notice's event and fans it out.
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="events",
        first=lambda store: store.record_results([], [telling(failing.id)]),
        second=lambda store: store.record_results(
            [], [_gone(listening.id), make.failing(failing.id)]
        ),
    )

    assert not cycle, "the two recordings waited on each other"
    assert outcomes == [None, None]
    assert await _told(pg_store, acme.id, listening.id) == [(notice, failing.id)]


async def _told(store: SqlStore, account_id: str, webhook_id: str) -> list[tuple[str, str]]:
    """The events delivered (or to be) to the webhook: (type, about whom: an operational
    event's webhook, else "")."""
    page = await store.list_deliveries(
        DeliveryQuery(account_id, webhook_id, page=PageRequest(page_length=10))
    )
    return sorted((r.event.type, (r.event.data or {}).get("webhook_id", "")) for r in page.items)


def _expired(claimed: ClaimedDelivery) -> DeliveryResult:
    """The claimed delivery ended unsent (its event too old): no health of its webhook's."""
    return replace(make.gave_up(claimed, make.later(10)), status=DeliveryStatus.EXPIRED)


async def _pause(store: SqlStore, webhook: Webhook) -> None:
    await store.update_webhook(
        replace(webhook, enabled=False, disabled_reason="paused"), make.later(11)
    )


async def _delete(store: SqlStore, webhook: Webhook) -> bool:
    return await store.delete_webhook(webhook.account_id, webhook.id)


@pytest.mark.parametrize("edit", [_pause, _delete], ids=["pause", "delete"])
async def test_a_recording_telling_a_failure_and_an_edit_of_the_subscriber_both_commit(
    pg_store: SqlStore,
    postgres_database: str,
    secret_key: bytes,
    edit: Callable[[SqlStore, Webhook], Awaitable[object]],
) -> None:
    # A batch tells the account one webhook is failing and concludes, unsent (expired), a
    # delivery of the webhook subscribed to that event: no health of the subscriber's, so
    # the pass never held its row. A person pauses or deletes the subscriber meanwhile: FOR
    # UPDATE on its row, then its pending deliveries (paused, or deleted with it), among
    # them the one the recording holds. The recording then fanned the notice out to it,
    # share-locking the row the edit held: each waited on the other.
    acme = make.account()
    await pg_store.create_account(acme)
    listening = make.webhook(acme.id, events=("media_available", "webhook_failing"))
    failing = make.webhook(acme.id)
    for hook in (listening, failing):
        await pg_store.create_webhook(hook)
    await pg_store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(listening.id))
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=30)
    # The recording waits at the gate, holding the subscriber's delivery (and the failing
    # webhook), before it stores the webhook_failing event and fans it out.
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="events",
        first=lambda store: store.record_results([_expired(claimed)], [make.failing(failing.id)]),
        second=lambda store: edit(store, listening),
    )

    assert not cycle, "the recording and the edit waited on each other"
    assert outcomes[0] is None
    assert outcomes[1] in (None, True)  # paused, or deleted
    if edit is _pause:
        assert await _told(pg_store, acme.id, listening.id) == [
            ("media_available", ""),
            ("webhook_failing", failing.id),
        ]
