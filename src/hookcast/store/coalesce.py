"""Latest wins in SQL: the rules of domain/freshness.py, applied where deliveries are
inserted and where a failed one would be retried.

A delivery with a coalesce key carries its event's sequence; within one (webhook, key) a
higher sequence is newer. Publishes about one resource take their sequence numbers under the
resource's counter lock held to their commit (store/sequences.py), so on PostgreSQL a publish
that stores a newer update sees every older one committed. Leased deliveries are left alone:
a worker is sending them, and their lease is the worker's to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, and_, bindparam, exists, literal, or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from hookcast.domain.freshness import newest_of_each
from hookcast.domain.models import Delivery, DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries
from hookcast.store.types import Timestamp

__all__ = ["supersede_older", "supersede_retried"]

_SUPERSEDED = DeliveryStatus.SUPERSEDED.value
_PENDING = DeliveryStatus.PENDING.value
# Not sent yet, and no worker is sending them (a pending one may be leased: checked apart).
_UNSENT = (DeliveryStatus.PENDING.value, DeliveryStatus.PAUSED.value, DeliveryStatus.WAITING.value)
_SENDABLE = (DeliveryStatus.PENDING, DeliveryStatus.WAITING, DeliveryStatus.PAUSED)


async def supersede_older(
    tx: Transaction, batch: Sequence[Delivery], *, now: datetime
) -> list[str]:
    """After `batch` is inserted: the newest sendable delivery of each (webhook, coalesce
    key) in it supersedes that group's older unsent, unleased ones. Returns their ids."""
    newest = newest_of_each(
        ((d.webhook_id, d.coalesce_key), d.sequence)
        for d in batch
        if d.coalesce_key is not None and d.sequence is not None and d.status in _SENDABLE
    )
    if not newest:
        return []
    rows = [
        {"b_webhook_id": webhook_id, "b_key": key, "b_seq": sequence, "b_now": now}
        for (webhook_id, key), sequence in sorted(newest.items())
    ]
    return [delivery_id for (delivery_id,) in await tx.fetch_each(_SUPERSEDE_OLDER, rows)]


_SUPERSEDE_OLDER = Statement(  # once per (coalescing webhook, update key) per publish
    lambda _: (
        update(deliveries)
        .where(
            deliveries.c.webhook_id == bindparam("b_webhook_id"),
            deliveries.c.coalesce_key == bindparam("b_key", type_=String),
            deliveries.c.sequence < bindparam("b_seq"),
            or_(*(deliveries.c.status == literal(status) for status in _UNSENT)),
            deliveries.c.lease_token.is_(None),
        )
        .values(
            status=_SUPERSEDED,
            completed_at=bindparam("b_now", type_=Timestamp),
            next_attempt_at=bindparam("b_now", type_=Timestamp),
        )
        .returning(deliveries.c.id)
    )
)


async def supersede_retried(tx: Transaction, retried: Sequence[str], *, now: datetime) -> list[str]:
    """Of the deliveries just set to be retried, those with a newer delivery of their
    (webhook, coalesce key) give way to it: SUPERSEDED instead. Returns their ids."""
    if not retried:
        return []
    values = {"ids": list(retried), "b_now": now}
    return [delivery_id for (delivery_id,) in await tx.fetch_all(_SUPERSEDE_RETRIED, values)]


def _supersede_retried(database: str) -> ReturningUpdate[tuple[str]]:
    newer = deliveries.alias("newer")
    has_newer = exists(
        select(newer.c.id).where(
            and_(
                newer.c.webhook_id == deliveries.c.webhook_id,
                newer.c.coalesce_key == deliveries.c.coalesce_key,
                newer.c.sequence > deliveries.c.sequence,
            )
        )
    )
    return (
        update(deliveries)
        .where(
            in_list(database, column=deliveries.c.id),
            deliveries.c.coalesce_key.is_not(None),
            deliveries.c.status == _PENDING,
            deliveries.c.lease_token.is_(None),
            has_newer,
        )
        .values(status=_SUPERSEDED, completed_at=bindparam("b_now", type_=Timestamp))
        .returning(deliveries.c.id)
    )


_SUPERSEDE_RETRIED = Statement(_supersede_retried)  # each batch of results with retries
