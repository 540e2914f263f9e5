"""Planner statistics that follow a young PostgreSQL database as it grows.

PostgreSQL keeps a statement's plan for as long as its connection lives, unless the
statistics of a table it reads change. A plan made while the events table was empty picked
ix_events_account_id_created for lookups by primary key and kept it as the table grew
(issue 19). `migrate` analyzes new tables, and autovacuum re-analyzes the busy ones after
2% of their rows change (migration 0016), but autovacuum looks only once a minute: so the
store analyzes the publish tables itself each time the events it has stored double, from
1,000 to about 1,000,000. The new statistics replace every cached plan that read them, so
a plan made for a small table (a sequential scan of 1,000 events is as cheap as ten index
probes) serves a table at most twice as large before it is made again.

ANALYZE sorts a sample of each column in its collation; the events' JSON documents, which
no plan reads, are left out (tables.py UNANALYZED, migration 0022): on an en_US.UTF-8
database their strcoll sorts had made these ANALYZEs cost PostgreSQL ~10 µs per event
published in batches (docs/benchmarks/postgres-delivery.md, "Statistics only where a plan reads
them").
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from hookcast.store.connector import Connector

__all__ = ["GrowthStatistics"]

_log = logging.getLogger(__name__)
_FIRST = 1_000
_LAST = 1_024_000  # 1,000 doubled ten times
_ANALYZE = text("ANALYZE events, deliveries")


class GrowthStatistics:
    """Counts the events this process stores; analyzes each time the count doubles."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self._enabled = connector.database == "postgresql"
        self._stored = 0
        self._next = _FIRST
        self._running: asyncio.Task[None] | None = None

    def stored(self, events: int) -> None:
        """Called after each commit that stored `events` events."""
        if not self._enabled:
            return
        self._stored += events
        if self._stored < self._next or self._running is not None:
            return
        while self._next <= self._stored:
            self._next *= 2
        self._enabled = self._next <= _LAST
        self._running = asyncio.create_task(self._analyze())

    async def _analyze(self) -> None:
        try:
            async with self._connector.writing() as tx:
                await tx.execute(_ANALYZE)
        except Exception:  # statistics are an optimisation: publishing goes on without
            _log.warning("ANALYZE of the publish tables failed", exc_info=True)
        finally:
            self._running = None

    async def close(self) -> None:
        """Waits for an ANALYZE under way."""
        if self._running is not None:
            await self._running
