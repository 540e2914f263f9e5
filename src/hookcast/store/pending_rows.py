"""The pending deliveries as a query reads them: through the due indexes of each database.

SQLite keeps partial indexes on deliveries' pending rows: a pending delivery is a row of
deliveries whose status is pending. PostgreSQL keeps those indexes on pending_deliveries,
one narrow row per pending delivery (migration 0020), so that a delivery's change of
status moves no index entry of deliveries and its completion is a HOT update: a pending
delivery is a row of pending_deliveries joined to its delivery by primary key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, Select, and_, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from hookcast.domain.models import DeliveryStatus
from hookcast.store.tables import deliveries, pending_deliveries

__all__ = ["PendingRows", "count_pending"]


class PendingRows:
    """The pending deliveries, as `name` (an alias of deliveries): select from `source`
    where `pending`; `due` and `account` are the columns the due indexes hold.

    On PostgreSQL `delivery` is the row a claim tests for a lease and locks, and `pending`
    tests its status too: a delivery that finished after the reading transaction's
    snapshot still has its row in pending_deliveries there, and a locked row's tests are
    evaluated again on its newest version."""

    def __init__(self, database: str, name: str) -> None:
        self.delivery: NamedFromClause = deliveries.alias(name)
        self.pending: list[ColumnElement[bool]] = [
            self.delivery.c.status == DeliveryStatus.PENDING.value
        ]
        if database == "sqlite":
            self.source: FromClause = self.delivery
            self.due: ColumnElement[datetime] = self.delivery.c.next_attempt_at
            self.account: ColumnElement[Any] = self.delivery.c.account_id
            return
        listed = pending_deliveries.alias(f"{name}_pending")
        self.source = listed.join(
            self.delivery,
            and_(self.delivery.c.id == listed.c.id, self.delivery.c.created == listed.c.created),
        )
        self.due = listed.c.next_attempt_at
        self.account = listed.c.account_id


def count_pending(database: str) -> Select[Any]:
    """How many deliveries are pending: on PostgreSQL the rows of pending_deliveries alone
    (one per pending delivery, in the same snapshot)."""
    if database == "postgresql":
        return select(func.count()).select_from(pending_deliveries)
    return select(func.count()).where(deliveries.c.status == DeliveryStatus.PENDING.value)
