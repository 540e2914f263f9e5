"""PostgreSQL: a delivery claimed with its webhook disabled is parked paused (worker.py
`_park`); if the webhook is resumed while the park runs, the delivery must end pending, not
paused under an enabled webhook, where nothing would ever send it (the resume makes only the
deliveries that were paused when it ran pending, and this one was pending, leased)."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore
from support import factories as make
from support.publishing import waiting_on_a_lock
from support.waiting import eventually

pytestmark = pytest.mark.postgres


async def test_a_park_while_its_webhook_is_resumed_leaves_the_delivery_pending(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme = make.account()
    await pg_store.create_account(acme)
    hook = make.webhook(acme.id)
    await pg_store.create_webhook(hook)
    await pg_store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=30)
    resumer = await asyncpg.connect(postgres_database)
    try:
        # The publish/pause race the park is for: the webhook disabled, its delivery pending
        # (and claimed).
        await resumer.execute("UPDATE webhooks SET enabled = false WHERE id = $1", hook.id)
        # A resume under way (store/webhooks.py update_webhook), committed once the park has
        # run or waits for it.
        resuming = resumer.transaction()
        await resuming.start()
        await resumer.execute("UPDATE webhooks SET enabled = true WHERE id = $1", hook.id)
        await resumer.execute(
            "UPDATE deliveries SET status = 'pending' WHERE webhook_id = $1 AND status = 'paused'",
            hook.id,
        )
        parking = pg_store.park_deliveries([(claimed.delivery_id, claimed.lease_token)])
        parked = asyncio.ensure_future(parking)

        async def ran_or_waits() -> bool:
            return parked.done() or await waiting_on_a_lock(postgres_database)

        await eventually(ran_or_waits, message="the park neither ran nor waited")
        await resuming.commit()
        await parked
    finally:
        await resumer.close()

    record = await pg_store.get_delivery(acme.id, claimed.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.PENDING
