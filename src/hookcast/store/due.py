"""The next due time of the pending deliveries: what an idle worker sleeps until.

Its own module because two callers build on it: the plain read (`next_due_at`, a losing
worker's look before claiming, store/deliveries.py) and a worker's beat on PostgreSQL, whose
statement carries the same read (store/workers.py `beat_and_look`), so an idle worker's look
and its heartbeat are one round trip.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, Select, case, func, literal_column, select

from hookcast.store.connector import Transaction
from hookcast.store.fair_claim import PENDING
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries

__all__ = ["NEXT_DUE", "next_due_at"]


async def next_due_at(tx: Transaction) -> datetime | None:
    row = await tx.fetch_one(NEXT_DUE)
    return row[0] if row else None


def _next_due(_database: str) -> Select[tuple[datetime]]:
    """The earliest of the first unleased pending row's due time and the leased rows'
    expiries. A leased row is due no earlier than it was (its expiry is later than the due
    time it was claimed at), so only the leased rows before the first unleased one in the
    due index can be earlier: the statement reads that stretch of the index, as long as
    the leases the workers hold, and not the backlog behind it.

    Its constants are written into the SQL, none bound: PostgreSQL then keeps one plan for
    it, which reads the due index (a partial index on the pending rows). With the status
    bound, a generic plan could not use that index, so every call was planned afresh,
    ~0.9 ms against ~0.1 ms of executing (a losing worker reads this about once per
    publish group: 81-112 times per 3,000 single events, docs/benchmarks/postgres-publishing.md)."""
    first_free = (
        select(deliveries.c.next_attempt_at)
        .where(deliveries.c.status == PENDING, deliveries.c.lease_token.is_(None))
        .order_by(deliveries.c.next_attempt_at)
        .limit(literal_column("1", Integer))
        .scalar_subquery()
    )
    due = case(
        (deliveries.c.lease_token.is_(None), deliveries.c.next_attempt_at),
        else_=func.coalesce(deliveries.c.lease_until, deliveries.c.next_attempt_at),
    )
    return select(func.min(due)).where(
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= func.coalesce(first_free, _NEVER),
    )


_NEVER = literal_column(str(2**62), BigInteger)  # microseconds: later than any due time
NEXT_DUE = Statement(_next_due)
