"""How publishes are grouped into transactions (store/group_commit.py), with the transaction
and its statements stood in for: what a group is made of, not what SQL it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hookcast.store import group_commit
from hookcast.store.append import Publish
from hookcast.store.crypto import SecretBox
from hookcast.store.group_commit import GroupCommit
from support import factories as make


def _publish() -> Publish:
    return Publish(events=[make.event("acme")], fanout=make.no_fanout, expect=None)


async def test_publishes_queued_while_the_writer_waits_for_its_turn_join_its_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The turn may be with `serve`'s delivery thread: what arrives meanwhile shares the
    # transaction that then begins, not one more commit after it.
    waiting, turn = asyncio.Event(), asyncio.Event()
    groups: list[list[Publish]] = []

    @asynccontextmanager
    async def writing() -> AsyncIterator[Any]:
        waiting.set()
        await turn.wait()
        yield None

    async def append_together(
        _tx: Any, publishes: Sequence[Publish], *, box: SecretBox
    ) -> tuple[list[list[str] | None], int]:
        groups.append(list(publishes))
        return [[event.id for event in publish.events] for publish in publishes], 0

    monkeypatch.setattr(group_commit, "append_together", append_together)
    commit = GroupCommit(writing, lambda: None, box=SecretBox(b"k" * 32), database="sqlite")
    first, second, third = _publish(), _publish(), _publish()

    appended = asyncio.create_task(commit.append(first))
    await asyncio.wait_for(waiting.wait(), 10)

    async def their_turn() -> None:
        turn.set()

    # gather runs each coroutine's first step in order: both are queued before the turn.
    results = await asyncio.wait_for(
        asyncio.gather(commit.append(second), commit.append(third), their_turn()), 10
    )

    assert await appended == [first.events[0].id]
    assert list(results[:2]) == [[second.events[0].id], [third.events[0].id]]
    assert groups == [[first, second, third]]
