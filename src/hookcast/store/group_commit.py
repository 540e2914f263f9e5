"""Group commit for `append_events`: publishes made while a write is under way share the
next transaction (one BEGIN, one fsync, one INSERT of events and one of deliveries for them
all). A publish whose data the database refuses fails alone: the group is then retried
publish by publish.

SQLite has one writer, so one group is written at a time. On PostgreSQL two are: a group's
transaction spends most of its time waiting on round trips, and publishes arriving
meanwhile need not wait for it to end before theirs begins (rows are locked in the same
order by every writer, as between API servers). Should PostgreSQL still roll a group's
transaction back to end a deadlock or a serialization failure with a concurrent one (a
caller's own transaction, `SqlStore.using`, locks in its own order), the group is written
again, a bounded number of times, rather than failing every publish in it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from hookcast.domain.errors import Conflict, Unavailable
from hookcast.ports import ConfigChanged
from hookcast.store.append import Publish, Written, append_together
from hookcast.store.append_at_once import append_at_once, plan_at_once
from hookcast.store.append_postgres import Contended, append_on_postgres
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.errors import RolledBack

__all__ = ["GroupCommit"]

GROUP_EVENTS = 5000  # events per group-commit transaction (a publish is never split)
_POSTGRES_WRITERS = 2  # group transactions under way at once on PostgreSQL
_REDOS = 2  # times a group PostgreSQL rolled back (`RolledBack`) is written again at most


@dataclass(frozen=True, slots=True)
class _Waiting:
    publish: Publish
    result: asyncio.Future[Sequence[str]]


def _fail_all(group: list[_Waiting], exc: BaseException) -> None:
    for item in group:
        if not item.result.done():
            item.result.set_exception(exc)


class GroupCommit:
    """Queues publishes and writes them in groups, one transaction per group.

    `writing` opens a write transaction (translating driver errors) on `database`,
    `committing` a connection whose statements each commit as they run (PostgreSQL's
    one-statement publish); `woken` is called after a commit that made deliveries due.
    """

    def __init__(
        self,
        writing: Callable[[], AbstractAsyncContextManager[Transaction]],
        committing: Callable[[], AbstractAsyncContextManager[Transaction]],
        woken: Callable[[], None],
        *,
        box: SecretBox,
        database: str,
        group_events: int = GROUP_EVENTS,
    ) -> None:
        """`group_events`: a group takes publishes until it holds that many events."""
        self._writing = writing
        self._committing = committing
        self._woken = woken
        self._box = box
        self._group_events = group_events
        self._postgres = database == "postgresql"
        self._max_writers = _POSTGRES_WRITERS if self._postgres else 1
        self._queue: deque[_Waiting] = deque()
        self._writers: set[asyncio.Task[None]] = set()
        self._gathering = 0  # writers about to take the queue: a publish waits for them
        self._in_flight = 0  # groups being written on PostgreSQL

    async def append(self, publish: Publish) -> Sequence[str]:
        """The ids of the events `publish` stored, once its group has committed."""
        result: asyncio.Future[Sequence[str]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(publish, result))
        # done(), not a done-callback: a writer that has returned takes nothing more from
        # the queue, though its callbacks have yet to run.
        self._writers = {writer for writer in self._writers if not writer.done()}
        if not self._gathering and len(self._writers) < self._max_writers:
            self._writers.add(asyncio.create_task(self._write_queued()))
        return await result

    async def drain(self) -> None:
        """Waits for the publishes already accepted (before the store closes)."""
        await asyncio.gather(*self._writers, return_exceptions=True)

    async def _write_queued(self) -> None:
        self._gathering += 1
        try:
            await asyncio.sleep(0)  # requests the loop has already read join this group
        finally:
            self._gathering -= 1
        while self._queue:
            group: list[_Waiting] = []
            size = 0
            while self._queue and (not group or size < self._group_events):
                group.append(self._queue.popleft())
                size += len(group[-1].publish.events)
            await self._write_group(group)

    async def _append(self, publishes: list[Publish]) -> Written:
        """The group in one transaction: on PostgreSQL in one statement or two unless that
        cannot finish (store/append_at_once.py, store/append_postgres.py) or the database
        rolled it back (`RolledBack`), then the general way, again up to `_REDOS` times
        while rolled back."""
        if self._postgres:
            try:
                return await self._append_on_postgres(publishes)
            except (Contended, RolledBack):
                pass  # rolled back, or nothing written: written again below
            for _ in range(_REDOS):
                try:
                    return await self._append_together(publishes)
                except RolledBack:
                    pass  # the concurrent transaction goes on now: this one may too
        return await self._append_together(publishes)

    async def _append_on_postgres(self, publishes: list[Publish]) -> Written:
        """One autocommitted statement when every delivery is only an INSERT and the group
        is one publish written while no other group is, else two in a transaction;
        `Contended` when neither can finish as store/append.py would.

        A group of several publishes, or one written beside another, says publishes arrive
        faster than a group is written, and the longer write of two statements in a
        transaction gathers more of them into the next group: at 2,000 single events/s the
        one statement for every group made 40-60% more transactions per event and cost
        10-28% more CPU per event (docs/benchmarks/postgres-low-rates.md, "A publish in one
        statement"). One publish alone waits on its round trips only, and one statement is three
        fewer."""
        alone = self._in_flight == 0 and len(publishes) == 1
        self._in_flight += 1
        try:
            group = plan_at_once(publishes) if alone else None
            if group is None:
                async with self._writing() as tx:
                    return await append_on_postgres(tx, publishes, box=self._box)
            try:
                async with self._committing() as tx:
                    return await append_at_once(tx, group)
            except Conflict:
                # A concurrent publish stored one of the events after the statement's
                # snapshot: the statement failed whole, nothing was written
                # (store/append_at_once.py). A constraint the data itself breaks fails
                # store/append.py's statements too.
                raise Contended() from None
        finally:
            self._in_flight -= 1

    async def _append_together(self, publishes: list[Publish]) -> Written:
        async with self._writing() as tx:
            return await append_together(tx, publishes, box=self._box)

    async def _write_group(self, group: list[_Waiting]) -> None:
        try:
            written = await self._append([item.publish for item in group])
        except Unavailable as exc:  # the database, not the data: every publish fails alike
            _fail_all(group, exc)
            return
        except Exception as exc:
            if len(group) == 1:
                _fail_all(group, exc)
                return
            for item in group:
                await self._write_group([item])
            return
        if written.due:
            self._woken()
        for item, ids in zip(group, written.stored, strict=True):
            if item.result.done():  # its caller may have gone (a closed connection)
                continue
            if ids is None:
                item.result.set_exception(ConfigChanged())
            else:
                if item.publish.handover is not None:
                    # The group's: delivery ids are unique, its caller looks its own up.
                    item.publish.handover.update(written.handed)
                item.result.set_result(ids)
