"""A batch of results with one row the database refuses: the rest are recorded, and the
refused one is concluded without its response (PostgreSQL refuses a NUL in text; SQLite
stores it)."""

from __future__ import annotations

from dataclasses import replace

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore
from support import factories as make

LEASE = 30.0


async def test_one_refused_row_does_not_keep_the_batch_from_being_recorded(
    store: SqlStore,
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    published = [make.event(acme.id, created=make.later(i)) for i in range(5)]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=make.later(9), limit=10, lease_seconds=LEASE)
    results = [make.succeeded(c, at=make.later(10)) for c in claimed]
    # Past the sender's sanitisation (domain/storable.py): the store is called directly.
    bad = results[2]
    results[2] = replace(bad, attempt=replace(bad.attempt, response_body="nul \x00 here"))

    await store.record_results(results, [])

    for result in results:
        record = await store.get_delivery(acme.id, result.delivery_id)
        assert record is not None
        assert record.delivery.status is DeliveryStatus.SUCCEEDED
        assert len(record.attempts) == 1
    record = await store.get_delivery(acme.id, bad.delivery_id)
    assert record is not None
    (attempt,) = record.attempts
    if store.dialect == "postgresql":
        assert attempt.response_body == "response could not be stored: DataError"
        assert attempt.error == "response could not be stored: DataError"
    else:
        assert attempt.response_body == "nul \x00 here"
