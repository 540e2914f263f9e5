"""Workers that wait for work cheaply must still send what falls due: what another
process made due without waking them (a retry scheduled by a worker killed since), what a
worker that is alive but stopped would otherwise hold back, what falls due only inside a
claim, and what a publisher whose clock is ahead makes claimable a little later.

The worker processes are the real `hookcast worker` command; on PostgreSQL they learn of
other processes' work through NOTIFY, or by reading the next due time when none comes."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delivery_harness import Deployment, processes, require_postgres, require_sqlite
from receivers import answer, first_then
from sqlalchemy.engine import make_url
from test_delivery_guarantees import SUBPROCESS_ENV

from hookcast.cli.runtime import utc_now
from hookcast.domain.leases import MAX_LEASE_LOSSES
from support.waiting import STARTING, eventually

RETRY_SECONDS = 3.0
# How late a worker may send what fell due without a wake-up: it reads the next due time
# after a short quiet, and sleeps until it.
PICKUP_BOUND = 2.0


async def _until_both_alive(hookcast: Deployment) -> None:
    # Two `hookcast worker` processes start and beat within a few seconds on a quiet machine,
    # far later on a loaded one (STARTING).
    stats = hookcast.runtime.store.delivery_stats

    async def both_alive() -> bool:
        return bool((await stats(utc_now())).workers_alive == 2)

    await eventually(both_alive, timeout=STARTING)


@pytest.mark.timeout(90)
async def test_a_retry_scheduled_by_a_worker_killed_since_is_sent_when_due(
    database_url: str, tmp_path: Path
) -> None:
    require_postgres(database_url)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        receiver = await hookcast.receiver(first_then(answer(500), answer(200)))
        hook = await hookcast.hook_for(receiver, retry_policy=[RETRY_SECONDS])
        first = procs.worker()
        second = procs.worker()
        await _until_both_alive(hookcast)
        # The first worker alone makes the attempt and schedules the retry; the second
        # is told of the publish but not of the retry.
        second.process.send_signal(signal.SIGSTOP)
        try:
            (event,) = await hookcast.publish_media(1)
            await receiver.wait_for(1)

            async def retry_recorded() -> bool:
                found = await hookcast.deliveries(hook["id"])
                return [len(d["attempt_log"]) for d in found["deliveries"]] == [1]

            await eventually(retry_recorded)
        finally:
            second.process.send_signal(signal.SIGCONT)
        first.kill()

        failed, sent = (await receiver.wait_for(2, timeout=RETRY_SECONDS + 10))[:2]
        late = sent.arrived - failed.arrived - RETRY_SECONDS
        assert late < PICKUP_BOUND, f"sent {late:.1f} s after due:\n{second.log_tail()}"
        assert receiver.event_ids() == [event, event]
        (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]


@pytest.mark.timeout(150)  # two start-ups of up to STARTING each, and the rest
async def test_publishes_are_sent_promptly_while_one_worker_is_stopped(
    database_url: str, tmp_path: Path
) -> None:
    """A worker process alive but not running (stopped, its VM paused, its loop stalled)
    must not hold back what the other one would send at once (review of branch lowrate)."""
    require_postgres(database_url)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        receiver = await hookcast.receiver(answer(200))
        await hookcast.hook_for(receiver)
        first = procs.worker()
        (warm,) = await hookcast.publish_media(1)
        # The first worker started, and runs (and listens).
        await receiver.wait_for_events({warm}, timeout=STARTING)
        second = procs.worker()
        await _until_both_alive(hookcast)
        first.process.send_signal(signal.SIGSTOP)
        try:
            slowest = 0.0
            for n in range(3):
                started = time.monotonic()
                (event,) = await hookcast.publish({"event": "media_available", "media_id": f"S{n}"})
                await receiver.wait_for_events({event})
                slowest = max(slowest, time.monotonic() - started)
        finally:
            first.process.send_signal(signal.SIGCONT)
        assert slowest < 1.5, f"a publish took {slowest:.1f} s to arrive:\n{second.log_tail()}"


@pytest.mark.timeout(60)
async def test_an_ordered_link_is_sent_when_the_publishers_clock_is_ahead(
    database_url: str,
) -> None:
    """A claim takes only rows created by the worker's clock, while the next due time is
    the row's own: an ordered webhook's next link is made due by the worker that finished
    the one before it (its clock) but keeps the `created` of the process that published it
    (its clock, ahead here), so it is due before that worker may claim it."""
    require_postgres(database_url)
    skew = timedelta(seconds=2)  # the worker's clock behind the API server's
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        await hookcast.hook_for(receiver, ordering="resource")
        hookcast.start_worker(clock=lambda: datetime.now(UTC) - skew)
        (first,) = await hookcast.publish({"event": "media_updated", "media_id": "M1"})
        # A second update of the same media half a second later (not a synchronisation:
        # its `created` must fall after the moment the first one is sent).
        await asyncio.sleep(0.5)
        (second,) = await hookcast.publish({"event": "media_updated", "media_id": "M1"})
        await receiver.wait_for_events({first}, timeout=10)
        # Once the worker's clock has passed the second's `created` (skew at most), it is
        # due and claimable: a few seconds' bound.
        await receiver.wait_for_events({second}, timeout=10)
        assert receiver.event_ids() == [first, second]


@pytest.mark.timeout(60)
async def test_the_link_after_a_head_failed_for_lost_leases_is_sent(
    hookcast: Deployment, database_url: str
) -> None:
    """An ordered chain whose head is failed for losing its lease too often moves on
    inside the claim that finds it: the next link, due at that claim's `now`, is sent."""
    require_sqlite(database_url)
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver, ordering="resource")
    first, second = await hookcast.publish(
        {"event": "media_updated", "media_id": "M1"}, {"event": "media_updated", "media_id": "M1"}
    )
    # The first delivery's lease was lost MAX_LEASE_LOSSES - 1 times already (its sending
    # killed workers) and its last lease has run out: the next claim fails it for good.
    path = make_url(database_url).database
    assert path is not None
    with sqlite3.connect(path) as db:
        changed = db.execute(
            "UPDATE deliveries SET lease_token = 'dead', lease_worker = 'gone', "
            "lease_until = ?, lease_losses = ? WHERE event_id = ? AND webhook_id = ?",
            (int((time.time() - 60) * 1e6), MAX_LEASE_LOSSES - 1, first, hook["id"]),
        ).rowcount
    assert changed == 1
    hookcast.start_worker()

    await receiver.wait_for_events({second}, timeout=10)
    assert receiver.event_ids() == [second]


@pytest.mark.timeout(120)
async def test_the_worker_that_lost_the_races_sends_promptly_once_the_other_stops(
    database_url: str, tmp_path: Path
) -> None:
    """A worker that keeps losing the races sleeps through other processes' wake-ups during
    its pacing delay (at most `max_empty_claim_backoff_seconds`, 0.1 s) and then reads the
    oldest due time: once the winner stops, a publish waits about that delay and
    `help_after_seconds` (10 ms) before the loser claims it, not its next idle look (1 s).
    Which of the two loses is the race's: each is stopped in turn after a stream of
    publishes that leaves one of them losing, so one of the turns stops the winner."""
    require_postgres(database_url)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        receiver = await hookcast.receiver(answer(200))
        await hookcast.hook_for(receiver)
        workers = [procs.worker(), procs.worker()]
        await _until_both_alive(hookcast)
        slowest: list[float] = []
        for turn, stopped in enumerate(workers):
            for n in range(30):  # one at a time: the same worker wins nearly every race
                (event,) = await hookcast.publish(
                    {"event": "media_available", "media_id": f"W{turn}-{n}"}
                )
                await receiver.wait_for_events({event})
            stopped.process.send_signal(signal.SIGSTOP)
            try:
                took = 0.0
                for n in range(3):
                    started = time.monotonic()
                    (event,) = await hookcast.publish(
                        {"event": "media_available", "media_id": f"S{turn}-{n}"}
                    )
                    await receiver.wait_for_events({event})
                    took = max(took, time.monotonic() - started)
                slowest.append(took)
            finally:
                stopped.process.send_signal(signal.SIGCONT)
        # The delay, the help threshold and a few round trips: well under the idle look.
        assert max(slowest) < 0.8, f"slowest publish with one worker stopped: {slowest}"
