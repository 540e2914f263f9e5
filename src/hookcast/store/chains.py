"""Ordered delivery in SQL: delivery_chains rows and WAITING deliveries follow the rules of
domain/ordering.py.

A chain row exists for each (ordered webhook, resource) with an unfinished delivery; its
`head_id` is the one delivery of them that is PENDING (or PAUSED), the rest are WAITING.
Every decision about a chain takes its row lock first (the publish's upsert, the
completion's SELECT ... FOR UPDATE), so on PostgreSQL a publish that adds to a chain and
the completion that would end it are serialized: either the publish sees the chain and its
deliveries wait (the completion, running after it, then sees them), or it sees none and its
first delivery goes. Locks are taken in (webhook_id, resource_key) order: no deadlocks.
SQLite has one writer, which serializes them already.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    case,
    delete,
    exists,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert, Update

from hookcast.domain.models import FINISHED_STATUSES, Delivery, DeliveryStatus, Ordering
from hookcast.domain.ordering import admit
from hookcast.store.connector import Transaction
from hookcast.store.sql import in_list, written_status
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, delivery_chains, webhooks
from hookcast.store.types import JsonText, Timestamp
from hookcast.store.webhook_walk import IN_STRETCH

__all__ = [
    "ChainKey",
    "admit_deliveries",
    "advance_chains",
    "end_chains",
    "end_some_chains",
    "has_chains",
    "in_a_chain",
    "in_no_chain",
    "lock_ordering",
    "rejoining",
    "release_waiting",
    "start_chains",
    "start_unchained",
    "unordered",
]

ChainKey = tuple[str, str]  # (webhook_id, resource_key)

_WAITING = DeliveryStatus.WAITING.value
_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value
# Final: sent, given up, or not worth sending any more (domain/freshness.py). A held
# delivery joins no chain until it is delivered, so a head is never DISCARDED.
_FINISHED = tuple(status.value for status in FINISHED_STATUSES)


async def admit_deliveries(tx: Transaction, batch: Sequence[Delivery]) -> list[Delivery]:
    """`batch` as it must be stored: an ordered delivery (one with a resource key that
    fan-out made PENDING) goes now only if it is the lowest-sequence one of its chain and
    the chain had no unfinished delivery; the others are made WAITING."""
    chains: defaultdict[ChainKey, list[Delivery]] = defaultdict(list)
    for delivery in batch:
        if delivery.resource_key is not None and delivery.status is DeliveryStatus.PENDING:
            chains[(delivery.webhook_id, delivery.resource_key)].append(delivery)
    if not chains:
        return list(batch)
    keys = sorted(chains)
    candidates = [min(chains[key], key=_order).id for key in keys]
    heads = await _join(tx, keys, candidates)
    statuses: dict[str, DeliveryStatus] = {}
    for key in keys:
        members = chains[key]
        busy = not any(member.id in heads for member in members)
        for member, status in zip(members, _admit(members, busy=busy), strict=True):
            statuses[member.id] = status
    return [replace(d, status=statuses[d.id]) if d.id in statuses else d for d in batch]


def _order(delivery: Delivery) -> tuple[int, str]:
    return (delivery.sequence or 0, delivery.id)


def _admit(members: list[Delivery], *, busy: bool) -> list[DeliveryStatus]:
    return admit([member.sequence or 0 for member in members], chain_busy=busy)


async def _join(tx: Transaction, keys: list[ChainKey], candidates: list[str]) -> set[str]:
    """Creates each chain of `keys` with its candidate as head, or leaves an existing one as
    it is, but locked (in key order): the heads, one statement for every chain."""
    if tx.database == "postgresql":
        values: dict[str, object] = {
            "b_webhooks": [webhook_id for webhook_id, _ in keys],
            "b_keys": [key for _, key in keys],
            "b_heads": candidates,
        }
    else:
        values = {"b_rows": [[w, r, h] for (w, r), h in zip(keys, candidates, strict=True)]}
    return {head for (head,) in await tx.fetch_all(_JOIN, values)}


_PG_JOIN = text("""
    INSERT INTO delivery_chains (webhook_id, resource_key, head_id)
    SELECT w, r, h FROM unnest(:b_webhooks, :b_keys, :b_heads) AS c(w, r, h) ORDER BY w, r
    ON CONFLICT (webhook_id, resource_key) DO UPDATE SET head_id = delivery_chains.head_id
    RETURNING head_id
""").bindparams(
    bindparam("b_webhooks", type_=ARRAY(String)),
    bindparam("b_keys", type_=ARRAY(String)),
    bindparam("b_heads", type_=ARRAY(String)),
)
# "WHERE true": SQLite's parser would otherwise read ON CONFLICT as part of the SELECT's join.
_SQLITE_JOIN = text("""
    INSERT INTO delivery_chains (webhook_id, resource_key, head_id)
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(:b_rows) WHERE true
    ORDER BY 1, 2
    ON CONFLICT (webhook_id, resource_key) DO UPDATE SET head_id = delivery_chains.head_id
    RETURNING head_id
""").bindparams(bindparam("b_rows", type_=JsonText))
_JOIN = Statement(  # once per publish transaction with ordered deliveries
    lambda database: _PG_JOIN if database == "postgresql" else _SQLITE_JOIN
)


def rejoining(
    where: Callable[[str], Sequence[ColumnElement[bool] | TextClause]],
    *,
    ordered: bool,
    values: Mapping[str, Any],
) -> Statement:
    """An UPDATE of the deliveries `where` finds (given the database) back into sending:
    those that go on their own (`ordered` False), or those that re-join a chain
    (`in_a_chain`), their resource keys returned for `start_chains` (a held release, a
    recovery)."""
    chained = in_a_chain()

    def build(database: str) -> Update:
        statement = (
            update(deliveries).where(*where(database), chained if ordered else ~chained)
        ).values(values)
        return statement.returning(deliveries.c.resource_key) if ordered else statement

    return Statement(build)


async def lock_ordering(tx: Transaction, webhook_id: str) -> None:
    """Locks the webhook's row FOR KEY SHARE (PostgreSQL) before a recovery, replay or
    manual retry reads whether its deliveries re-join chains (`in_a_chain`). A save that
    leaves the webhook unordered takes FOR UPDATE first (store/webhooks.py
    `update_webhook`), which conflicts with it: the save waits for this transaction, whose
    chains it then ends, or this one waits for the save and reads its ordering as saved
    (tests/contract/test_store_ordering_off_race.py). Not FOR SHARE: that conflicts with the
    FOR NO KEY UPDATE every worker's recording takes on the webhooks of its batch, so one
    account's recovery of 20,000 deliveries held another account's results, recorded in the
    same batch, 2.2 s (0.25 s with KEY SHARE; review 18). Taken first, as every writer takes
    the webhook's row (docs/delivery.md, "Lock order (PostgreSQL)"); nothing on SQLite,
    whose writer is one."""
    if tx.database == "postgresql":
        await tx.fetch_one(_LOCK_ORDERING, {"b_webhook_id": webhook_id})


_LOCK_ORDERING = Statement(
    lambda _: (
        select(webhooks.c.id)
        .where(webhooks.c.id == bindparam("b_webhook_id"))
        .with_for_update(read=True, key_share=True)
    )
)


def in_a_chain() -> ColumnElement[bool]:
    """Whether a delivery made due again (released, recovered, retried, replayed) joins its
    resource's chain: it has a resource (its webhook ordered deliveries when it was made)
    and its webhook orders them now. With ordering turned off since, it is due on its own:
    re-joined, it started a chain that nothing would end, and waited behind it."""
    ordering = select(webhooks.c.ordering).where(webhooks.c.id == deliveries.c.webhook_id)
    return and_(
        deliveries.c.resource_key.is_not(None),
        ordering.scalar_subquery() != Ordering.NONE.value,
    )


async def start_chains(tx: Transaction, keys: Collection[ChainKey]) -> int:
    """For deliveries just made WAITING outside a publish (released held ones, manual
    retries, recoveries), due when they were set to be: each chain of `keys` that has no
    unfinished head gets its lowest-sequence waiting delivery as head. Returns how many
    were made due."""
    if not keys:
        return 0
    rows = [{"b_webhook_id": w, "b_key": r} for w, r in sorted(keys)]
    heads = [head for (head,) in await tx.fetch_each(_START, rows) if head is not None]
    made_due = await _promote(tx, heads, statement=_PROMOTE_AS_SET)
    await tx.execute(_DELETE_HEADLESS)
    return made_due


def _next_waiting(
    webhook_id: ColumnElement[str], resource_key: ColumnElement[str]
) -> ScalarSelect[str]:
    """The id of the chain's lowest-sequence waiting delivery (NULL if none)."""
    return (
        select(deliveries.c.id)
        .where(
            deliveries.c.webhook_id == webhook_id,
            deliveries.c.resource_key == resource_key,
            deliveries.c.status == _WAITING,
        )
        .order_by(deliveries.c.sequence, deliveries.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _start(database: str) -> Insert:
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    webhook_id = bindparam("b_webhook_id", type_=String)
    key = bindparam("b_key", type_=String)
    statement = insert(delivery_chains).from_select(
        ["webhook_id", "resource_key", "head_id"],
        select(webhook_id, key, _next_waiting(webhook_id, key)),
    )
    return statement.on_conflict_do_update(
        index_elements=["webhook_id", "resource_key"],
        set_={"head_id": delivery_chains.c.head_id},
    ).returning(delivery_chains.c.head_id)


_START = Statement(_start)


async def advance_chains(tx: Transaction, finished: Sequence[str], *, now: datetime) -> int:
    """The deliveries `finished` are done (succeeded or failed for good): each that heads a
    chain hands it to the chain's next waiting delivery, due at `now`, or ends it. A
    delivery that is not a head, or is not finished after all (a stale result dropped for
    its lost lease), changes nothing. Returns how many deliveries were made due."""
    if not finished:
        return 0
    ids = list(finished)
    if tx.database == "postgresql":
        # Lock the chains first, in key order (a publish's upsert takes them in that order
        # too); SQLite's single writer needs no lock, and _ADVANCE checks the heads itself.
        ids = [head for (head,) in await tx.fetch_all(_LOCK_HEADED, {"ids": ids})]
        if not ids:
            return 0
    heads = [head for (head,) in await tx.fetch_all(_ADVANCE, {"ids": ids})]
    made_due = await _promote(
        tx, [head for head in heads if head is not None], statement=_PROMOTE, now=now
    )
    if None in heads:  # chains that ended
        await tx.execute(_DELETE_HEADLESS)
    return made_due


def _head_finished() -> ColumnElement[bool]:
    """The chain's head succeeded or failed for good: a stale result (its lease lost and
    re-claimed) left the delivery unfinished and must not move the chain."""
    head = deliveries.alias("head")
    head_status = select(head.c.status).where(head.c.id == delivery_chains.c.head_id)
    return or_(*(head_status.scalar_subquery() == status for status in _FINISHED))


def _lock_headed(database: str) -> Select[tuple[str]]:
    return (
        select(delivery_chains.c.head_id)
        .where(in_list(database, column=delivery_chains.c.head_id), _head_finished())
        .order_by(delivery_chains.c.webhook_id, delivery_chains.c.resource_key)
        .with_for_update(of=delivery_chains)
    )


_LOCK_HEADED = Statement(_lock_headed)  # every batch of results, on PostgreSQL


_ADVANCE = Statement(
    lambda database: (
        update(delivery_chains)
        .where(in_list(database, column=delivery_chains.c.head_id), _head_finished())
        .values(head_id=_next_waiting(delivery_chains.c.webhook_id, delivery_chains.c.resource_key))
        .returning(delivery_chains.c.head_id)
    )
)
_DELETE_HEADLESS = Statement(
    lambda _: delete(delivery_chains).where(delivery_chains.c.head_id.is_(None))
)


async def _promote(
    tx: Transaction, heads: list[str], *, statement: Statement, now: datetime | None = None
) -> int:
    """Makes the waiting `heads` sendable (PAUSED if their webhook is disabled)."""
    if not heads:
        return 0
    return await tx.execute(statement, {"ids": heads, "b_now": now})


def _sendable() -> ColumnElement[str]:
    enabled = (
        select(webhooks.c.enabled).where(webhooks.c.id == deliveries.c.webhook_id)
    ).scalar_subquery()
    return case((enabled.is_(True), literal(_PENDING)), else_=literal(_PAUSED))


_PROMOTE = Statement(
    lambda database: (
        update(deliveries)
        .where(in_list(database, column=deliveries.c.id), deliveries.c.status == _WAITING)
        .values(status=_sendable(), next_attempt_at=bindparam("b_now", type_=Timestamp))
    )
)
_PROMOTE_AS_SET = Statement(  # due when the delivery's next_attempt_at says
    lambda database: (
        update(deliveries)
        .where(in_list(database, column=deliveries.c.id), deliveries.c.status == _WAITING)
        .values(status=_sendable())
    )
)


async def end_chains(tx: Transaction, webhook_id: str, *, now: datetime) -> int:
    """The webhook no longer orders its deliveries: its waiting ones are made due at `now`
    and its chains forgotten. Returns how many were made due."""
    values = {"b_webhook_id": webhook_id, "b_now": now}
    if tx.database == "postgresql":
        # The chains before their waiting deliveries, as a completion takes them (the chain,
        # then the delivery it hands on to): taken after, a recording concluding a head
        # held its chain and waited for the next delivery, which this held while it waited
        # for the chain (tests/contract/test_store_delivery_lock_order.py).
        await tx.fetch_all(_LOCK_CHAINS, values)
    made_due = await tx.execute(_RELEASE_WAITING, values)
    await tx.execute(_END, values)
    return made_due


_LOCK_CHAINS = Statement(
    lambda _: (
        select(delivery_chains.c.resource_key)
        .where(delivery_chains.c.webhook_id == bindparam("b_webhook_id"))
        .order_by(delivery_chains.c.resource_key)
        .with_for_update()
    )
)


def _release(*where: ColumnElement[bool] | TextClause) -> Update:
    """The waiting deliveries `where` finds made due at `b_now` (PAUSED if their webhook is
    disabled): ordering turned off, all at once or a stretch or some chains at a time."""
    return (
        update(deliveries)
        .where(*where, deliveries.c.status == _WAITING)
        .values(status=_sendable(), next_attempt_at=bindparam("b_now", type_=Timestamp))
    )


_THIS_WEBHOOKS_CHAINS = delivery_chains.c.webhook_id == bindparam("b_webhook_id")
_RELEASE_WAITING = Statement(
    lambda _: _release(deliveries.c.webhook_id == bindparam("b_webhook_id"))
)
_END = Statement(lambda _: delete(delivery_chains).where(_THIS_WEBHOOKS_CHAINS))


# SQLite: ordering turned off a stretch of the webhook's deliveries at a time
# (store/sql_store.py `_end_chains_in_slices`), the loop running between writes.


async def has_chains(tx: Transaction, webhook_id: str) -> bool:
    """Whether the webhook has a chain: a delivery waits only behind a chain's head, so one
    without has nothing to release (a save's usual case: one index lookup)."""
    return await tx.fetch_one(_HAS_CHAINS, {"b_webhook_id": webhook_id}) is not None


async def release_waiting(
    tx: Transaction, rowids: str, *, webhook_id: str, now: datetime
) -> int | None:
    """A stretch of the webhook's deliveries (store/webhook_walk.py `Move`): its waiting ones
    made due at `now` (PAUSED if the webhook is disabled), as `end_chains` does them all,
    while the webhook still does not order its deliveries (else None: the walk stops, the
    chains stay and those left waiting go in their turn). How many."""
    if not await unordered(tx, webhook_id):
        return None
    return await tx.execute(_RELEASE_STRETCH, {"b_rowids": rowids, "b_now": now})


async def end_some_chains(
    tx: Transaction, webhook_id: str, *, now: datetime, limit: int
) -> tuple[int, bool]:
    """Ends up to `limit` of the webhook's chains, after the walk of `release_waiting`,
    while it still does not order its deliveries: those waiting in them made due at `now`
    (PAUSED if it is disabled) and the chains deleted. How many were made due, and whether
    some chains may be left.

    A chain may have a waiting delivery again though the walk has passed: between writes, a
    recovery or a held release re-joins a delivery of a resource to its chain (`rejoining`),
    behind the chain's head. Deleted alone, the chain left it waiting for a head that would
    never hand on to it."""
    if not await unordered(tx, webhook_id):
        return 0, False
    values: dict[str, Any] = {"b_webhook_id": webhook_id, "b_limit": limit}
    keys = [key for (key,) in await tx.fetch_all(_SOME_CHAINS, values)]
    if not keys:
        return 0, False
    values = {"b_webhook_id": webhook_id, "keys": keys, "b_now": now}
    made_due = await tx.execute(_RELEASE_CHAINED, values)
    await tx.execute(_END_CHAINED, values)
    return made_due, len(keys) >= limit


async def unordered(tx: Transaction, webhook_id: str) -> bool:
    """Whether the webhook (still there) does not order its deliveries."""
    row = await tx.fetch_one(_ORDERING, {"b_webhook_id": webhook_id})
    return row is not None and row[0] == _UNORDERED


_UNORDERED = Ordering.NONE.value
_HAS_CHAINS = Statement(
    lambda _: select(delivery_chains.c.head_id).where(_THIS_WEBHOOKS_CHAINS).limit(1)
)
_ORDERING = Statement(
    lambda _: select(webhooks.c.ordering).where(webhooks.c.id == bindparam("b_webhook_id"))
)
_RELEASE_STRETCH = Statement(lambda _: _release(IN_STRETCH))
_SOME_CHAINS = Statement(
    lambda _: (
        select(delivery_chains.c.resource_key)
        .where(_THIS_WEBHOOKS_CHAINS)
        .limit(bindparam("b_limit", type_=Integer))
    )
)
_RELEASE_CHAINED = Statement(  # through ix_deliveries_waiting
    lambda database: _release(
        deliveries.c.webhook_id == bindparam("b_webhook_id"),
        in_list(database, column=deliveries.c.resource_key, name="keys"),
    )
)
_END_CHAINED = Statement(
    lambda database: delete(delivery_chains).where(
        _THIS_WEBHOOKS_CHAINS,
        in_list(database, column=delivery_chains.c.resource_key, name="keys"),
    )
)


async def start_unchained(
    tx: Transaction, webhook_id: str, *, now: datetime, limit: int
) -> tuple[int, bool]:
    """Starts up to `limit` chains of the webhook's waiting deliveries that have none, each
    with its lowest sequence (`start_chains`); with ordering turned off meanwhile, makes
    them due at `now` instead. How many were made due, and whether some may be left.

    SQLite's walks (a recovery, a held release) make a resource's deliveries waiting a
    stretch at a time, in creation order, which is not sequence order when a publisher's
    clock stepped back: a chain started by the stretch that met its resource first began
    with whichever delivery it walked first, and a lower sequence walked later waited
    behind it. They start the chains once the walk is over, with this; and the start-up
    sweep runs it for a walk cut short (store/cut_short.py)."""
    values: dict[str, Any] = {"b_webhook_id": webhook_id, "b_limit": limit}
    keys = [key for (key,) in await tx.fetch_all(_UNCHAINED, values)]
    if not keys:
        return 0, False
    if await unordered(tx, webhook_id):
        values = {"b_webhook_id": webhook_id, "keys": keys, "b_now": now}
        made_due = await tx.execute(_RELEASE_CHAINED, values)
    else:
        made_due = await start_chains(tx, {(webhook_id, key) for key in keys})
    return made_due, len(keys) >= limit


def in_no_chain() -> ColumnElement[bool]:
    """Whether a (waiting) delivery's resource has no chain under its webhook."""
    return ~exists().where(
        delivery_chains.c.webhook_id == deliveries.c.webhook_id,
        delivery_chains.c.resource_key == deliveries.c.resource_key,
    )


# The status written in (store/sql.py `written_status`): bound, SQLite took the waiting
# index only by preparing the statement again after each bind, 190-213 us a run against
# 30-36 us (tests/contract/test_store_walks_cut_short.py).
_UNCHAINED = Statement(
    lambda _: (
        select(deliveries.c.resource_key)
        .where(
            deliveries.c.webhook_id == bindparam("b_webhook_id"),
            deliveries.c.status == written_status(DeliveryStatus.WAITING),
            in_no_chain(),
        )
        .distinct()
        .limit(bindparam("b_limit", type_=Integer))
    )
)
