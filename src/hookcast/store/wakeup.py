"""Wake-ups for workers waiting on new due deliveries.

In-process, an asyncio.Event set after each commit that makes deliveries due. On PostgreSQL,
other processes (API servers, other workers) publish too, so the store also LISTENs on
NOTIFY_CHANNEL through one dedicated asyncpg connection, opened on the first wait and
re-opened on the next wait if it drops. On a SQLite file, a store that waits listens for the
other processes' wake-ups (file_wakeup.py) from its first wait, and a store that never
waited, nor forwards its wake-ups to a waiting store in its process, sends them. A wake-up
is a hint, never a promise: callers claim after waking and fall back to their timeout, so a
lost notification costs latency only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from hookcast.store.file_wakeup import FileWakeup
from hookcast.store.sql import NOTIFY_CHANNEL

__all__ = ["Wakeup"]

_log = logging.getLogger(__name__)
_CONNECT_TIMEOUT = 5.0


class Wakeup:
    def __init__(self, listen_dsn: str | None, *, file: FileWakeup | None = None) -> None:
        """`listen_dsn`: the PostgreSQL server to LISTEN on; `file`: the wake-ups of the
        processes on the same SQLite file."""
        self._event = asyncio.Event()
        self._listen_dsn = listen_dsn
        self._listener: Any = None  # asyncpg.Connection once listening
        self._connect_lock = asyncio.Lock()
        self._was_listening = False
        self._listen_failed = False  # the last try to LISTEN failed (and was said)
        self._file = file
        self._waited = False  # this store's process delivers: it tells no other one
        self.forward: Callable[[], None] | None = None  # see SqlStore.forward_wakeups

    def notify(self) -> None:
        """Wakes this process's waiters (after a commit that made deliveries due)."""
        self._event.set()
        # Read once: `serve`'s delivery thread sets it to None as it stops, and a second
        # read could find None after the first found a callable (the publish's 500).
        forward = self.forward
        if forward is not None:
            forward()
        elif self._file is not None and not self._waited:
            self._file.tell()

    async def wait(self, timeout: float) -> bool:
        """Until a wake-up (True) or `timeout` seconds (False)."""
        if not self._waited:
            self._waited = True
            if self._file is not None:
                self._file.listen(self._event.set)
        await self._ensure_listening()
        # The event is cleared only after a wait, so a wake-up that arrives between a
        # worker's empty claim and its next wait is not lost: the wait returns at once.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        woken = self._event.is_set()
        self._event.clear()
        return woken

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Notifications are not read while the block runs: they wait in the LISTEN
        connection's socket, and the first read after it takes them all, setting the
        wake-up once (this process's own wake-ups still set it at once). A worker pacing its
        claims sleeps through a tenth of a second of publishes so; each NOTIFY read had woken
        its process for nothing (docs/benchmarks/postgres-low-rates.md, "Wake-ups at low rates and
        idle"). The transport is asyncpg's own (no public way to pause a connection's reading):
        without one this holds nothing back."""
        listener = self._listener
        transport = getattr(listener, "_transport", None) if self._is_listening() else None
        if transport is None:
            yield
            return
        transport.pause_reading()
        try:
            yield
        finally:
            if not transport.is_closing():
                transport.resume_reading()

    async def settle(self) -> None:
        """Clears the wake-up once every notification committed before the call has arrived.

        A query on the LISTEN connection is the round trip that proves it: PostgreSQL sends a
        session the notifications pending for it before it reports the query done, and a
        commit queues its NOTIFY before it returns.
        """
        if self._is_listening():
            await self._listener.fetchval("SELECT 1")
        self._event.clear()

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def _ensure_listening(self) -> None:
        if self._listen_dsn is None or self._is_listening():
            return
        async with self._connect_lock:
            if self._is_listening():
                return
            try:
                listener = await self._listen()
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                # Said once until listening again: each wait retries, every ~2 s while the
                # database is down, and the worker says the outage itself (delivery/outage.py).
                level = logging.DEBUG if self._listen_failed else logging.WARNING
                _log.log(level, "cannot LISTEN for deliveries (will poll): %s", exc)
                self._listen_failed = True
                return
            self._listen_failed = False
            listener.add_termination_listener(self._on_terminated)
            self._listener = listener
            if self._was_listening:
                # Notifications sent while we were disconnected are gone: look once.
                self._event.set()
            self._was_listening = True

    async def _listen(self) -> Any:
        listener = await asyncpg.connect(self._listen_dsn, timeout=_CONNECT_TIMEOUT)
        try:
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notification)
        except BaseException:
            await listener.close()
            raise
        return listener

    def _is_listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    def _on_notification(self, *_args: object) -> None:
        self._event.set()

    def _on_terminated(self, _connection: object) -> None:
        self._listener = None
        self._event.set()
