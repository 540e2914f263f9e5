"""Delivery counts per webhook, hour and status, with the attempts they made: the figures
behind health at a glance. Attempts are read from each delivery's attempt count, so they
fall in the hour the delivery was created and need no read of the attempts table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, bindparam, func, literal_column, select, type_coerce

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryCount
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries
from hookcast.store.types import Timestamp, from_micros

__all__ = ["count_by_hour"]

_HOUR_MICROS = 3_600_000_000


async def count_by_hour(
    tx: Transaction, *, account_id: str, webhook_ids: Sequence[str], since: datetime
) -> list[DeliveryCount]:
    if not webhook_ids:
        return []
    values = {"account_id": account_id, "ids": list(webhook_ids), "b_since": since}
    return [
        DeliveryCount(
            webhook_id=webhook_id,
            hour=from_micros(int(hour) * _HOUR_MICROS),
            status=DeliveryStatus(status),
            count=int(number),
            attempts=int(tried or 0),
        )
        for webhook_id, hour, status, number, tried in await tx.fetch_all(_BY_HOUR, values)
    ]


def _by_hour(database: str) -> Select[Any]:
    # Timestamps are integer microseconds, so integer division buckets them by UTC hour the
    # same way on SQLite and PostgreSQL. The divisor is a literal, not a bind parameter:
    # PostgreSQL only accepts the GROUP BY expression if it is textually the SELECT one.
    created = type_coerce(deliveries.c.created, BigInteger)
    hour = (created // literal_column(str(_HOUR_MICROS), BigInteger)).label("hour")
    return (
        select(
            deliveries.c.webhook_id,
            hour,
            deliveries.c.status,
            func.count().label("n"),
            func.sum(deliveries.c.attempts).label("tried"),
        )
        .where(
            deliveries.c.account_id == bindparam("account_id"),
            in_list(database, column=deliveries.c.webhook_id),
            # served by the (webhook_id, created) index
            deliveries.c.created >= bindparam("b_since", type_=Timestamp),
        )
        .group_by(deliveries.c.webhook_id, hour, deliveries.c.status)
    )


_BY_HOUR = Statement(_by_hour)
