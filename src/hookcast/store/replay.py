"""Replay: resend a webhook's finished deliveries of a time range (docs/delivery.md,
"Replay"), read first (`matching_ids`, `count_matching`: outside the writer), changed only
when no more than the caller's limit match, by the ids read.

Finished means succeeded, failed, discarded, superseded or expired. Unfinished ones
(pending, paused, waiting, held) are left as they are: they are on their way, or held for a
person to deliver. Replayed deliveries of an ordered webhook re-join their resources' chains,
lowest sequence first (store/chains.py), as recovered ones do; the others are due at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, literal, or_, select, update

from hookcast.domain.models import FINISHED_STATUSES, DeliveryStatus
from hookcast.ports import ReplayQuery
from hookcast.store.chains import in_a_chain, lock_ordering, start_chains
from hookcast.store.connector import Transaction
from hookcast.store.events import has_resource_id
from hookcast.store.sql import count, in_list
from hookcast.store.tables import deliveries, events, webhooks

__all__ = ["FINISHED", "count_matching", "matching_ids", "replay"]

FINISHED = tuple(status.value for status in FINISHED_STATUSES)


async def matching_ids(tx: Transaction, query: ReplayQuery, *, limit: int) -> list[str]:
    """The ids of up to `limit` deliveries matching `query`."""
    where = _matching(query, database=tx.database)
    rows = await tx.fetch_all(select(deliveries.c.id).where(*where).limit(limit))
    return [delivery_id for (delivery_id,) in rows]


async def count_matching(tx: Transaction, query: ReplayQuery) -> int:
    """How many deliveries match `query`."""
    return await count(tx, deliveries, *_matching(query, database=tx.database))


async def replay(tx: Transaction, query: ReplayQuery, *, ids: Sequence[str], now: datetime) -> int:
    """Makes the deliveries `ids` (read as matching `query`) due again at `now`, those still
    finished (ordered ones: waiting their turn); how many. Only their ids are looked up: a
    delivery's webhook, time and event never change, and its range was read already."""
    where = [
        in_list(tx.database, column=deliveries.c.id),
        deliveries.c.account_id == query.account_id,
        or_(*(deliveries.c.status == status for status in FINISHED)),
    ]
    values = {"ids": list(ids)}
    # The webhook's row before its deliveries and chains, as a delete locks them (its
    # cascade follows the row's lock): a chain started below share-locks the row (its
    # foreign key), and taken then, it waited on a delete that waited on the deliveries
    # made due here (tests/contract/test_store_delivery_lock_order.py).
    await lock_ordering(tx, query.webhook_id)
    again = {
        "next_attempt_at": now,
        "completed_at": None,
        "lease_token": None,
        "lease_worker": None,
        "lease_losses": 0,
        "lost_lease": None,
    }
    replayed = await tx.execute(
        update(deliveries).where(*where, ~in_a_chain()).values(status=_sendable(), **again),
        values,
    )
    rejoined = await tx.fetch_all(
        update(deliveries)
        .where(*where, in_a_chain())
        .values(status=DeliveryStatus.WAITING.value, **again)
        .returning(deliveries.c.resource_key),
        values,
    )
    await start_chains(tx, {(query.webhook_id, key) for (key,) in rejoined})
    return replayed + len(rejoined)


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
