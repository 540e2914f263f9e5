"""benchmarks.pg_floor's designs are durable queues, not just cheap statements: two
claimers draining one backlog through any design record every delivery exactly once and
leave none pending (the benchmark divides by the deliveries, so a design that skipped or
repeated rows would report a floor it does not have)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from benchmarks.floor_designs import DESIGNS, Claim, Design
from benchmarks.pg_floor import _claimer, _Steps

from support.postgres import run_sql

pytestmark = pytest.mark.postgres

_BACKLOG = 1_500


@pytest.fixture
def empty_database(postgres_url: Callable[[str], str]) -> Iterator[str]:
    """A database with no tables: the designs create their own."""
    run_sql(postgres_url("postgres"), "CREATE DATABASE floor_test")
    yield postgres_url("floor_test")
    run_sql(postgres_url("postgres"), "DROP DATABASE floor_test WITH (FORCE)")


class _Overlapping(Design):
    """A design whose claimers each hold their first claim, unrecorded, until every
    claimer's first claim has come back: the claims overlap on every machine, however the
    event loop and the server happen to schedule them."""

    def __init__(self, name: str, claimers: int) -> None:
        super().__init__(name)
        self._first: dict[int, Claim] = {}
        self._claimers = claimers
        self._all_claimed = asyncio.Event()

    async def claim(self, connection: Any, owner: int, limit: int) -> Claim:
        claim = await super().claim(connection, owner, limit)
        self._first.setdefault(owner, claim)
        if len(self._first) == self._claimers:
            self._all_claimed.set()
        return claim

    async def record(self, connection: Any, claim: Claim, ids: list[Any], *, last: bool) -> None:
        if any(claim is first for first in self._first.values()):
            await asyncio.wait_for(self._all_claimed.wait(), timeout=30)
        await super().record(connection, claim, ids, last=last)


@pytest.mark.parametrize("name", DESIGNS)
async def test_two_claimers_record_every_delivery_once(empty_database: str, name: str) -> None:
    design = _Overlapping(name, claimers=2)
    args = argparse.Namespace(claim=100, record=32, events=True)
    setup = await asyncpg.connect(empty_database)
    connections = []
    try:
        await design.create(setup, _BACKLOG, events=True)
        for _ in range(2):
            connection = await asyncpg.connect(empty_database)
            recorder = await asyncpg.connect(empty_database) if name == "held" else connection
            connections.append((connection, recorder))
        counts = await asyncio.gather(
            *(
                _claimer(connection, recorder, design, owner, args, _Steps([]))
                for owner, (connection, recorder) in enumerate(connections, start=1)
            )
        )
        left, attempts = await design.left(setup)
        distinct = 0
        if name != "minimal":
            distinct = await setup.fetchval("SELECT count(DISTINCT delivery_id) FROM attempts")
    finally:
        for connection, recorder in connections:
            await connection.close()
            if recorder is not connection:
                await recorder.close()
        await setup.close()

    assert sum(counts) == _BACKLOG
    assert all(counts), "both claimers took part"
    assert left == 0
    if name != "minimal":  # the one design that logs no attempt
        assert attempts == distinct == _BACKLOG
