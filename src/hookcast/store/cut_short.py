"""Walks a stopped process cut short (SQLite): the webhooks whose deliveries are not all in
the state their settings make (docs/delivery.md, "Large backlogs on SQLite").

SQLite makes every change over a webhook's backlog a stretch at a time (store/slices.py),
each write committed on its own, so a process killed mid-walk leaves part of it undone:
a resumed webhook with deliveries still paused (nothing claims a paused delivery: they
were never sent), a paused one with deliveries still pending (a claim parks each, but the
counts and `deliveries list --status` said otherwise until then), a webhook no longer
ordering its deliveries with chains and deliveries waiting in them, and deliveries a
recovery or a held release made waiting whose chains were not started yet. The start-up
sweep (sql_store.py `finish_walks`) finds them here and walks each again, as a save would.
Not read on PostgreSQL: there only a pause goes in stretches (store/pause_postgres.py), and
what one cut short leaves pending under a disabled webhook the claims park as they reach it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.store.chains import in_no_chain
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, delivery_chains, webhooks

__all__ = ["owing_walks"]


async def owing_walks(tx: Transaction) -> list[str]:
    """The ids of the webhooks a walk cut short left unfinished, in id order.

    Read outside the writer (a scan): an enabled webhook's paused deliveries have no index
    of their own, so each such webhook's deliveries are read through (webhook_id, created)
    until one is found paused, all of them when none is; the other conditions are read
    through partial indexes (pending, waiting) and the chains' key."""
    return [webhook_id for (webhook_id,) in await tx.fetch_all(_OWING)]


def _has(status: DeliveryStatus) -> ColumnElement[bool]:
    return exists().where(deliveries.c.webhook_id == webhooks.c.id, deliveries.c.status == status)


def _has_chains() -> ColumnElement[bool]:
    return exists().where(delivery_chains.c.webhook_id == webhooks.c.id)


def _waiting_unchained() -> ColumnElement[bool]:
    return exists().where(
        deliveries.c.webhook_id == webhooks.c.id,
        deliveries.c.status == DeliveryStatus.WAITING,
        in_no_chain(),
    )


_OWING = Statement(
    lambda _: (
        select(webhooks.c.id)
        .where(
            or_(
                and_(webhooks.c.enabled.is_(True), _has(DeliveryStatus.PAUSED)),
                and_(webhooks.c.enabled.is_(False), _has(DeliveryStatus.PENDING)),
                and_(webhooks.c.ordering == Ordering.NONE.value, _has_chains()),
                _waiting_unchained(),
            )
        )
        .order_by(webhooks.c.id)
    )
)
