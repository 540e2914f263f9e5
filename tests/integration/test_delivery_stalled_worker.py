"""A worker whose loop stalls past the others' patience is found dead and its leases are
taken back and sent by another worker. When it resumes it must not send the deliveries it
held queued as well: only what it had in flight may arrive twice, as after a crash.

The stalled worker runs in a thread of its own, on its own event loop and store, so the
test can hold that loop (a callback that blocks until released: what a SIGSTOP, a long GC
pause or a starved CPU do to it) while the other worker, the receiver and the test run on.
PostgreSQL only: on SQLite one process delivers (`sole_worker`); found dead, it stops
(tests/integration/test_sqlite_one_deliverer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from delivery_harness import (
    LOOPBACK,
    Deployment,
    processes,
    require_postgres,
    settings_for,
    with_options,
)
from receivers import DEADLINE, Behaviour, Receiver, answer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from test_delivery_guarantees import SUBPROCESS_ENV

from hookcast.bootstrap import open_settings_store
from hookcast.delivery.sender import HttpSender
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.addresses import parse_networks
from hookcast.domain.leases import LOST_BY, MAX_LEASE_LOSSES
from hookcast.store import to_async_url
from hookcast.store.types import from_micros
from support.waiting import eventually, wait_until

T = TypeVar("T")

EVENTS = 40
IN_FLIGHT = 4  # a new endpoint's requests at once (new_endpoint_concurrency)
# Beats and patience shorter than production's (0.5 s, 2 s) to keep the test short.
OPTIONS = with_options(
    new_endpoint_concurrency=IN_FLIGHT, beat_seconds=0.2, stale_after_seconds=1.0
)


def hold_first(count: int, released: asyncio.Event) -> Behaviour:
    """The first `count` requests wait for `released`; the rest are answered at once."""
    ok = answer(200)

    async def behave(number: int, request: web.Request) -> web.StreamResponse:
        if number < count:
            await released.wait()
        return await ok(number, request)

    return behave


class ThreadedWorker:
    """A delivery worker on an event loop and store of its own, in a thread; `stall()` holds
    its loop until `resume()`."""

    def __init__(self, database_url: str, options: WorkerOptions) -> None:
        self._url = database_url
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._gate = threading.Event()
        self.stalled = threading.Event()
        self.worker: DeliveryWorker | None = None
        self._thread = threading.Thread(target=self._main, name="stalled-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stall(self) -> None:
        """Holds the worker's loop (its beats, sends and claims) until `resume()`."""
        self._gate.clear()
        self._loop.call_soon_threadsafe(self._hold)

    def resume(self) -> None:
        self._gate.set()

    async def ask(self, question: Callable[[DeliveryWorker], T]) -> T:
        """`question(worker)` answered on the worker's own loop."""

        async def answer() -> T:
            assert self.worker is not None
            return question(self.worker)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(answer(), self._loop))

    def close(self) -> None:
        self._gate.set()
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=15)

    def _hold(self) -> None:
        self.stalled.set()
        self._gate.wait(timeout=30)  # bounded: a failing test still ends
        self.stalled.clear()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        store = await open_settings_store(settings_for(self._url))
        sender = HttpSender(allowed=parse_networks(LOOPBACK))
        try:
            self.worker = DeliveryWorker(
                store, sender, clock=lambda: datetime.now(UTC), options=self._options
            )
            await self.worker.run(self._stop)
        finally:
            await sender.close()
            await store.close()


async def _until(condition: Callable[[], Awaitable[bool]], message: str) -> None:
    await eventually(condition, timeout=30, message=message)


@dataclass(frozen=True)
class _Stalling:
    """A `ThreadedWorker` running beside `hookcast`, its webhook's receiver holding the
    first IN_FLIGHT requests until `released`."""

    worker: ThreadedWorker
    receiver: Receiver
    hook: dict[str, Any]
    released: asyncio.Event


@contextlib.asynccontextmanager
async def _stalling(database_url: str, hookcast: Deployment) -> AsyncIterator[_Stalling]:
    released = asyncio.Event()
    stalled = ThreadedWorker(database_url, OPTIONS)
    try:
        receiver = await hookcast.receiver(hold_first(IN_FLIGHT, released))
        hook = await hookcast.hook_for(receiver)
        stalled.start()
        await eventually(lambda: stalled.worker is not None)
        yield _Stalling(stalled, receiver, hook, released)
    finally:
        released.set()
        await asyncio.to_thread(stalled.close)


@pytest.mark.timeout(120)
async def test_a_worker_found_dead_while_stalled_does_not_send_what_it_held_queued(
    database_url: str,
) -> None:
    require_postgres(database_url)
    async with Deployment.open(database_url) as hookcast:
        async with _stalling(database_url, hookcast) as stalling:
            stalled, receiver, hook = stalling.worker, stalling.receiver, stalling.hook
            events = await hookcast.publish_media(EVENTS)

            # The first worker claims them all: IN_FLIGHT requests wait at the receiver,
            # the rest wait in its queue for their endpoint.
            async def all_held() -> bool:
                return await stalled.ask(lambda w: w.holds_leases()) and (
                    receiver.in_flight == IN_FLIGHT
                )

            await _until(all_held, "the first worker never held every delivery")
            store = hookcast.runtime.store

            async def all_leased() -> bool:  # the next due time is a lease's expiry
                due = await store.next_due_at()
                return due is not None and due > datetime.now(UTC) + timedelta(seconds=10)

            await _until(all_leased, "the deliveries were not all leased")

            # The second worker finds nothing to claim until the first is found dead.
            hookcast.start_worker(OPTIONS)
            stalled.stall()
            await asyncio.to_thread(wait_until, stalled.stalled.is_set)
            await receiver.wait_for_events(set(events), timeout=30)  # all taken back, sent
            stalled.resume()
            stalling.released.set()  # its requests in flight end: their slots free

            async def holds_nothing() -> bool:
                return not await stalled.ask(lambda w: w.holds_leases())

            await _until(holds_nothing, "the stalled worker still holds leases")
            done = await hookcast.wait_for_status(hook["id"], "succeeded", EVENTS, timeout=30)

        # Only what was in flight when it stalled arrived twice (the second worker sent
        # it again, as after a crash): nothing of what it held queued.
        assert receiver.duplicates() <= IN_FLIGHT, (
            f"{receiver.duplicates()} duplicates of {EVENTS} events"
        )
        assert sorted(set(receiver.event_ids())) == sorted(events)
        # The stalled worker's outcomes for leases taken back were refused (lease token):
        # each delivery holds the one attempt of the worker that took it back.
        assert [len(d["attempt_log"]) for d in done] == [1] * EVENTS


STALLS = MAX_LEASE_LOSSES + 1
HELD = 12  # deliveries the stalled worker holds: IN_FLIGHT sent, the rest queued


async def _leased_to(database_url: str, worker_id: str) -> tuple[int, datetime | None, int]:
    """How many pending deliveries are leased to `worker_id`, when its registration began
    (None: not registered, found dead), and how many deliveries were failed "lost by"."""
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            leased = await conn.scalar(
                text(
                    "SELECT count(*) FROM deliveries WHERE lease_worker = :w AND status = 'pending'"
                ),
                {"w": worker_id},
            )
            started = await conn.scalar(
                text("SELECT started FROM workers WHERE id = :w"), {"w": worker_id}
            )
            lost = await conn.scalar(
                text("SELECT count(*) FROM attempts WHERE error LIKE :lost"),
                {"lost": f"{LOST_BY}%"},
            )
    finally:
        await engine.dispose()
    return int(leased or 0), None if started is None else from_micros(int(started)), int(lost)


@pytest.mark.timeout(180)
async def test_a_worker_found_dead_again_and_again_while_stalled_fails_nothing_it_queued(
    database_url: str,
) -> None:
    """Stalled past the others' patience more times than MAX_LEASE_LOSSES, each time with
    the same deliveries queued (its endpoint's requests at once all taken, by requests the
    receiver holds): no delivery is failed "lost by", for no worker died sending one. What
    a CPU-starved machine does to its workers (the noisy-neighbour chaos run)."""
    require_postgres(database_url)
    async with Deployment.open(database_url) as hookcast:
        async with _stalling(database_url, hookcast) as stalling:
            stalled, receiver, hook = stalling.worker, stalling.receiver, stalling.hook
            worker_id = await stalled.ask(lambda w: w.worker_id)
            events = await hookcast.publish_media(HELD)
            store = hookcast.runtime.store

            async def holds_all_and_knows() -> bool:
                """Every delivery is leased to the worker, and a beat since its latest
                registration told it whether it was found dead (and what it dropped was
                dealt with: `_confirm_leases` is over)."""
                leased, started, failed_lost = await _leased_to(database_url, worker_id)
                assert failed_lost == 0, f"{failed_lost} deliveries failed {LOST_BY!r}"
                told, confirming = await stalled.ask(
                    lambda w: (w._liveness._registered, w._confirming is not None)
                )
                return leased == HELD and told == started and not confirming

            async def taken_back() -> bool:
                """Another worker's beat finds it dead (its last beat is before now) and
                takes its leases back. Under load that worker may be the deployment's own,
                first: what counts is that the stalled worker holds none."""
                now = datetime.now(UTC)
                await store.take_back_leases(now=now, stale_before=now)
                return (await _leased_to(database_url, worker_id))[0] == 0

            for stall in range(STALLS):
                await _until(holds_all_and_knows, f"stall {stall}: the worker holds not all")
                stalled.stall()
                await asyncio.to_thread(wait_until, stalled.stalled.is_set)
                await _until(taken_back, f"stall {stall}: its leases were not taken back")
                stalled.resume()

            await _until(holds_all_and_knows, "the worker did not claim them all again")
            stalling.released.set()
            # Nothing failed: each is sent (the stalled worker sends them once it is sure).
            await receiver.wait_for_events(set(events), timeout=30)
            done = await hookcast.wait_for_status(hook["id"], "succeeded", HELD, timeout=30)

        failed = await hookcast.deliveries(hook["id"], status="failed")
        assert failed["total"] == 0, failed["deliveries"]
        assert len(done) == HELD


@pytest.mark.timeout(240)
async def test_a_delivery_whose_sending_kills_its_worker_is_still_failed_after_five(
    database_url: str, tmp_path: Path
) -> None:
    """The other side of disowning: a worker killed while sending (a real `hookcast worker`
    process, SIGKILL while its request waits at the receiver) never comes back to disown
    its loss, so the delivery is failed "lost by" after MAX_LEASE_LOSSES workers, not
    handed to the next one."""
    require_postgres(database_url)
    released = asyncio.Event()
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        try:
            receiver = await hookcast.receiver(hold_first(MAX_LEASE_LOSSES, released))
            hook = await hookcast.hook_for(receiver)
            (event,) = await hookcast.publish_media(1)
            store = hookcast.runtime.store
            for loss in range(MAX_LEASE_LOSSES):
                worker = procs.worker()
                # Its imports alone took ~11 s at load 10-19 (test_delivery_idle_workers.py).
                await receiver.wait_for(loss + 1, timeout=60)  # sending: killed mid-request
                worker.kill()
                assert await worker.wait_exit(DEADLINE) is not None
                now = datetime.now(UTC)  # another worker's beat finds it dead
                assert await store.take_back_leases(now=now, stale_before=now) == 1
            procs.worker()
            (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1, timeout=60)
        finally:
            released.set()
        assert delivery["attempt_log"][-1]["error"].startswith(
            f"{LOST_BY}{MAX_LEASE_LOSSES} workers"
        )
        assert receiver.event_ids() == [event] * MAX_LEASE_LOSSES
