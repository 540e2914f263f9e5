"""A walk's writes held between them (store/slices.py), so a test sees it under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from hookcast.store.connector import Transaction

Writing = Callable[[], AbstractAsyncContextManager[Transaction]]


def held_after_each_write(
    writing: Writing, *, committed: asyncio.Event, go_on: asyncio.Event
) -> Writing:
    """`writing`'s transactions, each held after it commits (`committed` set then) until
    `go_on` is set: between writes, so nothing is locked meanwhile."""

    @asynccontextmanager
    async def held() -> AsyncIterator[Transaction]:
        async with writing() as tx:
            yield tx
        committed.set()
        await go_on.wait()

    return held
