"""Splitting a refused batch of results: the transactions it takes, where health goes, the
marker a refused row is recorded with, and outages that are not split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from hookcast.domain.errors import Unavailable, ValidationFailed
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryResult, WebhookHealth
from hookcast.store.errors import DataError
from hookcast.store.quarantine import record_splitting
from support import factories as make

HEALTH = [WebhookHealth("hook", make.NOW, None)]


def _result(n: int, body: str = "ok") -> DeliveryResult:
    delivery_id = f"dlv_{n}"
    return DeliveryResult(
        delivery_id=delivery_id,
        lease_token="tok",
        attempt=make.attempt(delivery_id, response_body=body),
        status=DeliveryStatus.SUCCEEDED,
        next_attempt_at=None,
        completed_at=make.NOW,
    )


class Database:
    """Refuses any batch holding a body with "bad" in it, as PostgreSQL refuses a NUL."""

    def __init__(self) -> None:
        self.transactions = 0
        self.recorded: list[DeliveryResult] = []
        self.health: list[WebhookHealth] = []

    async def write(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        self.transactions += 1
        if any("bad" in r.attempt.response_body for r in results):
            raise ValidationFailed("refused") from DataError("22021")
        self.recorded.extend(results)
        self.health.extend(health)


async def test_a_clean_batch_is_one_transaction() -> None:
    database = Database()
    await record_splitting(database.write, results=[_result(n) for n in range(8)], health=HEALTH)
    assert (database.transactions, len(database.recorded), database.health) == (1, 8, HEALTH)


@pytest.mark.parametrize(("size", "bad_at", "transactions"), [(8, 5, 8), (1, 0, 2), (2, 0, 4)])
async def test_one_refused_row_is_recorded_with_a_marker_and_the_rest_as_they_are(
    size: int, bad_at: int, transactions: int
) -> None:
    database = Database()
    batch = [_result(n, "bad" if n == bad_at else "ok") for n in range(size)]

    await record_splitting(database.write, results=batch, health=HEALTH)

    # Halving: 1 + 2 per level on the refused row's path, then the marked row once more.
    assert database.transactions == transactions
    assert sorted(r.delivery_id for r in database.recorded) == sorted(r.delivery_id for r in batch)
    marked = next(r for r in database.recorded if r.delivery_id == f"dlv_{bad_at}")
    marker = "response could not be stored: DataError"
    assert (marked.attempt.response_body, marked.attempt.error) == (marker, marker)
    assert replace(marked, attempt=batch[bad_at].attempt) == batch[bad_at]
    assert database.health == HEALTH  # once, whatever the splits


async def test_an_outage_is_not_split() -> None:
    calls = 0

    async def down(_results: Sequence[DeliveryResult], _health: Sequence[WebhookHealth]) -> None:
        nonlocal calls
        calls += 1
        raise Unavailable("the database is unavailable")

    with pytest.raises(Unavailable):
        await record_splitting(down, results=[_result(n) for n in range(4)], health=HEALTH)
    assert calls == 1
