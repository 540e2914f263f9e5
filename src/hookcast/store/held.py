"""Held deliveries: those created while their webhook was disabled (DeliveryStatus.HELD).

They are never claimed (claims take pending rows only). A person releases them, as pending
and due in publish order, or discards them; until then the webhook shows how many there are.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from hookcast.domain.models import DeliveryStatus
from hookcast.store.chains import start_chains
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, webhooks
from hookcast.store.types import Timestamp

__all__ = ["count_held", "deliver_held", "discard_held"]

_HELD = DeliveryStatus.HELD.value


async def count_held(tx: Transaction, webhook_ids: Collection[str]) -> dict[str, int]:
    """Held deliveries by webhook id (webhooks with none are left out)."""
    if not webhook_ids:
        return {}
    rows = await tx.fetch_all(_COUNT, {"ids": list(webhook_ids)})
    return {webhook_id: int(held) for webhook_id, held in rows}


async def deliver_held(tx: Transaction, *, account_id: str, webhook_id: str) -> int:
    """Makes the webhook's held deliveries pending, each due at its own creation time, so
    claims (oldest due first) take them in publish order. Those of an ordered webhook join
    their resources' chains instead (WAITING, sequence order; a chain with no unfinished
    delivery starts with its lowest). Only while the webhook is enabled: if
    it was disabled meanwhile they stay held. Returns how many."""
    values = {"b_account_id": account_id, "b_webhook_id": webhook_id}
    released = await tx.execute(_DELIVER, values)
    joined = await tx.fetch_all(_JOIN_CHAINS, values)
    await start_chains(tx, {(webhook_id, key) for (key,) in joined})
    return released + len(joined)


async def discard_held(tx: Transaction, *, account_id: str, webhook_id: str, now: datetime) -> int:
    """Marks the webhook's held deliveries discarded (final, completed at `now`)."""
    values = {"b_account_id": account_id, "b_webhook_id": webhook_id, "b_now": now}
    return await tx.execute(_DISCARD, values)


_COUNT = Statement(
    lambda database: (
        select(deliveries.c.webhook_id, func.count())
        .where(in_list(database, column=deliveries.c.webhook_id), deliveries.c.status == _HELD)
        .group_by(deliveries.c.webhook_id)
    )
)
_THIS_WEBHOOKS_HELD = (
    deliveries.c.account_id == bindparam("b_account_id"),
    deliveries.c.webhook_id == bindparam("b_webhook_id"),
    deliveries.c.status == _HELD,
)
_ENABLED = (
    select(webhooks.c.enabled).where(webhooks.c.id == deliveries.c.webhook_id).scalar_subquery()
)
_DELIVER = Statement(
    lambda _: (
        update(deliveries)
        .where(*_THIS_WEBHOOKS_HELD, _ENABLED.is_(True), deliveries.c.resource_key.is_(None))
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=deliveries.c.created)
    )
)
_JOIN_CHAINS = Statement(
    lambda _: (
        update(deliveries)
        .where(*_THIS_WEBHOOKS_HELD, _ENABLED.is_(True), deliveries.c.resource_key.is_not(None))
        .values(status=DeliveryStatus.WAITING.value, next_attempt_at=deliveries.c.created)
        .returning(deliveries.c.resource_key)
    )
)
_DISCARD = Statement(
    lambda _: (
        update(deliveries)
        .where(*_THIS_WEBHOOKS_HELD)
        .values(
            status=DeliveryStatus.DISCARDED.value,
            completed_at=bindparam("b_now", type_=Timestamp),
        )
    )
)
