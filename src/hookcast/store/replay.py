"""Replay: resend a webhook's finished deliveries of a time range (docs/delivery.md,
"Replay"), counted first, changed only when no more than the caller's limit match.

Finished means succeeded, failed, discarded, superseded or expired. Unfinished ones
(pending, paused, waiting, held) are left as they are: they are on their way, or held for a
person to deliver. Replayed deliveries of an ordered webhook re-join their resources' chains,
lowest sequence first (store/chains.py), as recovered ones do; the others are due at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, literal, or_, select, update

from hookcast.domain.models import FINISHED_STATUSES, DeliveryStatus
from hookcast.ports import ReplayQuery
from hookcast.store.chains import start_chains
from hookcast.store.connector import Transaction
from hookcast.store.events import has_resource_id
from hookcast.store.sql import count
from hookcast.store.tables import deliveries, events, webhooks
from hookcast.store.webhooks import lock_webhooks

__all__ = ["FINISHED", "replay"]

FINISHED = tuple(status.value for status in FINISHED_STATUSES)


async def replay(
    tx: Transaction, query: ReplayQuery, *, now: datetime, limit: int, dry_run: bool
) -> int:
    """How many deliveries match `query`. Unless `dry_run`, or more than `limit` match, they
    are also made due again at `now` (ordered ones: waiting their turn)."""
    where = _matching(query, database=tx.database)
    matched = await count(tx, deliveries, *where)
    if dry_run or not matched or matched > limit:
        return matched
    # The webhook's row before its deliveries and chains, as a delete locks them (its
    # cascade follows the row's lock): a chain started below share-locks the row (its
    # foreign key), and taken then, it waited on a delete that waited on the deliveries
    # made due here (tests/contract/test_store_delivery_lock_order.py).
    await lock_webhooks(tx, {query.webhook_id})
    again = {
        "next_attempt_at": now,
        "completed_at": None,
        "lease_token": None,
        "lease_worker": None,
        "lease_losses": 0,
        "lost_lease": None,
    }
    await tx.execute(
        update(deliveries)
        .where(*where, deliveries.c.resource_key.is_(None))
        .values(status=_sendable(), **again)
    )
    rejoined = await tx.fetch_all(
        update(deliveries)
        .where(*where, deliveries.c.resource_key.is_not(None))
        .values(status=DeliveryStatus.WAITING.value, **again)
        .returning(deliveries.c.resource_key)
    )
    await start_chains(tx, {(query.webhook_id, key) for (key,) in rejoined})
    return matched


def _matching(query: ReplayQuery, *, database: str) -> list[ColumnElement[bool]]:
    where = [
        deliveries.c.account_id == query.account_id,
        deliveries.c.webhook_id == query.webhook_id,
        deliveries.c.created >= query.since,
        or_(*(deliveries.c.status == status for status in FINISHED)),
    ]
    if query.until is not None:
        where.append(deliveries.c.created < query.until)
    about: list[ColumnElement[bool]] = []
    if query.event_types:
        about.append(or_(*(events.c.type == name for name in query.event_types)))
    if query.resource_id is not None:
        about.append(has_resource_id(query.resource_id, database=database))
    if about:
        where.append(
            exists(
                select(events.c.id).where(
                    events.c.account_id == deliveries.c.account_id,
                    events.c.id == deliveries.c.event_id,
                    *about,
                )
            )
        )
    return where


def _sendable() -> ColumnElement[str]:
    enabled = (
        select(webhooks.c.enabled).where(webhooks.c.id == deliveries.c.webhook_id)
    ).scalar_subquery()
    return case(
        (enabled.is_(True), literal(DeliveryStatus.PENDING.value)),
        else_=literal(DeliveryStatus.PAUSED.value),
    )
