"""Delivery counts per webhook, hour and status: the figures behind health at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryCount
from hookcast.store.tables import deliveries
from hookcast.store.types import from_micros

__all__ = ["count_by_hour"]

_HOUR_MICROS = 3_600_000_000


async def count_by_hour(
    conn: AsyncConnection, account_id: str, webhook_ids: Sequence[str], since: datetime
) -> list[DeliveryCount]:
    if not webhook_ids:
        return []
    # Timestamps are integer microseconds, so integer division buckets them by UTC hour the
    # same way on SQLite and PostgreSQL. The divisor is a literal, not a bind parameter:
    # PostgreSQL only accepts the GROUP BY expression if it is textually the SELECT one.
    created = type_coerce(deliveries.c.created, BigInteger)
    hour = (created // literal_column(str(_HOUR_MICROS), BigInteger)).label("hour")
    query = (
        select(deliveries.c.webhook_id, hour, deliveries.c.status, func.count().label("n"))
        .where(
            deliveries.c.account_id == account_id,
            deliveries.c.webhook_id.in_(list(webhook_ids)),
            deliveries.c.created >= since,  # served by the (webhook_id, created) index
        )
        .group_by(deliveries.c.webhook_id, hour, deliveries.c.status)
    )
    return [
        DeliveryCount(
            webhook_id=row.webhook_id,
            hour=from_micros(int(row.hour) * _HOUR_MICROS),
            status=DeliveryStatus(row.status),
            count=int(row.n),
        )
        for row in await conn.execute(query)
    ]
