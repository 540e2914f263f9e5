"""Recording a batch whose deliveries are of several days, some far apart (one in the
default partition, a day between them with a delivery of its own), records each outcome on
its own row and touches no other, in the plan PostgreSQL makes for the values and in the
generic plan it keeps once a statement ran a few times (store/record_batch.py prunes the
day partitions in both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore, open_store
from support import factories as make
from support.postgres import run_sql

pytestmark = pytest.mark.postgres

# Days the migration created ahead of today; 2020 has no partition (the default one).
TOMORROW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(1)
DAYS = (datetime(2020, 1, 1, 12, tzinfo=UTC), TOMORROW, TOMORROW + timedelta(days=2))
BETWEEN = TOMORROW + timedelta(days=1)  # in the range of the batch's days, not in the batch
ROUNDS = 8  # PostgreSQL tries the generic plan from a prepared statement's sixth run


@pytest.fixture(params=["auto", "force_generic_plan"])
async def generic_store(
    request: pytest.FixtureRequest, postgres_database: str
) -> AsyncIterator[SqlStore]:
    """A store whose sessions plan as `plan_cache_mode` says (set on the database first)."""
    name = urlsplit(postgres_database).path.lstrip("/")
    run_sql(postgres_database, f"ALTER DATABASE {name} SET plan_cache_mode = {request.param}")
    opened = await open_store(postgres_database, secret_key=Fernet.generate_key())
    try:
        yield opened
    finally:
        await opened.close()


async def test_each_outcome_of_a_batch_of_days_far_apart_lands_on_its_own_row(
    generic_store: SqlStore,
) -> None:
    store = generic_store
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    now = DAYS[-1] + timedelta(hours=1)
    for _ in range(ROUNDS):
        events = [make.event(acme.id, created=day) for day in (*DAYS, BETWEEN)]
        await store.append_events(events=events, fanout=make.fanout_to(hook.id))
        claimed = await store.claim_due_deliveries(now=now, limit=10, lease_seconds=3600)
        in_batch = [c for c in claimed if c.created != BETWEEN]
        left = [c for c in claimed if c.created == BETWEEN]
        assert (len(in_batch), len(left)) == (len(DAYS), 1)

        await store.record_results([make.succeeded(c, now) for c in in_batch], [])

        for recorded in in_batch:
            found = await store.get_delivery(acme.id, recorded.delivery_id)
            assert found is not None
            assert (found.delivery.status, len(found.attempts)) == (DeliveryStatus.SUCCEEDED, 1)
        (untouched,) = left
        found = await store.get_delivery(acme.id, untouched.delivery_id)
        assert found is not None
        assert (found.delivery.status, len(found.attempts)) == (DeliveryStatus.PENDING, 0)
