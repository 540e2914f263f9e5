"""PostgreSQL: a recovery, replay or manual retry re-joins an ordered delivery to its chain
only while its webhook orders deliveries (store/chains.py `in_a_chain`). A save turning
ordering off under way when one runs must be ordered with it: read before the save
committed, the recovery started a chain the save's end of chains could not see (not yet
committed), and once both had committed the recovered deliveries waited in a chain under a
webhook that orders nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.ports import DeliveryQuery, PageRequest
from hookcast.store import SqlStore, chains
from support import factories as make
from support.publishing import (
    account_with_webhook,
    ordered_backlog,
    waiting_on_a_lock,
    waiting_on_locks,
)
from support.waiting import eventually

pytestmark = pytest.mark.postgres


# The save's last statement (its account's configuration version, store/accounts.py
# `config_changed`) waits, its webhook lock and its end of chains done, until the test lets
# it go: the webhook's UPDATE to no ordering marks the transaction, the account's UPDATE
# in that transaction then waits on the test's advisory lock.
_HOLD_THE_SAVE = """
CREATE FUNCTION mark_the_save() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM set_config('test.hold', 'on', true); RETURN NEW; END $$;
CREATE TRIGGER mark_the_save AFTER UPDATE ON webhooks FOR EACH ROW
WHEN (OLD.ordering <> 'none' AND NEW.ordering = 'none') EXECUTE FUNCTION mark_the_save();
CREATE FUNCTION hold_the_save() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('test.hold', true) = 'on' THEN
    PERFORM pg_advisory_xact_lock_shared(4242);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER hold_the_save AFTER UPDATE ON accounts FOR EACH ROW
EXECUTE FUNCTION hold_the_save();
"""


async def test_a_recovery_while_ordering_is_turned_off_leaves_nothing_waiting(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await ordered_backlog(pg_store, 3)
    for at in (5, 7, 9):  # each given up in turn: failed, no chain left
        (head,) = await pg_store.claim_due_deliveries(now=make.later(at), limit=1, lease_seconds=30)
        await pg_store.record_results([make.gave_up(head, make.later(at + 1))], [])
    gate = await asyncpg.connect(postgres_database)
    try:
        await gate.execute(_HOLD_THE_SAVE)
        await gate.execute("SELECT pg_advisory_lock(4242)")
        # The save turning ordering off (store/webhooks.py update_webhook, then
        # chains.py end_chains), held at its end until the recovery has run or waits.
        saving = asyncio.ensure_future(
            pg_store.update_webhook(replace(hook, ordering=Ordering.NONE), make.later(19))
        )
        await eventually(
            lambda: waiting_on_a_lock(postgres_database), message="the save was not held"
        )
        recovering = asyncio.ensure_future(
            pg_store.recover_deliveries(
                account_id=acme.id, webhook_id=hook.id, since=make.NOW, now=make.later(20)
            )
        )

        async def ran_or_waits() -> bool:
            return recovering.done() or await waiting_on_locks(postgres_database) >= 2

        await eventually(ran_or_waits, message="the recovery neither ran nor waited")
        await gate.execute("SELECT pg_advisory_unlock(4242)")
        await saving
        assert await recovering == 3
    finally:
        await gate.close()

    page = await pg_store.list_deliveries(
        DeliveryQuery(acme.id, hook.id, page=PageRequest(page_length=10))
    )
    assert [r.delivery.status for r in page.items] == [DeliveryStatus.PENDING] * 3


async def test_a_recovery_holds_up_no_workers_recording(
    pg_store: SqlStore, postgres_database: str
) -> None:
    """The lock a recovery, replay or manual retry takes on its webhook to read its ordering
    (store/chains.py `lock_ordering`, held until it commits) lets a worker's recording by:
    a recording locks the webhooks of its batch FOR NO KEY UPDATE, and its batch carries
    every account's results. Under FOR SHARE another account's success, recorded with the
    recovering webhook's health, waited for the whole recovery (2.2 s for 20,000)."""
    _, hook = await account_with_webhook(pg_store)
    other, theirs = await account_with_webhook(pg_store)
    await pg_store.append_events(events=[make.event(other.id)], fanout=make.fanout_to(theirs.id))
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=60)
    async with pg_store._writing() as recovery:  # a recovery's transaction, kept under way
        await chains.lock_ordering(recovery, hook.id)
        recording = asyncio.ensure_future(
            pg_store.record_results(
                [make.succeeded(claimed, at=make.later(2))], [make.failing(hook.id)]
            )
        )

        async def recorded_or_waits() -> bool:
            return recording.done() or await waiting_on_a_lock(postgres_database)

        await eventually(recorded_or_waits, message="the recording neither ran nor waited")
        assert recording.done(), "the recording waited for the recovery's lock"
        await recording
    delivered = await pg_store.list_deliveries(
        DeliveryQuery(other.id, theirs.id, page=PageRequest(page_length=10))
    )
    assert [r.delivery.status for r in delivered.items] == [DeliveryStatus.SUCCEEDED]
