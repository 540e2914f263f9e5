"""`hookcast serve`'s delivery worker on a thread of its own, with its own event loop and
its own store, beside the API's loop in the same process.

On one loop, a publish's every step queued behind whatever delivery had made ready: at
2,000 single events/s, the publish round trip's own p99 was ~77 ms of an ~83 ms
publish-to-receipt p99 (issue 19), and while batches of 100 saturated the API, deliveries
ran at a sixth of their drain rate. On two threads the interpreter hands the GIL over every
switch interval (0.5 ms, cli/loop.py), so a request waits for at most that slice of
delivery work, not for a whole turn of it; and SQLite, hashing and the sockets release the
GIL, so each side's waits on them are the other's time to run.

The worker reaches the database only through its own store (SQLite's WAL takes a second
connection; its writes take turns with the API's). Publishes still hand their deliveries
straight over (`CrossThreadHandoff`), and the API store's wake-ups are forwarded to the
worker's, and so are its edits of webhooks (a worker drops what it queued with the old
webhook). Shutdown is as before: the server's lifespan sets the stop, the worker drains its
in-flight deliveries and closes its store, and only then does the API's store close.

A thread that ends before it is stopped (its store would not open, the worker raised) is
logged at once, traceback and all, and reported to `on_failure` on the API's loop: `serve`
then stops and exits non-zero, so that a supervisor restarts it. A worker refused because
another process delivers from the SQLite file (AnotherDeliverer) is reported alone: `serve`
says it in one line. Left running, it would
accept publishes that nothing delivers; stopped, what it accepted waits in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from hookcast.bootstrap import open_settings_store
from hookcast.cli.loop import run_loop
from hookcast.config import Settings
from hookcast.delivery.liveness import AnotherDeliverer
from hookcast.delivery.worker import DeliveryWorker
from hookcast.ports import ClaimedDelivery, Handoff, Lease
from hookcast.store import SqlStore

__all__ = ["CrossThreadHandoff", "DeliveryThread"]

_log = logging.getLogger(__name__)

# What the thread runs once its store is open: the worker until `stop` is set, publishes
# handed over through the `Handoff` it is given.
RunWorker = Callable[
    [SqlStore, asyncio.Event, Callable[[DeliveryWorker], Handoff]], Awaitable[None]
]


class CrossThreadHandoff:
    """The `Handoff` of publishes on the API's loop to a worker running on another loop."""

    def __init__(self, worker: DeliveryWorker, loop: asyncio.AbstractEventLoop) -> None:
        self._worker = worker
        self._loop = loop

    def lease(self) -> Lease | None:
        """The worker's own answer, read from this thread: it only reads counters there.
        Deliveries leased but not yet taken are not counted, so the worker may be handed
        up to the publishes in flight more than `prefetch`; what overflows twice an
        endpoint's queue bound goes back to the database as on any claim (scheduler.py)."""
        return self._worker.lease()

    def take(self, leased: Sequence[ClaimedDelivery], until: datetime) -> None:
        """Queues them on the worker's loop. If that loop has closed (the worker stopped in
        between), their leases expire and a worker claims them then, as on one loop."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._worker.take, leased, until)


class DeliveryThread:
    """Runs `run_worker` on a thread with its own event loop and a store on `settings`'
    database; the API's `store` forwards its wake-ups to it while it runs. If the thread
    ends other than by `stop()`, it logs why and calls `on_failure(error)` on the API's loop."""

    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        run_worker: RunWorker,
        *,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._settings = settings
        self._api_store = store
        self._run_worker = run_worker
        self._on_failure = on_failure
        self._api_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name="hookcast-delivery", daemon=True)

    def start(self) -> None:
        """Starts the thread (from the API's loop, where `on_failure` will run); the worker
        takes publishes' deliveries once it runs."""
        self._api_loop = asyncio.get_running_loop()
        self._thread.start()

    async def stop(self) -> None:
        """Sets the worker's stop and waits (off this loop) until it has drained and closed.
        A failure is not raised here: it was logged and reported when it happened."""
        self._stopping.set()
        await asyncio.to_thread(self._started.wait)
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended (a failure)
                self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join)

    def _main(self) -> None:
        try:
            run_loop(self._deliver())
        except BaseException as exc:  # whatever it was, nothing delivers any more
            self._failed(exc)
        else:
            if not self._stopping.is_set():
                self._failed(RuntimeError("the delivery worker returned before it was stopped"))
        finally:
            self._started.set()  # also when it failed before it started

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, AnotherDeliverer):  # nothing died: serve says why it stops
            _log.error(
                "the delivery thread died: nothing is delivered until serve is restarted "
                "(accepted events wait in the database)",
                exc_info=exc,
            )
        if self._on_failure is not None and self._api_loop is not None:
            on_failure = self._on_failure
            _call_soon(self._api_loop, lambda: on_failure(exc))

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        self._loop = loop
        store = await open_settings_store(self._settings)
        self._api_store.forward_wakeups(lambda: _call_soon(loop, store.wake))
        # The API's edits, told to the worker's store on its own loop (delivery/edits.py).
        unwatch = self._api_store.watch_edits(
            lambda webhook_id: _call_soon(loop, lambda: store.edited(webhook_id))
        )
        self._started.set()
        try:
            await self._run_worker(store, stop, lambda worker: CrossThreadHandoff(worker, loop))
        finally:
            unwatch()
            self._api_store.forward_wakeups(None)
            await store.close()


def _call_soon(loop: asyncio.AbstractEventLoop, call: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
        loop.call_soon_threadsafe(call)
