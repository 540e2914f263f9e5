"""benchmarks.status_reads prices reads that derive a succeeded delivery's status; the
price means nothing unless the derived reads return what today's rows say. Its check
compares them (page, page of succeeded deliveries, counts by hour and status, both ways
of deriving them); here it must pass on the benchmark's seed, and fail when one succeeded
delivery's pending row is left behind (the derivation then calls it pending)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from benchmarks.status_reads import _DAY, _check, _create

from support.postgres import run_sql

pytestmark = pytest.mark.postgres

_DELIVERIES = 4_000


@pytest.fixture
def databases(postgres_url: Callable[[str], str]) -> Iterator[dict[str, str]]:
    """Today's rows and the derived design's, seeded alike."""
    names = {"today": "reads_today_test", "derived": "reads_derived_test"}
    for name in names.values():
        run_sql(postgres_url("postgres"), f"CREATE DATABASE {name}")
    yield {design: postgres_url(name) for design, name in names.items()}
    for name in names.values():
        run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")


async def test_derived_statuses_and_counts_are_todays(databases: dict[str, str]) -> None:
    start = int(time.time() * 1e6) - _DAY
    for design, url in databases.items():
        await _create(url, design, _DELIVERIES, start)

    await _check(databases)


async def test_a_pending_row_left_behind_is_caught(databases: dict[str, str]) -> None:
    start = int(time.time() * 1e6) - _DAY
    for design, url in databases.items():
        await _create(url, design, _DELIVERIES, start)
    connection = await asyncpg.connect(databases["derived"])
    try:  # the newest succeeded delivery of webhook wh3, which the check's page reads
        await connection.execute(
            "INSERT INTO pending (delivery_id, created, account_id, next_attempt_at, event_id,"
            " webhook_id, attempts) SELECT id, created, account_id, created, event_id,"
            " webhook_id, attempts FROM deliveries WHERE webhook_id = 'wh3'"
            " AND status = 'pending' ORDER BY created DESC LIMIT 1"
        )
    finally:
        await connection.close()

    with pytest.raises(SystemExit, match="page"):
        await _check(databases)
