"""Group commit for `append_events`: publishes made while a write is under way share the
next transaction (one BEGIN, one fsync, one INSERT of events and one of deliveries for them
all). A publish whose data the database refuses fails alone: the group is then retried
publish by publish.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from hookcast.domain.errors import Unavailable
from hookcast.domain.models import Delivery, Event
from hookcast.ports import ConfigChanged, ConfigVersion, Fanout
from hookcast.store import accounts as account_sql
from hookcast.store import deliveries as delivery_sql
from hookcast.store import operational as operational_sql
from hookcast.store import sequences as sequence_sql
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.sql import notify

__all__ = ["GroupCommit", "Publish", "append_together"]

GROUP_EVENTS = 5000  # events per group-commit transaction (a publish is never split)


@dataclass(frozen=True, slots=True, eq=False)
class Publish:
    """One append_events call: its events, their fan-out, and the configuration version
    the fan-out read (None: not checked)."""

    events: Sequence[Event]
    fanout: Fanout
    expect: ConfigVersion | None


@dataclass(frozen=True, slots=True)
class _Waiting:
    publish: Publish
    result: asyncio.Future[Sequence[str]]


async def append_together(
    tx: Transaction, publishes: Sequence[Publish], *, box: SecretBox
) -> tuple[list[list[str] | None], int]:
    """The statements of several publishes, run together (one INSERT of events, one of
    deliveries, whatever their number): the ids each publish stored, or None for one whose
    `expect` no longer holds (it stores nothing); and how many deliveries are due now
    (workers should be woken). Deliveries held for a disabled webhook publish its
    webhook_held event, once per run of them (`box` reads the account's webhooks then)."""
    outdated = await _outdated(tx, publishes)
    live = [publish for publish in publishes if publish not in outdated]
    stored = await sequence_sql.insert_numbered(tx, [e for p in live for e in p.events])
    # Each newly stored event belongs to the first publish that carried it and is fanned out
    # there only: a re-published event (same id) already has its deliveries. Fan-out gets
    # the stored events, numbered (deliveries to ordered webhooks carry the number).
    new = {(event.account_id, event.id): event for event in stored}
    ids: list[list[str] | None] = []
    fanned_out: list[Delivery] = []
    for publish in publishes:
        if publish in outdated:
            ids.append(None)
            continue
        mine = []
        for event in publish.events:
            numbered = new.pop((event.account_id, event.id), None)
            if numbered is not None:
                mine.append(numbered)
        ids.append([event.id for event in mine])
        if mine:
            fanned_out.extend(publish.fanout(mine))
    if fanned_out:
        checked = all(publish.expect is not None for publish in live)
        await delivery_sql.insert_deliveries(tx, fanned_out, webhooks_exist=checked)
    # Workers are woken for deliveries due now, not for those born leased to a worker
    # (fanout.Lease), which that worker already has.
    due = sum(1 for delivery in fanned_out if delivery.lease_token is None)
    due += await operational_sql.announce_held(tx, fanned_out, box=box)
    if due:
        await notify(tx)
    return ids, due


async def _outdated(tx: Transaction, publishes: Sequence[Publish]) -> list[Publish]:
    """The publishes whose account's configuration moved since their fan-out read it."""
    expected = [publish.expect for publish in publishes if publish.expect is not None]
    if not expected:
        return []
    versions = await account_sql.config_versions(tx, {e.account_id for e in expected})
    return [
        publish
        for publish in publishes
        if publish.expect is not None
        and versions.get(publish.expect.account_id) != publish.expect.version
    ]


def _fail_all(group: list[_Waiting], exc: BaseException) -> None:
    for item in group:
        if not item.result.done():
            item.result.set_exception(exc)


class GroupCommit:
    """Queues publishes and writes them in groups, one transaction per group.

    `writing` opens a write transaction (translating driver errors); `woken` is called after
    a commit that made deliveries due.
    """

    def __init__(
        self,
        writing: Callable[[], AbstractAsyncContextManager[Transaction]],
        woken: Callable[[], None],
        *,
        box: SecretBox,
        group_events: int = GROUP_EVENTS,
    ) -> None:
        """`group_events`: a group takes publishes until it holds that many events."""
        self._writing = writing
        self._woken = woken
        self._box = box
        self._group_events = group_events
        self._queue: deque[_Waiting] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def append(self, publish: Publish) -> Sequence[str]:
        """The ids of the events `publish` stored, once its group has committed."""
        result: asyncio.Future[Sequence[str]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(publish, result))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await result

    async def drain(self) -> None:
        """Waits for the publishes already accepted (before the store closes)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_queued(self) -> None:
        await asyncio.sleep(0)  # requests the loop has already read join this group
        while self._queue:
            group: list[_Waiting] = []
            size = 0
            while self._queue and (not group or size < self._group_events):
                group.append(self._queue.popleft())
                size += len(group[-1].publish.events)
            await self._write_group(group)

    async def _write_group(self, group: list[_Waiting]) -> None:
        try:
            async with self._writing() as tx:
                publishes = [item.publish for item in group]
                stored, due = await append_together(tx, publishes, box=self._box)
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
        if due:
            self._woken()
        for item, ids in zip(group, stored, strict=True):
            if item.result.done():  # its caller may have gone (a closed connection)
                continue
            if ids is None:
                item.result.set_exception(ConfigChanged())
            else:
                item.result.set_result(ids)
