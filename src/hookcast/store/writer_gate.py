"""Turns at writing one SQLite file, for every writer in this process, whatever event loop it
runs on.

SQLite lets one connection write at a time. Writers of one store queue for its writer
connection; `serve`, whose delivery worker runs on a thread and loop of its own with a store
of its own (cli/delivery_thread.py), has two writer connections on one file. Without a
shared queue, the second one's BEGIN IMMEDIATE would find the file locked and poll
(store/sqlite_connector.py's `wait_for_lock`, up to 50 ms a try) while the other took turn
after turn: measured, publishing in batches starved the worker's claims and records. The gate
hands the turn over in arrival order, straight to the next writer's loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections import deque

__all__ = ["WriterGate", "writer_gate"]

_GATES: weakref.WeakValueDictionary[str, WriterGate] = weakref.WeakValueDictionary()
_GATES_MUTEX = threading.Lock()


def writer_gate(path: str) -> WriterGate:
    """The gate of the database file at `path` (one per file in this process)."""
    key = os.path.realpath(path)
    with _GATES_MUTEX:
        gate = _GATES.get(key)
        if gate is None:
            gate = _GATES[key] = WriterGate()
        return gate


class WriterGate:
    """A first-come, first-served lock whose waiters may be on different event loops."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()  # guards the two fields below, never held across I/O
        self._held = False
        self._waiting: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    def locked(self) -> bool:
        """Whether a writer has the turn."""
        return self._held

    async def acquire(self) -> None:
        """Waits for the turn. A cancelled wait gives up its place (or passes on a turn it
        was handed meanwhile)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return
            loop = asyncio.get_running_loop()
            turn: asyncio.Future[None] = loop.create_future()
            self._waiting.append((loop, turn))
        try:
            await turn
        except BaseException:
            with self._mutex:
                queued = (loop, turn) in self._waiting
                if queued:
                    self._waiting.remove((loop, turn))
            if not queued and turn.done() and not turn.cancelled():
                self.release()  # handed the turn as it was cancelled: the next one's
            raise

    def release(self) -> None:
        """Ends this turn: the first waiter has it next, or nobody."""
        with self._mutex:
            if not self._waiting:
                self._held = False
                return
            loop, turn = self._waiting.popleft()
        # Still held: handed straight over, on the waiter's own loop.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:
            self._hand(turn)
            return
        try:
            loop.call_soon_threadsafe(self._hand, turn)
        except RuntimeError:  # its loop has closed: nobody waits there any more
            self.release()

    def _hand(self, turn: asyncio.Future[None]) -> None:
        if turn.done():  # cancelled while the turn was on its way
            self.release()
        else:
            turn.set_result(None)
