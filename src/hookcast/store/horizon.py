"""The first day a pending delivery can be of, so claims plan only the days from it on
(PostgreSQL).

deliveries is partitioned by day (store/partitions.py) and retention keeps weeks of finished
days. Every day partition in a claim's plan costs planning and executing it (about 1 µs per
claimed delivery per day, docs/benchmarks/postgres-delivery.md), though the past days hold few
pending rows or none. The one row of delivery_horizon holds `pending_since`: the start of a day
before which no pending delivery was created. A claim reads it first and writes it into its SQL as a
constant (`ClaimDays`, store/fair_claim.py), and the planner leaves the days before it out.

Why it holds:
- It moves up only in `advance` (every worker's beat), to the first day that still has a
  pending delivery, and no later than the start of the day an hour ago by the database's
  clock: a transaction that began yesterday may still insert a delivery of yesterday.
- A delivery that becomes pending with a `created` before the start of the database's
  current day (inserted so, or made pending again: a manual retry, a resumed webhook, a
  chain moving on) moves it down in its own transaction: migration 0019's trigger on
  deliveries. The trigger locks the row even when it leaves it alone, and `advance` locks it
  before it looks for pending rows: whichever comes second waits for the other to commit,
  so `advance` never moves past a row made pending in a transaction it could not see.
Deliveries created today never fire the trigger, so publishing and recording pay for one
comparison per row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, bindparam, literal_column, select, update
from sqlalchemy.sql.elements import ColumnClause

from hookcast.domain.models import DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, delivery_horizon

__all__ = ["DAY_MICROS", "KnownHorizon", "advance", "day_start", "pending_since"]

DAY_MICROS = 86_400_000_000
_MOST_DAYS = 400  # days one pass steps over: bounded, the next beat goes on from there
# The start of the day an hour ago, by the database's clock, in µs since the epoch.
_LIMIT: ColumnClause[int] = literal_column(
    "CAST(floor(extract(epoch FROM now() - interval '1 hour') / 86400) AS bigint) * 86400000000"
)


def day_start(micros: int) -> int:
    """The start of the UTC day a moment falls in (both µs since the epoch): the bound of the
    day partition that holds a row created then."""
    return micros - micros % DAY_MICROS


class KnownHorizon:
    """The horizon as a process's latest claim found it, so that the next claim need not
    read it first: a round trip less per claim, which at tens of events a second is one per
    event (store/deliveries.py `claim_due` checks it with the claim itself).

    Only a first guess: every claim that brings rows returns the horizon of its own
    snapshot, and one that brings none reads it again, so a claim that planned too late a
    day (the horizon moved down after the guess: a delivery made pending on an older day)
    is told so and claims again from the earlier day at once. Too early a day costs only
    planning days with no pending delivery."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since: int | None = None  # None until a claim has found it


async def pending_since(tx: Transaction) -> int:
    """The horizon: no pending delivery was created before it (µs; 0 without the row)."""
    row = await tx.fetch_one(_SINCE)
    return int(row[0]) if row else 0


async def advance(tx: Transaction) -> None:
    """Moves the horizon up to the first day with a pending delivery, at most to the start
    of the day an hour ago; usually one read that finds nothing to do."""
    row = await tx.fetch_one(_READ)
    if row is None or row[0] >= row[1]:
        return
    since, limit = await _locked(tx)
    day = day_start(since)
    for _ in range(_MOST_DAYS):
        if day >= limit or await tx.fetch_one(_ANY_PENDING, _day(day)) is not None:
            break
        day += DAY_MICROS
    if day > since:
        await tx.execute(_MOVE, {"b_since": day})


async def _locked(tx: Transaction) -> tuple[int, int]:
    """The horizon and its limit, its row locked (module docstring: why)."""
    row = await tx.fetch_one(_LOCK)
    assert row is not None  # read just before, and nothing deletes it
    return int(row[0]), int(row[1])


def _day(start: int) -> dict[str, Any]:
    return {"b_low": start, "b_high": start + DAY_MICROS}


_SINCE = Statement(lambda _: select(delivery_horizon.c.pending_since))
_READ = Statement(lambda _: select(delivery_horizon.c.pending_since, _LIMIT))
_LOCK = Statement(lambda _: select(delivery_horizon.c.pending_since, _LIMIT).with_for_update())
# Constants in each plan: only that day's partition is read, through the due index.
_ANY_PENDING = Statement(
    lambda _: (
        select(literal_column("1"))
        .where(
            deliveries.c.status == DeliveryStatus.PENDING.value,
            deliveries.c.created >= bindparam("b_low", type_=BigInteger),
            deliveries.c.created < bindparam("b_high", type_=BigInteger),
        )
        .limit(1)
    )
)
_MOVE = Statement(  # the table's one row
    lambda _: update(delivery_horizon).values(pending_since=bindparam("b_since", type_=BigInteger))
)
