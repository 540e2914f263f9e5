"""Held deliveries: those created while their webhook was disabled (DeliveryStatus.HELD).

They are never claimed (claims take pending rows only). A person releases them, as pending
and due in publish order, or discards them; until then the webhook shows how many there are.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    bindparam,
    exists,
    func,
    select,
    update,
)

from hookcast.domain.models import DeliveryStatus
from hookcast.store.chains import rejoining, start_chains
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, webhooks
from hookcast.store.types import Timestamp, to_micros

__all__ = ["count_held", "deliver_held", "discard_held"]

_HELD = DeliveryStatus.HELD.value


async def count_held(tx: Transaction, webhook_ids: Collection[str]) -> dict[str, int]:
    """Held deliveries by webhook id (webhooks with none are left out)."""
    if not webhook_ids:
        return {}
    rows = await tx.fetch_all(_COUNT, {"ids": list(webhook_ids)})
    return {webhook_id: int(held) for webhook_id, held in rows}


async def deliver_held(
    tx: Transaction, *, account_id: str, webhook_id: str, limit: int | None = None
) -> int:
    """Makes the webhook's held deliveries pending, each due at its own creation time, so
    claims (oldest due first) take them in publish order. Those of an ordered webhook join
    their resources' chains instead (WAITING, sequence order; a chain with no unfinished
    delivery starts with its lowest). Only while the webhook is enabled: if
    it was disabled meanwhile they stay held. Returns how many.

    With a `limit`, the oldest `limit` of them only, and those published with the last
    (`_batch`). A batch is what the one statement does to its rows: a later one reads the
    webhook's state again (the SQLite store's batches, sql_store.py `_held_in_batches`).
    A batch leaves the ordered ones waiting with no chain started: batches go in creation
    order, not sequence order, and the release starts the chains once it is over."""
    mark = await _lock_mark(tx, webhook_id)
    values: dict[str, Any] = {"b_account_id": account_id, "b_webhook_id": webhook_id}
    if limit is None:
        released = await tx.execute(_DELIVER, values)
        joined = await tx.fetch_all(_JOIN_CHAINS, values)
    else:
        values["ids"] = await _batch(tx, values, limit=limit, until=_LAST)
        released = await tx.execute(_DELIVER_SOME, values)
        # Their chains are started once every batch is done (chains.py `start_unchained`).
        joined = await tx.fetch_all(_JOIN_CHAINS_SOME, values)
        await _run_ended(tx, webhook_id, mark)
        return released + len(joined)
    await start_chains(tx, {(webhook_id, key) for (key,) in joined})
    await _run_ended(tx, webhook_id, mark)
    return released + len(joined)


async def discard_held(
    tx: Transaction, *, account_id: str, webhook_id: str, now: datetime, limit: int | None = None
) -> int:
    """Marks the webhook's held deliveries discarded (final, completed at `now`); with a
    `limit`, as `deliver_held`, the oldest ones, published no later than `now` (those held
    after it began, by publishes to a webhook still disabled, do not keep it going)."""
    mark = await _lock_mark(tx, webhook_id)
    values: dict[str, Any] = {"b_account_id": account_id, "b_webhook_id": webhook_id}
    if limit is None:
        discarded = await tx.execute(_DISCARD, {**values, "b_now": now})
    else:
        ids = await _batch(tx, values, limit=limit, until=to_micros(now))
        discarded = await tx.execute(_DISCARD_SOME, {**values, "b_now": now, "ids": ids})
    await _run_ended(tx, webhook_id, mark)
    return discarded


async def _batch(tx: Transaction, values: dict[str, Any], *, limit: int, until: int) -> list[str]:
    """The ids of the webhook's oldest `limit` held deliveries created no later than `until`
    (microseconds), with every other one published with the last (same `created`: the
    events of one publish go together, and an ordered webhook's chains start with their
    lowest). Read through ix_deliveries_held,
    whose entries leave as the rows are moved: no batch reads the ones done before it."""
    rows = await tx.fetch_all(_BATCH, {**values, "b_limit": limit, "b_until": until})
    return [delivery_id for (delivery_id,) in rows]


async def _lock_mark(tx: Transaction, webhook_id: str) -> datetime | None:
    """The webhook's mark of a told run of held deliveries, its row locked (PostgreSQL: FOR
    NO KEY UPDATE, what clearing the mark takes) before any of its deliveries or chains:
    the order of every writer of those rows (docs/delivery.md, "Lock order (PostgreSQL)").
    Taken after them, the clearing's lock waited on a recording holding the webhook (its
    standing) and wanting the chain the release held, or on a delete holding the webhook
    and cascading to the deliveries the release held; each waited on the other
    (tests/contract/test_store_delivery_lock_order.py). Held first, it also orders the
    release with a pause (FOR UPDATE): the release reads the webhook's state as committed."""
    row = await tx.fetch_one(_MARK, {"b_id": webhook_id})
    return None if row is None else row[0]


async def _run_ended(tx: Transaction, webhook_id: str, mark: datetime | None) -> None:
    """Clears the mark of the webhook's told run of held deliveries (store/operational.py),
    as `_lock_mark` read it, if none is left held. A publish that held one meanwhile,
    unseen here, read the mark still set and told nothing: the next publish held for the
    webhook then tells the run. (A publish telling a run locks the webhook's row first, so
    it sets no mark while this transaction holds the row; SQLite's one writer excludes it.)"""
    if mark is not None:
        await tx.execute(_CLEAR_MARK, {"b_id": webhook_id, "b_seen": mark})


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
_LAST = 2**63 - 1  # microseconds: no bound on `created`


def _in_batch(database: str) -> ColumnElement[bool]:
    return in_list(database, column=deliveries.c.id)


def _release(*, ordered: bool, batch: bool) -> Statement:
    """Held deliveries made pending (unordered) or waiting in their chains (`ordered`,
    their resource keys returned), those of one batch's ids only if `batch`."""
    status = DeliveryStatus.WAITING if ordered else DeliveryStatus.PENDING
    return rejoining(
        lambda database: [
            *_THIS_WEBHOOKS_HELD,
            _ENABLED.is_(True),
            *([_in_batch(database)] if batch else []),
        ],
        ordered=ordered,
        values={"status": status.value, "next_attempt_at": deliveries.c.created},
    )


_DELIVER = _release(ordered=False, batch=False)
_DELIVER_SOME = _release(ordered=False, batch=True)
_JOIN_CHAINS = _release(ordered=True, batch=False)
_JOIN_CHAINS_SOME = _release(ordered=True, batch=True)
_UNTIL = bindparam("b_until", type_=BigInteger)
_NTH_CREATED = (
    select(deliveries.c.created)
    .where(*_THIS_WEBHOOKS_HELD, deliveries.c.created <= _UNTIL)
    .order_by(deliveries.c.created)
    .limit(1)
    .offset(bindparam("b_limit", type_=Integer) - 1)
    .scalar_subquery()
)
_BATCH = Statement(
    lambda _: select(deliveries.c.id).where(
        *_THIS_WEBHOOKS_HELD,
        deliveries.c.created <= _UNTIL,
        deliveries.c.created <= func.coalesce(_NTH_CREATED, _UNTIL),
    )
)
_MARK = Statement(
    lambda _: (
        select(webhooks.c.held_announced_at)
        .where(webhooks.c.id == bindparam("b_id"))
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE; nothing on SQLite
    )
)
_CLEAR_MARK = Statement(
    lambda _: (
        update(webhooks)
        .where(
            webhooks.c.id == bindparam("b_id"),
            webhooks.c.held_announced_at == bindparam("b_seen", type_=Timestamp),
            ~exists().where(deliveries.c.webhook_id == webhooks.c.id, deliveries.c.status == _HELD),
        )
        .values(held_announced_at=None)
    )
)


def _discard(*, batch: bool) -> Statement:
    return Statement(
        lambda database: (
            update(deliveries)
            .where(*_THIS_WEBHOOKS_HELD, *([_in_batch(database)] if batch else []))
            .values(
                status=DeliveryStatus.DISCARDED.value,
                completed_at=bindparam("b_now", type_=Timestamp),
            )
        )
    )


_DISCARD = _discard(batch=False)
_DISCARD_SOME = _discard(batch=True)
