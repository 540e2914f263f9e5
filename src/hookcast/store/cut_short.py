"""Walks a stopped process cut short: the webhooks whose deliveries are not all in the state
their settings make (docs/delivery.md, "Large backlogs on SQLite").

SQLite makes every change over a webhook's backlog a stretch at a time (store/slices.py),
each write committed on its own, so a process killed mid-walk leaves part of it undone:
a resumed webhook with deliveries still paused (nothing claims a paused delivery: they
were never sent), a paused one with deliveries still pending (a claim parks each, but the
counts and `deliveries list --status` said otherwise until then), a webhook no longer
ordering its deliveries with chains and deliveries waiting in them, and deliveries a
recovery or a held release made waiting whose chains were not started yet. The start-up
sweep (sql_store.py `finish_walks`) finds them here and walks each again, as a save would.
On PostgreSQL only a pause goes in stretches (store/pause_postgres.py), the rest in one
transaction each: there the sweep finds the disabled webhooks with a pending delivery a
walk may pause (store/pausable.py: not a person's test or example), which a pause cut short
leaves (a retry due hours later stayed `pending` for hours, until
a claim parked it).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.store.chains import in_no_chain
from hookcast.store.connector import Transaction
from hookcast.store.pausable import walk_may_pause
from hookcast.store.sql import written_status
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, delivery_chains, webhooks

__all__ = ["owing_walks"]


async def owing_walks(tx: Transaction) -> list[str]:
    """The ids of the webhooks a walk cut short left unfinished, in id order: on SQLite of
    every kind above, on PostgreSQL the disabled webhooks with a pending delivery a walk
    may pause.

    Read outside the writer (a scan), each condition through a partial index: a webhook's
    paused deliveries (ix_deliveries_paused), its account's pending ones
    (ix_deliveries_account_due), its waiting ones (ix_deliveries_waiting), its chains' key;
    an enabled webhook's whole history is no longer read for the paused delivery it almost
    never has."""
    owing = _OWING if tx.database == "sqlite" else _PAUSES_OWING
    return [webhook_id for (webhook_id,) in await tx.fetch_all(owing)]


def _has(status: DeliveryStatus, *also: ColumnElement[bool]) -> ColumnElement[bool]:
    """The webhook has a delivery of `status` (and `also`), found through that status's
    partial index: the status written in (store/sql.py `written_status`), and the account
    given, which the pending index starts with."""
    return exists().where(
        deliveries.c.account_id == webhooks.c.account_id,
        deliveries.c.webhook_id == webhooks.c.id,
        deliveries.c.status == written_status(status),
        *also,
    )


def _has_chains() -> ColumnElement[bool]:
    return exists().where(delivery_chains.c.webhook_id == webhooks.c.id)


def _waiting_unchained() -> ColumnElement[bool]:
    # `resource_key IS NOT NULL`, true of every waiting delivery (it waits in its resource's
    # chain): without it SQLite, which keeps no statistics here, took (webhook_id, created)
    # over ix_deliveries_waiting and read each webhook's whole history.
    return exists().where(
        deliveries.c.webhook_id == webhooks.c.id,
        deliveries.c.status == written_status(DeliveryStatus.WAITING),
        deliveries.c.resource_key.is_not(None),
        in_no_chain(),
    )


# A person's test or example pending under a disabled webhook is owed no walk: it is sent
# (store/pausable.py). Counted, such a test was paused at the next worker's start.
_PAUSE_OWING = and_(webhooks.c.enabled.is_(False), _has(DeliveryStatus.PENDING, walk_may_pause()))
_OWING = Statement(
    lambda _: (
        select(webhooks.c.id)
        .where(
            or_(
                and_(webhooks.c.enabled.is_(True), _has(DeliveryStatus.PAUSED)),
                _PAUSE_OWING,
                and_(webhooks.c.ordering == Ordering.NONE.value, _has_chains()),
                _waiting_unchained(),
            )
        )
        .order_by(webhooks.c.id)
    )
)
_PAUSES_OWING = Statement(
    lambda _: select(webhooks.c.id).where(_PAUSE_OWING).order_by(webhooks.c.id)
)
