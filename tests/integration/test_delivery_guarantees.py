"""The promises that matter when things go wrong: at-least-once across kill -9, no double
sends between workers, a 202 that survives a crash, and a clean SIGTERM.

The crash tests run the real `hookcast serve` / `hookcast worker` commands as subprocesses
and kill them with SIGKILL, so no shutdown code runs. Leases are the shortest allowed, 40 s:
a dead worker's deliveries come back within seconds all the same, when a live worker sees its
heartbeat stop (or at once, when `serve` restarts on SQLite), not when its leases expire.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from delivery_harness import (
    Deployment,
    Processes,
    ServerProcess,
    processes,
    require_sqlite,
    settings_for,
    with_options,
)
from receivers import DEADLINE, Receiver, answer, first_then

from hookcast.cli.runtime import Runtime
from hookcast.delivery.options import WorkerOptions, unrecorded_bound
from support.waiting import eventually

CONCURRENCY = 4
# A stopped worker's leases are not taken back as a dead worker's within a test's wait
# (stale_after_seconds' default is 2 s): only their release can have them sent again in
# time, so a test of the release fails without it.
_NO_TAKEOVER = {"stale_after_seconds": 30.0}
SUBPROCESS_ENV = {"HOOKCAST_LEASE_SECONDS": "40", "HOOKCAST_WORKER_CONCURRENCY": str(CONCURRENCY)}


def media_events(count: int, site_id: str) -> list[dict[str, Any]]:
    return [
        {"event": "media_available", "media_id": f"MEDIA{n:03d}", "site_id": site_id}
        for n in range(count)
    ]


async def publish_over_http(
    server: ServerProcess, hookcast: Deployment, events: list[dict[str, Any]]
) -> list[str]:
    headers = {"Authorization": f"Bearer {hookcast.admin_key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        response = await client.post("/v2/events/", json={"events": events})
    assert response.status_code == 202, response.text
    ids: list[str] = response.json()["event_ids"]
    return ids


async def kill_mid_delivery(process: ServerProcess, receiver: Receiver, *, after: int) -> None:
    """SIGKILLs `process` while requests are inside the receiver."""
    await eventually(
        lambda: len(receiver.received) >= after and receiver.in_flight > 0,
        message=lambda: f"{len(receiver.received)} arrived:\n{process.log_tail()}",
    )
    process.kill()
    assert await process.wait_exit(DEADLINE) == -9


async def start_first(
    procs: Processes, hookcast: Deployment, count: int, *, postgres: bool
) -> tuple[ServerProcess, list[str]]:
    """SQLite: `serve` (API and worker in one process) and publish to it over HTTP.
    PostgreSQL: a `worker` process, with this process publishing."""
    if postgres:
        worker = procs.worker()
        return worker, await hookcast.publish_media(count)
    server = procs.serve()
    await server.wait_ready()
    return server, await publish_over_http(server, hookcast, media_events(count, hookcast.site_id))


@pytest.mark.timeout(90)
async def test_kill_9_mid_delivery_loses_nothing_and_repeats_only_what_was_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    count = 40
    postgres = database_url.startswith("postgres")
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        receiver = await hookcast.receiver(answer(200, delay=0.2))
        hook = await hookcast.hook_for(receiver)

        first, ids = await start_first(procs, hookcast, count, postgres=postgres)
        await kill_mid_delivery(first, receiver, after=2 * CONCURRENCY)
        assert len(receiver.received) < count, "the crash came too late to test anything"
        # Sent, but no outcome recorded: the requests in flight, and outcomes that were
        # waiting for the worker's next flush (it records in batches every 20 ms).
        pending = await hookcast.deliveries(hook["id"], status="pending", page_length=100)
        unrecorded = set(receiver.event_ids()) & {d["event_id"] for d in pending["deliveries"]}
        # No more than the worker lets be in flight or unrecorded at concurrency 4: 15 on
        # PostgreSQL (writes of twice concurrency), 7 on SQLite (writes of concurrency).
        options = WorkerOptions(concurrency=CONCURRENCY)
        if not postgres:
            options = replace(options, flush_batch=CONCURRENCY)
        bound = unrecorded_bound(options)
        assert len(unrecorded) <= bound
        second = procs.worker()
        await receiver.wait_for_events(set(ids), timeout=30)
        await receiver.stays_quiet(0.5, count=len(receiver.received))

        assert set(receiver.event_ids()) == set(ids), second.log_tail()
        # only what the dead worker had sent without recording the outcome is sent again
        assert receiver.duplicates() <= len(unrecorded), (receiver.duplicates(), unrecorded)
        receiver.assert_all_verified()


@pytest.mark.timeout(60)
async def test_an_accepted_event_survives_kill_9_right_after_the_202(
    database_url: str, tmp_path: Path
) -> None:
    require_sqlite(database_url)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path) as procs,
    ):
        receiver = await hookcast.receiver()
        await hookcast.hook_for(receiver)
        api_only = procs.serve("--no-worker")
        await api_only.wait_ready()

        headers = {"Authorization": f"Bearer {hookcast.admin_key}"}
        async with httpx.AsyncClient(base_url=api_only.url, headers=headers) as client:
            single = await client.post("/v2/events/", json=media_events(1, hookcast.site_id)[0])
            batch = await client.post(
                "/v2/events/", json={"events": media_events(20, hookcast.site_id)}
            )
            api_only.kill()  # the moment the 202 is in hand
        assert await api_only.wait_exit(DEADLINE) == -9
        assert (single.status_code, batch.status_code) == (202, 202)
        ids = {*single.json()["event_ids"], *batch.json()["event_ids"]}
        assert len(ids) == 21
        assert receiver.received == []

        server = procs.serve()
        await server.wait_ready()
        await receiver.wait_for_events(ids)

        receiver.assert_all_verified()


@pytest.mark.timeout(60)
async def test_sigterm_finishes_in_flight_deliveries_and_exits_in_time(
    database_url: str, tmp_path: Path
) -> None:
    require_sqlite(database_url)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        receiver = await hookcast.receiver(answer(200, delay=1.5))
        await hookcast.hook_for(receiver)
        server = procs.serve()
        await server.wait_ready()
        ids = await publish_over_http(server, hookcast, media_events(12, hookcast.site_id))
        await eventually(lambda: receiver.in_flight > 0, message=server.log_tail)

        asked = time.monotonic()
        server.process.terminate()
        code = await server.wait_exit(15)

        assert code is not None, f"still running 15 s after SIGTERM:\n{server.log_tail()}"
        assert time.monotonic() - asked < 15
        # uvicorn re-raises a captured SIGTERM once its graceful shutdown is done, so a clean
        # stop may end "killed by SIGTERM"; the proof of a clean stop is the count below.
        assert code in (0, -signal.SIGTERM), server.log_tail()
        receiver.behaviour = answer(200)
        restarted = procs.serve()
        await restarted.wait_ready()
        await receiver.wait_for_events(set(ids))
        await receiver.stays_quiet(0.3, count=len(receiver.received))
        # the deliveries in flight at SIGTERM were finished and recorded, not sent again
        assert receiver.duplicates() == 0, restarted.log_tail()
        receiver.assert_all_verified()


async def test_a_stopping_worker_hands_back_what_it_cannot_finish(database_url: str) -> None:
    """Past the shutdown grace period, in-flight deliveries are cancelled and their leases
    released, so the next worker sends them at once rather than when the lease expires."""
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(
            first_then(answer(200, delay=5), answer(200), times=CONCURRENCY)
        )
        await hookcast.hook_for(receiver)
        options = with_options(lease_seconds=60, shutdown_grace_seconds=0.2, **_NO_TAKEOVER)
        first = hookcast.start_worker(options)
        ids = await hookcast.publish_media(CONCURRENCY)
        await eventually(lambda: receiver.in_flight == CONCURRENCY)

        stopping = time.monotonic()
        await first.close()
        assert time.monotonic() - stopping < 2
        hookcast.start_worker(options)

        await eventually(
            lambda: Counter(receiver.event_ids()) == Counter(ids * 2),
            timeout=5,
            message="released deliveries were not sent again at once",
        )
        receiver.assert_all_verified()


async def test_a_stopping_worker_hands_back_what_it_sent_on_kept_connections(
    database_url: str,
) -> None:
    """The same for requests sent on kept-alive connections (the connections of earlier
    deliveries): each cancelled send closes its connection and releases its lease."""
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        held = first_then(answer(200, delay=5), answer(200), times=2 * CONCURRENCY)
        receiver = await hookcast.receiver(first_then(answer(200), held, times=CONCURRENCY))
        await hookcast.hook_for(receiver)
        options = with_options(lease_seconds=60, shutdown_grace_seconds=0.2, **_NO_TAKEOVER)
        first = hookcast.start_worker(options)
        warm = await hookcast.publish_media(CONCURRENCY)  # their connections stay open
        await eventually(lambda: first.worker.delivered == CONCURRENCY)
        ids = await hookcast.publish_media(CONCURRENCY)
        await eventually(lambda: receiver.in_flight == CONCURRENCY)

        stopping = time.monotonic()
        await first.close()
        assert time.monotonic() - stopping < 2
        hookcast.start_worker(options)

        await eventually(
            lambda: Counter(receiver.event_ids()) == Counter(warm + ids * 2),
            timeout=5,
            message="released deliveries were not sent again at once",
        )
        receiver.assert_all_verified()


@pytest.mark.timeout(60)
async def test_two_workers_never_send_the_same_due_delivery_twice(database_url: str) -> None:
    """Two workers, each with its own connections to one database (PostgreSQL: SKIP
    LOCKED), share 500 due deliveries without sending any of them twice."""
    async with Deployment.open(database_url) as hookcast:
        other = await Runtime.open(settings_for(database_url))
        try:
            receiver = await hookcast.receiver()
            hook = await hookcast.hook_for(receiver)
            # Small claims (prefetch), so that neither worker can lease all 500 at once.
            options = with_options(concurrency=16, prefetch=32, idle_wait_seconds=0.2)
            one = hookcast.start_worker(options)
            two = hookcast.start_worker(options, runtime=other)
            ids = await hookcast.publish_media(500)

            await receiver.wait_for_events(set(ids), timeout=30)
            await hookcast.wait_for_status(hook["id"], "succeeded", 500)
            await receiver.stays_quiet(0.3, count=500)

            pairs = Counter(
                (item.event_id, item.payload["webhook_id"]) for item in receiver.received
            )
            assert len(pairs) == 500
            assert pairs.most_common(1)[0][1] == 1
            assert one.worker.delivered > 0
            assert two.worker.delivered > 0
            assert one.worker.delivered + two.worker.delivered == 500
            receiver.assert_all_verified()
        finally:
            # the second worker must stop before the store it uses is closed
            for worker in hookcast.workers:
                await worker.close()
            hookcast.workers.clear()
            await other.store.close()


@pytest.mark.timeout(60)
async def test_a_delivery_queued_too_long_for_its_lease_is_handed_back_not_sent_twice(
    database_url: str,
) -> None:
    """A slow endpoint with one request at a time, 0.8 s answers, a 3 s timeout and a 4.8 s
    lease with 0.5 s kept to record the outcome: a delivery may start up to 1.3 s into its
    lease, so the third and fourth claimed would start too late. They go back to the
    database and are claimed afresh, instead of being sent on a lease that could expire
    before their outcome is written (after which a claim would send them a second time)."""
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(200, delay=0.8))
        hook = await hookcast.hook_for(receiver, timeout_seconds=3)
        options = with_options(endpoint_concurrency=1, lease_seconds=4.8, record_margin_seconds=0.5)
        hookcast.start_worker(options)
        ids = await hookcast.publish_media(4)

        await receiver.wait_for_events(set(ids), timeout=20)
        await hookcast.wait_for_status(hook["id"], "succeeded", 4)
        await receiver.stays_quiet(1.0, count=4)

        assert receiver.duplicates() == 0
        assert sorted(receiver.event_ids()) == sorted(ids)
