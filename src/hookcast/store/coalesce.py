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

from sqlalchemy import BigInteger, String, and_, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import ReturningUpdate

from hookcast.domain.freshness import newest_of_each
from hookcast.domain.models import Delivery, DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries
from hookcast.store.types import JsonText, Timestamp, to_micros

__all__ = ["supersede_older", "supersede_retried"]

_SUPERSEDED = DeliveryStatus.SUPERSEDED.value
_PENDING = DeliveryStatus.PENDING.value
_SENDABLE = (DeliveryStatus.PENDING, DeliveryStatus.WAITING, DeliveryStatus.PAUSED)


async def supersede_older(
    tx: Transaction, batch: Sequence[Delivery], *, now: datetime
) -> list[str]:
    """After `batch` is inserted: the newest sendable delivery of each (webhook, coalesce
    key) in it supersedes that group's older unsent, unleased ones. Returns their ids.

    One statement for every group of the publish (one per group took ~40% of a publish's
    throughput with ten media updated per publish)."""
    newest = newest_of_each(
        ((d.webhook_id, d.coalesce_key), d.sequence)
        for d in batch
        if d.coalesce_key is not None and d.sequence is not None and d.status in _SENDABLE
    )
    if not newest:
        return []
    groups = sorted(newest.items())
    values: dict[str, object] = {"b_now": to_micros(now)}
    if tx.database == "postgresql":
        values |= {
            "b_webhooks": [webhook_id for (webhook_id, _), _ in groups],
            "b_keys": [key for (_, key), _ in groups],
            "b_seqs": [sequence for _, sequence in groups],
        }
    else:
        values["b_rows"] = [[webhook_id, key, sequence] for (webhook_id, key), sequence in groups]
    return [delivery_id for (delivery_id,) in await tx.fetch_all(_SUPERSEDE_OLDER, values)]


# Unsent (pending, paused, waiting) and not leased; `sequence < n.s`: older than the group's
# newest. Timestamps are stored as microseconds (store/types.py).
_WHERE_OLDER = """
    deliveries.webhook_id = n.w AND deliveries.coalesce_key = n.k AND deliveries.sequence < n.s
    AND deliveries.status IN ('pending', 'paused', 'waiting') AND deliveries.lease_token IS NULL
"""
_PG_SUPERSEDE_OLDER = text(f"""
    UPDATE deliveries SET status = 'superseded', completed_at = :b_now, next_attempt_at = :b_now
    FROM unnest(:b_webhooks, :b_keys, :b_seqs) AS n(w, k, s)
    WHERE {_WHERE_OLDER}
    RETURNING deliveries.id
""").bindparams(  # noqa: S608 - constant text, values bound
    bindparam("b_webhooks", type_=ARRAY(String)),
    bindparam("b_keys", type_=ARRAY(String)),
    bindparam("b_seqs", type_=ARRAY(BigInteger)),
    bindparam("b_now", type_=BigInteger),
)
_SQLITE_SUPERSEDE_OLDER = text(f"""
    UPDATE deliveries SET status = 'superseded', completed_at = :b_now, next_attempt_at = :b_now
    FROM (SELECT value ->> 0 AS w, value ->> 1 AS k, value ->> 2 AS s FROM json_each(:b_rows)) AS n
    WHERE {_WHERE_OLDER}
    RETURNING deliveries.id
""").bindparams(  # noqa: S608 - constant text, values bound
    bindparam("b_rows", type_=JsonText), bindparam("b_now", type_=BigInteger)
)
_SUPERSEDE_OLDER = Statement(  # once per publish with coalescing deliveries
    lambda database: _PG_SUPERSEDE_OLDER if database == "postgresql" else _SQLITE_SUPERSEDE_OLDER
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
