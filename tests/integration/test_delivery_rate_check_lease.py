"""A rate-limited webhook's delivery asks the store for its turn (delivery/rate_gate.py)
after the scheduler let it start: if that answer comes after the delivery's latest start
(scheduler.py: its request and the recording of its outcome must end within its lease), the
delivery goes back unsent instead of being sent on a lease that can expire before its outcome
is written, after which a claim sends it a second time.

PostgreSQL: there the turn is a row of webhook_rates, which another transaction holds locked
here to make the store slow; on SQLite the one delivering process keeps its buckets itself."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest
from delivery_harness import Deployment, require_postgres, with_options
from receivers import answer

from support.publishing import waiting_on_a_lock
from support.waiting import eventually


@pytest.mark.timeout(60)
async def test_a_delivery_whose_rate_check_ends_past_its_latest_start_is_not_sent_twice(
    database_url: str,
) -> None:
    """An 8 s lease, a 6 s timeout and 0.5 s kept to record: the delivery may start up to
    1.5 s into its lease. Its rate check waits 5.5 s for the store and its receiver answers
    in 3 s (3 s of slack before the timeout, for a loaded machine): sent then, the outcome
    would come 8.5 s into the lease, after it expired (and the worker's next claim sent the
    delivery again)."""
    require_postgres(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(200, delay=3.0))
        hook = await hookcast.hook_for(
            receiver, timeout_seconds=6, rate_limit_per_second=100, rate_limit_burst=10
        )
        holder = await asyncpg.connect(database_url)
        try:
            await holder.execute(
                "INSERT INTO webhook_rates (webhook_id, tat) VALUES ($1, 0)", hook["id"]
            )
            holding = holder.transaction()
            await holding.start()
            await holder.execute(
                "SELECT 1 FROM webhook_rates WHERE webhook_id = $1 FOR UPDATE", hook["id"]
            )
            options = with_options(lease_seconds=8.0, record_margin_seconds=0.5)
            hookcast.start_worker(options)
            (event_id,) = await hookcast.publish_media(1)
            await eventually(
                lambda: waiting_on_a_lock(database_url),
                message="the rate check never waited for the store",
            )
            # The store is slow for 5.5 s: the scenario's length, not a synchronisation.
            await asyncio.sleep(5.5)
            await holding.commit()
        finally:
            await holder.close()

        await receiver.wait_for_events({event_id}, timeout=20)
        await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        await receiver.stays_quiet(1.0, count=1)

        assert receiver.duplicates() == 0
