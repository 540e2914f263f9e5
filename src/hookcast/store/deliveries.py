"""Deliveries and attempts: fan-out inserts, claims under lease, results, manual retries."""

from __future__ import annotations

import functools
import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.dml import Update

from hookcast.domain.ids import new_resource_id
from hookcast.domain.leases import MAX_LEASE_LOSSES, lost_attempt
from hookcast.domain.models import Attempt, Delivery, DeliveryStatus, Event
from hookcast.ports import DeliveryQuery, DeliveryRecord, DeliveryResult, Page, StoredRow
from hookcast.store.chains import (
    admit_deliveries,
    advance_chains,
    in_a_chain,
    lock_ordering,
    rejoining,
    start_chains,
)
from hookcast.store.claimed_webhooks import STANDING_COLUMNS
from hookcast.store.coalesce import supersede_older, supersede_retried
from hookcast.store.connector import Row, Transaction
from hookcast.store.due import next_due_at
from hookcast.store.events import EventKey, has_resource_id, load_events
from hookcast.store.fair_claim import (
    ClaimDays,
    due_oldest,
    fair_due,
    of_days,
    others_due,
)
from hookcast.store.horizon import KnownHorizon, pending_since
from hookcast.store.pausable import walk_may_pause
from hookcast.store.record_batch import record_on_postgres, release_on_postgres
from hookcast.store.record_sqlite import record_on_sqlite, release_on_sqlite
from hookcast.store.rows import (
    attempt_from_row,
    attempt_values,
    delivery_from_row,
    delivery_values,
    event_from_row,
)
from hookcast.store.sql import count, in_list, insert_ignoring, lock_in_order, paginate
from hookcast.store.statement import Query, Statement
from hookcast.store.tables import (
    ATTEMPT_COLUMNS,
    accounts,
    attempts,
    deliveries,
    delivery_chains,
    delivery_horizon,
    events,
    webhooks,
    written_columns,
)
from hookcast.store.types import Timestamp, from_micros, to_micros
from hookcast.store.unnest import unnest_insert, unnest_values
from hookcast.store.webhook_walk import IN_STRETCH
from hookcast.store.webhooks import lock_webhooks, retried_now
from hookcast.store.workers import register_claimer

# Selects the rows a claim leases (store/fair_claim.py), for a database and, on PostgreSQL,
# the days it reads.
_Chooser = Callable[[str, ClaimDays | None], Select[Any]]

__all__ = [
    "ATTEMPTS_OF",
    "claim_due",
    "disown_losses",
    "fail_lost",
    "get_delivery",
    "insert_deliveries",
    "list_deliveries",
    "next_due_at",
    "pause_made",
    "record_attempts",
    "recover_failed",
    "release_leases",
    "reschedule",
]

_PENDING = DeliveryStatus.PENDING.value
_MADE_PENDING = DeliveryStatus.PENDING
_PAUSED = DeliveryStatus.PAUSED.value
_FAILED = DeliveryStatus.FAILED.value
_WAITING = DeliveryStatus.WAITING.value


async def insert_deliveries(
    tx: Transaction,
    batch: Sequence[Delivery],
    *,
    webhooks_exist: bool = False,
    updating: Collection[str] = (),
) -> set[str]:
    """Inserts deliveries, skipping (webhook, event) pairs that exist and webhooks deleted
    since fan-out read them. Returns the ids of those inserted pending under a lease
    (fanout.py `Lease`) to a webhook enabled as locked: the ones a publisher's worker may
    be handed (one paused here, or to a webhook deleted, must not be: its worker, told of
    no edit when another process made it, sent it once). A leased delivery's event is new
    in this transaction, so no row of its pair exists to skip it.

    `webhooks_exist`: the caller checked, holding SQLite's write lock, that no webhook was
    deleted since fan-out read them (the account's configuration version), so the check
    here is skipped; PostgreSQL still share-locks them against a concurrent delete.
    `updating`: webhooks whose rows the transaction updates later (store/operational.py
    `announce_held`), locked for that here, on PostgreSQL (store/webhooks.py
    `lock_webhooks`)."""
    paused: list[str] = []
    enabled: dict[str, bool] = {}  # as locked; none read: every one is (SQLite, checked)
    if webhooks_exist and tx.database == "sqlite":
        kept = list(batch)
    else:
        live = await lock_webhooks(
            tx, {delivery.webhook_id for delivery in batch}, updating=updating
        )
        kept = [d for d in batch if d.webhook_id in live]
        enabled = live
        if webhooks_exist and not all(live.values()):
            # Their configuration was checked before a pause committed (it held the webhook
            # FOR UPDATE, store/webhooks.py `update_webhook`, and the lock above waited for
            # it): left pending, the worker would send them to the paused webhook. A
            # person's test or example in the group goes to it on purpose (pausable.py).
            paused = [
                d.id
                for d in kept
                if not live[d.webhook_id] and d.status is _MADE_PENDING and not d.by_hand
            ]
    # After the webhooks' locks: a chain row refers to its webhook.
    admitted = await admit_deliveries(tx, kept)
    rows = [delivery_values(d) for d in admitted]
    if tx.database == "postgresql":
        if rows:
            await tx.execute(_PG_INSERT, unnest_values(deliveries, rows))
    else:
        await tx.execute_many(_INSERT, rows)
    await mark_by_hand(tx, admitted)
    await _supersede_older(tx, admitted)
    await pause_made(tx, paused)
    return {
        d.id
        for d in admitted
        if d.lease_token is not None
        and d.status is _MADE_PENDING
        and enabled.get(d.webhook_id, True)
    }


async def mark_by_hand(tx: Transaction, made: Sequence[Delivery]) -> None:
    """Marks the person's tests and examples among deliveries just inserted (`by_hand`,
    store/pausable.py), in their insert's transaction: a publish's INSERT leaves the
    column to its default, so a published delivery costs nothing more, and a test one
    UPDATE (its row's HOT update on PostgreSQL: no index holds the column)."""
    sent = [d for d in made if d.by_hand]
    if sent:
        days = {"b_from": min(d.created for d in sent), "b_to": max(d.created for d in sent)}
        await tx.execute(_MARK_BY_HAND, {"ids": [d.id for d in sent], **days})


async def pause_made(tx: Transaction, delivery_ids: Sequence[str]) -> None:
    """Pauses these deliveries, just made, if pending (not waiting their turn in a chain) and
    not a person's test or example (marked before, `mark_by_hand`), as a pause does its
    webhook's pending ones (store/pause_postgres.py): a publish made them to a webhook
    paused after it checked the configuration."""
    if delivery_ids:
        await tx.execute(_PAUSE_MADE, {"ids": list(delivery_ids)})


async def _supersede_older(tx: Transaction, admitted: Sequence[Delivery]) -> None:
    """Latest wins: newer updates supersede older unsent ones; an ordered chain whose head
    was superseded moves on to its next delivery (perhaps one of `admitted`)."""
    if not any(d.coalesce_key is not None for d in admitted):
        return
    now = max(d.created for d in admitted)
    superseded = await supersede_older(tx, admitted, now=now)
    await advance_chains(tx, superseded, now=now)


_PAUSE_MADE = Statement(
    lambda database: (
        update(deliveries)
        .where(
            in_list(database, column=deliveries.c.id),
            deliveries.c.status == _PENDING,
            walk_may_pause(),
        )
        .values(status=_PAUSED)
    )
)
# The range of `created` prunes the day partitions the ids are looked up in.
_MARK_BY_HAND = Statement(
    lambda database: (
        update(deliveries)
        .where(
            in_list(database, column=deliveries.c.id),
            deliveries.c.created.between(
                bindparam("b_from", type_=Timestamp), bindparam("b_to", type_=Timestamp)
            ),
        )
        .values(by_hand=True)
    )
)
_INSERT = Statement(  # SQLite
    lambda database: insert_ignoring(
        database, table=deliveries, conflict_on=("event_id", "webhook_id")
    ),
    columns=[column.name for column in written_columns(deliveries)],
)
# All rows in one statement (store/unnest.py), in unique-key order as every publish inserts
# deliveries (store/append_postgres.py too), so concurrent inserts never wait in a cycle.
# Without a conflict target: the unique key holds the partition key too (migration 0016),
# and a delivery is created with its event.
_PG_INSERT = Statement(
    lambda _database: unnest_insert(
        deliveries, tail="ON CONFLICT DO NOTHING", order_by=("event_id", "webhook_id")
    )
)


# A claimed delivery's first values, as `ClaimedDelivery` (ports/queue.py) orders them: its
# id, account, event, webhook, attempts made, creation time and where its row is (its
# leased version's ctid on PostgreSQL, its rowid on SQLite: the recording reaches it there).
# On SQLite a slice of the claim's row, made in C.
ClaimHead = tuple[str, str, str, str, int, datetime, StoredRow]


class Claimed(NamedTuple):
    """What `claim_due` leased, and what it read with it."""

    token: str  # the lease's
    deliveries: list[ClaimHead]  # oldest first
    events: dict[EventKey, Event] | None  # PostgreSQL: loaded by the claim
    lost: list[tuple[Delivery, int]]  # leases lost too often, with their losses: `fail_lost`
    # PostgreSQL: the claimed webhooks' standing by id, as the claim read it
    # (store/claimed_webhooks.py `standing`), a deleted webhook's missing.
    standing: dict[str, dict[str, Any]] | None


_STANDING_NAMES = tuple(str(column.key) for column in STANDING_COLUMNS)


async def claim_due(
    tx: Transaction,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    worker_id: str | None,
    per_account: int = 0,
    holding: Collection[str] | None = None,
    horizon: KnownHorizon | None = None,
) -> Claimed:
    """Leases up to `limit` due pending deliveries to `worker_id` (`Claimed`: the lease
    token, deliveries oldest first, on PostgreSQL their events and webhooks' standing, read
    by the same statement, those lost too often, with their losses, for `fail_lost`, and
    where each leased row is by delivery id, for the recording to reach it by: its ctid on
    PostgreSQL, its rowid on SQLite). With
    `per_account`, up to that many of each account's due deliveries first
    (store/fair_claim.py), then the oldest due; with `holding` too, only those shares of
    the accounts not in it. `horizon`: the pending horizon as the process's last claim
    found it (PostgreSQL; read first without it).

    One statement: the lease is its token, worker and expiry (`lease_until`), so an
    unrecorded, unreleased delivery simply becomes due again when it expires. None of them
    is indexed and `next_attempt_at` stays: on PostgreSQL the claim is a HOT update, its
    rows' new versions on their own pages and no index entry added (migration 0018). A
    delivery still leased (its
    lease expired) counts one more lease loss; one lost `MAX_LEASE_LOSSES` times is not
    handed to the next worker to lose but failed (`fail_lost`), with an attempt saying why.
    """
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=lease_seconds)
    values = {
        "b_now": now,
        "b_limit": limit,
        "b_until": until,
        "b_token": token,
        "b_worker": worker_id,
    }
    kind = "oldest"
    if holding is not None or per_account > 0:
        kind = "fair" if holding is None else "others"
        values |= {
            "b_per_account": per_account,
            "b_from": new_resource_id(),
            "b_holding": list(holding or ()),
        }
    claimed: list[ClaimHead] = []
    lost: list[tuple[Delivery, int]] = []
    loaded: dict[EventKey, Event] | None = None
    standing: dict[str, dict[str, Any]] | None = None
    if tx.database == "postgresql":
        loaded, standing = {}, {}
        # The statement registers the worker too.
        for mapped in await _pg_claimed(tx, kind, values, now=now, horizon=horizon):
            delivery = delivery_from_row(mapped)
            if mapped["carries_data"]:  # one row of each event's in the claim: decoded once
                loaded[(delivery.account_id, delivery.event_id)] = _claimed_event(mapped)
            if mapped["lease_losses"] >= MAX_LEASE_LOSSES:
                lost.append((delivery, mapped["lease_losses"]))
            else:
                claimed.append(_head(delivery, mapped["leased_row"]))
            hook = mapped["hook_id"]  # None: the webhook was deleted
            if hook is not None and hook not in standing:
                standing[hook] = {name: mapped[f"hook_{name}"] for name in _STANDING_NAMES}
    else:
        if worker_id is not None:
            await tx.execute(_REGISTER, values)
        for row in await tx.fetch_all(_SQLITE_CLAIMS[kind], values):
            if row[-1] >= MAX_LEASE_LOSSES:  # rare: the only rows made into a Delivery
                # Its due time is its lease's expiry, as stored (whole microseconds).
                lost.append((_claimed_delivery(row, from_micros(to_micros(until))), row[-1]))
            else:
                claimed.append(row[:7])  # ClaimHead's columns
    claimed.sort(key=_CLAIM_ORDER)
    return Claimed(token, claimed, loaded, lost, standing)


async def _pg_claimed(
    tx: Transaction,
    kind: str,
    values: dict[str, Any],
    *,
    now: datetime,
    horizon: KnownHorizon | None,
) -> list[dict[str, Any]]:
    """PostgreSQL's claim of `kind` over the days from the pending horizon: its rows.

    The horizon is the one the last claim found (`KnownHorizon`) or, without one, read
    first. The claim returns its own snapshot's horizon with its rows (a claim that brings
    none reads it after, if it went by a kept one), and a horizon that moved down from the
    one planned for means a delivery was made pending on an earlier day: the rest of the
    limit is claimed again from that day at once. So a claim leaves out no delivery that a
    read before it would have found, and at a low rate a claim is two round trips instead
    of three (the horizon's read was one per event at 50 events/s,
    docs/benchmarks/postgres-low-rates.md)."""
    kept = horizon.since if horizon is not None else None
    since = kept if kept is not None else await pending_since(tx)
    rows = await tx.fetch_mappings(_pg_claim(kind, ClaimDays.of(since=since, now=now)), values)
    if rows:
        found = rows[0]["claim_horizon"] or 0
    else:
        found = since if kept is None else await pending_since(tx)
    left = values["b_limit"] - len(rows)
    if found < since and left > 0:
        more = {**values, "b_limit": left}
        rows += await tx.fetch_mappings(_pg_claim(kind, ClaimDays.of(since=found, now=now)), more)
    if horizon is not None:
        horizon.since = found
    return rows


async def fail_lost(tx: Transaction, lost: Sequence[tuple[Delivery, int]], now: datetime) -> None:
    """Fails deliveries whose leases were lost too often (their sending kills or stalls the
    worker, or no worker lives long enough to record it), recording why as an attempt, in
    the transaction `tx` (they are leased to its caller by the claim that found them).

    Those whose webhook was deleted since the claim (it commits first, and the deletion
    takes its deliveries with it) are passed over: their attempts would refer to no
    delivery, and the foreign key failed the whole batch. The others are locked first, so
    no deletion takes them before their attempts are in."""
    rows = await tx.fetch_all(_LOCK_EXISTING, {"ids": [d.id for d, _ in lost]})
    existing = {delivery_id for (delivery_id,) in rows}
    lost = [(d, losses) for d, losses in lost if d.id in existing]
    if not lost:
        return
    await tx.execute_many(
        _FAIL_LOST, [{"b_id": d.id, "b_now": now, "b_status": _FAILED} for d, _ in lost]
    )
    await tx.execute_many(
        _INSERT_ATTEMPT,
        [
            attempt_values(lost_attempt(delivery, losses=losses, now=now))
            for delivery, losses in lost
        ],
    )
    # Failed for good: an ordered chain they head moves on (due now, claimed next time).
    await advance_chains(tx, [delivery.id for delivery, _ in lost], now=now)


_CLAIM_ORDER = itemgetter(5, 0)  # ClaimHead's created, id: oldest first, in C


def _head(delivery: Delivery, row: StoredRow) -> ClaimHead:
    """PostgreSQL: a claimed delivery's `ClaimHead`, its row at `row`."""
    d = delivery
    return (d.id, d.account_id, d.event_id, d.webhook_id, d.attempts, d.created, row)


def _claimed_delivery(row: Row, until: datetime) -> Delivery:
    """A delivery from a row of SQLite's claim (`_SQLITE_CLAIMED`'s columns, loaded): still
    pending (the claim chose pending rows, and changes no status), due when its lease
    expires at `until`."""
    return Delivery(
        id=row[0],
        account_id=row[1],
        event_id=row[2],
        webhook_id=row[3],
        status=DeliveryStatus.PENDING,
        attempts=row[4],
        next_attempt_at=until,
        created=row[5],
        last_status_code=row[7],
        completed_at=row[8],
        resource_key=row[9],
        sequence=row[10],
        coalesce_key=row[11],
    )


def _claimed_event(row: Mapping[str, Any]) -> Event:
    """The event a claimed row carries, its `data` decoded here (`_with_events`)."""
    columns = {name: row[f"event_{name}"] for name in _EVENT_COLUMNS}
    data = columns["data"]
    columns["data"] = None if data is None else orjson.loads(data)
    return event_from_row(columns)


_LOCK_EXISTING = lock_in_order(deliveries.c.id)
_FAIL_LOST = Statement(
    lambda _: (
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status", type_=String),
            attempts=deliveries.c.attempts + 1,
            completed_at=bindparam("b_now", type_=Timestamp),
            lease_token=None,
            lease_worker=None,
        )
    )
)


def _claim(database: str, days: ClaimDays | None, *, chosen: _Chooser) -> Update:
    """Leases the due deliveries `chosen` selects (store/fair_claim.py).

    PostgreSQL reaches the chosen rows, which the choice locked, by their ctid: a TID scan
    (`ctid = ANY(ARRAY(...))`) joined to the choice by ctid and id (a ctid is unique within
    one day partition only). `id IN (...)` let the planner hash-join the chosen ids against
    a sequential scan of every delivery (20,000 rows read to lease 1,024, with and without
    ANALYZE); `id = ANY(ARRAY(...))` probes the primary key of every day partition for each
    chosen row (with six days of finished deliveries beside today's, the TID scan took
    PostgreSQL's CPU per delivery from 64-68 to 55 µs; with one day, no difference)."""
    ids = chosen(database, days)
    if database == "postgresql":
        rows = ids.cte("chosen")
        tid: ColumnElement[Any] = literal_column("deliveries.ctid")
        picked = and_(
            tid == any_(func.array(select(rows.c.tid).scalar_subquery())),
            tid == rows.c.tid,
            deliveries.c.id == rows.c.id,
            *of_days(deliveries, days),
        )
    else:  # by rowid (store/fair_claim.py _row_ids says why)
        picked = literal_column("deliveries.rowid").in_(ids)
    return (
        update(deliveries)
        .where(picked)
        .values(
            lease_until=bindparam("b_until", type_=Timestamp),
            lease_token=bindparam("b_token", type_=String),
            lease_worker=bindparam("b_worker", type_=String),
            # Still leased: its lease expired unrecorded, one more lost.
            lease_losses=deliveries.c.lease_losses
            + case((deliveries.c.lease_token.is_not(None), 1), else_=0),
        )
        .returning(*(_PG_CLAIMED if database == "postgresql" else _SQLITE_CLAIMED))
    )


# What PostgreSQL's claim returns: every column, and the leased version's ctid (RETURNING
# names the new version), which the recording reaches the row by (store/record_batch.py).
_PG_CLAIMED = (
    *written_columns(deliveries),
    literal_column("deliveries.ctid::text").label("leased_row"),
)


# What SQLite's claim returns: a claimed delivery's `ClaimHead` (its rowid last, which the
# recording reaches the row by, store/record_sqlite.py), then the rest of its columns that
# `_claimed_delivery` makes a lost one's Delivery of (not its status, lease and due time,
# which the claim itself knows), and its lease losses last.
# All 17 columns loaded into a dict per row cost ~2 us more per claimed delivery, in process
# (docs/benchmarks/embedded-delivery.md, target 3); PostgreSQL's claim, which loads the events too,
# is as was.
_SQLITE_CLAIMED = (
    *(
        deliveries.c[name]
        for name in (
            "id",
            "account_id",
            "event_id",
            "webhook_id",
            "attempts",
            "created",
        )
    ),
    literal_column("deliveries.rowid"),
    *(
        deliveries.c[name]
        for name in ("last_status_code", "completed_at", "resource_key", "sequence", "coalesce_key")
    ),
    deliveries.c.lease_losses,
)


def _oldest(database: str, days: ClaimDays | None) -> Select[Any]:
    due = due_oldest(database, days)
    return select(due.c.id, due.c.tid) if database == "postgresql" else select(due.c.rid)


# The choice of rows a claim leases, by kind: the oldest due, the fair claim (every worker's
# claim), and the fair claim of the accounts a worker holds none of.
_CHOOSERS: dict[str, _Chooser] = {"oldest": _oldest, "fair": fair_due, "others": others_due}


def _sqlite_claim(chosen: _Chooser) -> Statement:
    return Statement(lambda database: _claim(database, None, chosen=chosen))


_SQLITE_CLAIMS = {kind: _sqlite_claim(chosen) for kind, chosen in _CHOOSERS.items()}

_EVENT_COLUMNS = tuple(events.c.keys())


def _with_events(chosen: _Chooser, days: ClaimDays) -> Statement:
    """PostgreSQL: the claim and the load of its deliveries' events in one statement (the
    claim's UPDATE ... RETURNING joined to events by primary key), one round trip fewer
    per claim. Each event's columns come back prefixed `event_`; its `data` on one of its
    rows only (`carries_data`), NULL on the others."""

    def build(database: str) -> Select[Any]:
        claimed = _claim(database, days, chosen=chosen).cte("claimed")
        # One row of each event's in the claim carries its `data`, as text, decoded once
        # (`_claimed_event`): a 254 KB poison event fanned out to ten webhooks took ~1-3 ms
        # to decode on each of its rows, and the workers' loops stalled 1-10 s after large
        # ones (docs/reliability.md, "Noisy neighbour"). Its other rows carry NULL:
        # PostgreSQL reads (detoasts) and sends the text once per claim, not once per
        # delivery (docs/benchmarks/postgres-delivery.md, "A claim sends each event's `data`
        # once"). The numbering sorts the claimed rows by their byte-ordered keys: no
        # second round trip, no second scan of events.
        first = func.row_number().over(partition_by=(claimed.c.account_id, claimed.c.event_id))
        numbered = select(claimed, (first == _FIRST).label("carries_data")).subquery("numbered")
        # LATERAL with LIMIT 1: a primary-key probe per claimed row. A plain join was
        # hash-joined against a sequential scan of every event, once per claim.
        event = (
            select(*(_event_column(column, numbered.c.carries_data) for column in events.c))
            .where(events.c.account_id == numbered.c.account_id, events.c.id == numbered.c.event_id)
            .limit(1)
            .lateral("event")
        )
        # The worker is registered in the same statement (store/workers.py says why).
        registered = register_claimer(database).cte("registered")
        # The horizon as this statement's snapshot has it (`_pg_claimed`): read once.
        found = select(delivery_horizon.c.pending_since).scalar_subquery().label("claim_horizon")
        # The claimed webhooks' standing (store/claimed_webhooks.py), once per webhook: the
        # read that followed every claim, a round trip each (one per event at 50 events/s).
        # MATERIALIZED: referenced once, the CTE was inlined into the outer join and run
        # again for every claimed row (webhooks, accounts and a semi-join against the
        # claimed rows, which grows with the webhooks a claim holds): read once, the claim
        # cost PostgreSQL 12.0-12.3 us per delivery instead of 30-34 with each event fanned
        # out to 20 webhooks, 1.4-2.2 us less with one (in process;
        # docs/benchmarks/postgres-delivery.md, "eleventh session").
        standing = (
            select(*(column.label(f"hook_{column.key}") for column in STANDING_COLUMNS))
            .join_from(webhooks, accounts, accounts.c.id == webhooks.c.account_id)
            .where(webhooks.c.id.in_(select(claimed.c.webhook_id)))
            .cte("standing")
            .prefix_with("MATERIALIZED")
        )
        joined = numbered.join(event, true()).outerjoin(
            standing, standing.c.hook_id == numbered.c.webhook_id
        )
        return select(numbered, event, found, *standing.c).select_from(joined).add_cte(registered)

    return Statement(build)


_FIRST: ColumnElement[int] = literal_column("1", Integer)


def _event_column(
    column: ColumnElement[Any], carries_data: ColumnElement[bool]
) -> ColumnElement[Any]:
    """An event's column as a claim returns it: `data` as stored text (no loader), on the
    rows that `carries_data` only."""
    selected = column
    if column.key == "data":
        selected = case((carries_data, type_coerce(column, Text)))
    return selected.label(f"event_{column.key}")


_REGISTER = Statement(register_claimer)  # SQLite


# PostgreSQL's claims by kind and days (`ClaimDays` is written into each one's SQL): a
# handful at a time (a new pair of days comes when the horizon moves or the day changes),
# the least recently used dropped beyond that; each is compiled on its first claim.
@functools.lru_cache(maxsize=12)
def _pg_claim(kind: str, days: ClaimDays) -> Statement:
    """PostgreSQL's claim of `kind` (`_CHOOSERS`) over `days`, with its events."""
    return _with_events(_CHOOSERS[kind], days)


async def record_attempts(tx: Transaction, results: Sequence[DeliveryResult]) -> int:
    """Applies results whose lease is still held; drops the others entirely. Ordered chains
    headed by a delivery that finished here move on in the same transaction, their next
    delivery due when this one completed: returns how many that made due.

    The check and the writes are one unit, and attempts are inserted for held leases only:
    a worker whose lease expired and was re-claimed must not log an attempt against someone
    else's lease, nor move the delivery's state.

    PostgreSQL: one statement locks the held rows, updates them and inserts their attempts
    (store/record_batch.py). SQLite: BEGIN IMMEDIATE already holds the database's write
    lock, so each statement checks the lease itself (store/record_sqlite.py).
    """
    if tx.database == "postgresql":
        recorded = await record_on_postgres(tx, results)
        held = [r for r in results if r.delivery_id in recorded]
        # Only ordered deliveries head chains, only coalescing ones are superseded: a batch
        # without either skips both steps' statements.
        return await _advance_finished(
            tx,
            [r for r in held if recorded[r.delivery_id].ordered],
            coalescing=[r for r in held if recorded[r.delivery_id].coalesces],
        )
    await record_on_sqlite(tx, results)
    if await tx.fetch_one(_ANY_CHAIN) is None:
        # No ordered chain at all (this write holds SQLite's one write lock, so none can
        # start meanwhile): no result here heads one. Looking each result up in the chains
        # cost ~2.5 µs per delivery, most of the batch's fixed cost, for no ordered webhook.
        return await _advance_finished(tx, [], coalescing=results)
    return await _advance_finished(tx, results, coalescing=results)


_ANY_CHAIN = Statement(lambda _: select(literal(1)).select_from(delivery_chains).limit(1))


async def _advance_finished(
    tx: Transaction,
    results: Sequence[DeliveryResult],
    *,
    coalescing: Sequence[DeliveryResult],
) -> int:
    """Chains headed by a delivery that finished here move on: those whose result is final
    (of `results`), and retried ones superseded by a newer update instead (of `coalescing`:
    the results that may be superseded)."""
    if not results and not coalescing:
        return 0
    now = max(r.completed_at or r.attempt.started_at for r in (*results, *coalescing))
    retried = [r.delivery_id for r in coalescing if r.status is DeliveryStatus.PENDING]
    finals = [r.delivery_id for r in results if r.status is not DeliveryStatus.PENDING]
    finals += await supersede_retried(tx, retried, now=now)
    return await advance_chains(tx, finals, now=now)


_INSERT_ATTEMPT = Statement(lambda _: insert(attempts), columns=list(ATTEMPT_COLUMNS))


async def release_leases(
    tx: Transaction, *, leases: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Hands back leases unattempted: due again at `now` (store/record_batch.py,
    store/record_sqlite.py)."""
    release = release_on_postgres if tx.database == "postgresql" else release_on_sqlite
    await release(tx, leases, due=to_micros(now))


async def still_leased(tx: Transaction, leases: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those (delivery_id, lease_token) leases that still hold: the delivery is pending
    under that token (a take-back clears it, a claim after its expiry replaces it, a
    recording ends it). One statement by primary key, whatever the number. A delivery may
    be asked about under two tokens (a worker found dead claimed it again before it
    learnt so: its lapsed lease and its new one are both queued); only one holds."""
    rows = await tx.fetch_all(_LEASE_TOKENS, {"ids": list({d for d, _ in leases})})
    held = {delivery_id: token for delivery_id, token in rows}
    return {(d, token) for d, token in leases if held.get(d) == token}


_LEASE_TOKENS = Statement(
    lambda database: select(deliveries.c.id, deliveries.c.lease_token).where(
        in_list(database, column=deliveries.c.id),
        deliveries.c.status == DeliveryStatus.PENDING.value,
    )
)


async def disown_losses(tx: Transaction, leases: Sequence[tuple[str, str]]) -> None:
    """Takes back the lease loss counted when those (delivery_id, lease_token) leases were
    taken back from their worker (store/workers.py take_back keeps the token in
    `lost_lease`): the worker came back alive and drops them queued, unsent, so their
    sending cannot be what stopped it. A row lost again since (another token in
    `lost_lease`) keeps its count: that loss is someone else's to disown. Never below 0.

    Lease by lease: a worker may drop one delivery under two, the lease taken back from it
    and the one it claimed again since; only the one in `lost_lease` matches, once.

    The rows are locked first in id order, as a recording locks its batch (the row may be
    leased to the worker that took it over, recording it): no cycle with one."""
    pairs = sorted(set(leases))
    if not pairs:
        return
    await tx.fetch_all(_LOCK_EXISTING, {"ids": sorted({d for d, _ in pairs})})
    await tx.execute_many(_DISOWN, [{"b_id": d, "b_token": token} for d, token in pairs])


_DISOWN = Statement(
    lambda _: (
        update(deliveries)
        .where(
            deliveries.c.id == bindparam("b_id"),
            deliveries.c.lost_lease == bindparam("b_token", type_=String),
        )
        .values(
            lease_losses=case(
                (deliveries.c.lease_losses > 0, deliveries.c.lease_losses - 1), else_=0
            ),
            lost_lease=None,
        )
    )
)


async def park(tx: Transaction, leases: Sequence[tuple[str, str]]) -> list[str]:
    """Hands back leases claimed with their webhook disabled (a publish that checked its
    configuration before the webhook's pause committed made them pending, or a walk had
    not reached them yet): paused while the webhook is still disabled, else pending, due
    as they were. Rare: one statement per lease, each row found by its id. Returns the ids
    of those a walk may not pause (store/pausable.py: a person's test or example, sent
    even while the webhook is disabled), left leased to the caller, which sends them.

    On PostgreSQL their webhooks are share-locked first: a resume under way (it updates the
    webhook, then makes pending the deliveries paused then, which this one was not) would
    otherwise be unseen by the park's snapshot, and the delivery left paused under an
    enabled webhook, never sent (tests/contract/test_store_park_race.py). Once the lock is
    held, the park's UPDATE reads the committed webhook."""
    ids = [delivery_id for delivery_id, _ in leases]
    if tx.database == "postgresql" and ids:
        await tx.fetch_all(_LOCK_PARKED_WEBHOOKS, {"ids": ids})
    kept: list[str] = []
    for delivery_id, token in leases:
        lease = {"b_id": delivery_id, "b_token": token}
        if not await tx.execute(_PARK, lease) and await tx.fetch_one(_KEPT, lease):
            kept.append(delivery_id)
    return kept


_LOCK_PARKED_WEBHOOKS = Statement(
    lambda database: (
        select(webhooks.c.id)
        .where(
            webhooks.c.id.in_(
                select(deliveries.c.webhook_id).where(in_list(database, column=deliveries.c.id))
            )
        )
        .order_by(webhooks.c.id)
        .with_for_update(read=True)
    )
)


_THIS_LEASE = (
    deliveries.c.id == bindparam("b_id"),
    deliveries.c.lease_token == bindparam("b_token"),
)
_PARK = Statement(
    lambda _: (
        update(deliveries)
        .where(*_THIS_LEASE, walk_may_pause())
        .values(status=_status_for_webhook(), lease_token=None, lease_worker=None, lease_until=None)
    )
)
_KEPT = Statement(lambda _: select(deliveries.c.id).where(*_THIS_LEASE, ~walk_may_pause()))


def _status_for_webhook() -> ColumnElement[str]:
    """PENDING, or PAUSED when the delivery's webhook is disabled."""
    enabled = (
        select(webhooks.c.enabled).where(webhooks.c.id == deliveries.c.webhook_id)
    ).scalar_subquery()
    return case((enabled.is_(True), _PENDING), else_=_PAUSED)


async def reschedule(tx: Transaction, *, account_id: str, delivery_id: str, now: datetime) -> int:
    """A manual retry: the delivery is due at `now` (1), or it does not exist (0).

    A finished or held delivery to an ordered webhook re-joins its resource's chain instead:
    WAITING, sent after the chain's unfinished head, before later waiting ones. One still
    waiting stays so (it goes in its turn)."""
    values = {"b_account_id": account_id, "b_id": delivery_id, "b_now": now}
    row = await tx.fetch_one(_ORDERING_OF, values)
    if row is None:
        return 0
    webhook_id, rejoins, status = row
    if rejoins is None or status in (_PENDING, _PAUSED):
        # The webhook's row first (a failing one's next retry moves to now), then the
        # delivery's: the order of every writer of both (docs/delivery.md, "Lock order
        # (PostgreSQL)"). After the delivery, the webhook's lock waited on a recording of
        # the attempt in flight, which held the webhook (its standing) and wanted the delivery
        # (tests/contract/test_store_delivery_lock_order.py).
        await retried_now(tx, webhook_id=webhook_id, now=now)
        # Clearing the lease makes an attempt still in flight stale: the manual retry wins.
        return await tx.execute(_RESCHEDULE, values)
    if status != _WAITING:
        # The webhook's row first: the chain's start share-locks it (replay.py says why),
        # and its ordering read again under the lock (a save turning it off may have
        # committed since `_ORDERING_OF`): re-joined only if it still orders.
        await lock_ordering(tx, webhook_id)
        (joined,) = await tx.fetch_one(_REJOIN, values) or (None,)
        if joined == _WAITING:
            await start_chains(tx, {(webhook_id, rejoins)})
    return 1


_THIS_DELIVERY = (
    deliveries.c.account_id == bindparam("b_account_id"),
    deliveries.c.id == bindparam("b_id"),
)
_ORDERING_OF = Statement(  # the resource key only if the delivery re-joins its chain
    lambda _: select(
        deliveries.c.webhook_id,
        case((in_a_chain(), deliveries.c.resource_key)),
        deliveries.c.status,
    ).where(*_THIS_DELIVERY)
)
_RESCHEDULE = Statement(
    lambda _: (
        update(deliveries)
        .where(*_THIS_DELIVERY)
        .values(
            status=_status_for_webhook(),
            next_attempt_at=bindparam("b_now", type_=Timestamp),
            completed_at=None,
            lease_token=None,
            lease_worker=None,
            lease_losses=0,  # asked for by a person: the losses so far are forgiven
            lost_lease=None,
        )
    )
)
_REJOIN = Statement(  # waiting in its chain, or due at once if ordering is off by now
    lambda _: (
        update(deliveries)
        .where(*_THIS_DELIVERY)
        .values(
            status=case((in_a_chain(), _WAITING), else_=_status_for_webhook()),
            next_attempt_at=bindparam("b_now", type_=Timestamp),
            completed_at=None,
            lease_token=None,
            lease_worker=None,
            lease_losses=0,
            lost_lease=None,
        )
        .returning(deliveries.c.status)
    )
)


async def recover_failed(
    tx: Transaction,
    *,
    account_id: str,
    webhook_id: str,
    since: datetime,
    now: datetime,
    rowids: str | None = None,
) -> int:
    """Makes the webhook's failed deliveries created since `since` due at `now`; those of
    an ordered webhook re-join their resources' chains, in sequence order. Returns how many.

    With `rowids` (SQLite: a JSON array of rowids, a stretch of a walk through the
    webhook's deliveries, store/webhook_walk.py), those of them only, and the ordered ones
    left waiting with no chain started: the walk starts them once it has made every one of
    a resource waiting (chains.py `start_unchained`), lowest sequence first."""
    values: dict[str, Any] = {
        "b_account_id": account_id,
        "b_webhook_id": webhook_id,
        "b_since": since,
        "b_now": now,
    }
    await lock_ordering(tx, webhook_id)  # before its deliveries and chains (replay.py)
    some = rowids is not None
    if some:
        values["b_rowids"] = rowids
    recovered = await tx.execute(_RECOVER_SOME if some else _RECOVER, values)
    rejoined = await tx.fetch_all(_RECOVER_ORDERED_SOME if some else _RECOVER_ORDERED, values)
    if not some:  # a walk starts its chains once it is over (chains.py `start_unchained`)
        await start_chains(tx, {(webhook_id, key) for (key,) in rejoined})
    return recovered + len(rejoined)


_FAILED_SINCE = (
    deliveries.c.account_id == bindparam("b_account_id"),
    deliveries.c.webhook_id == bindparam("b_webhook_id"),
    deliveries.c.status == _FAILED,
    deliveries.c.created >= bindparam("b_since", type_=Timestamp),
)


# A stretch of a walk from `since` through the webhook's index holds its rows only, made
# since then: with those conditions written too, SQLite ranged over that index from `since`
# for every stretch (40,000 failed deliveries: 22 s to recover, 2.5 s in one statement).
_FAILED_IN_STRETCH = (
    deliveries.c.account_id == bindparam("b_account_id"),
    deliveries.c.status == _FAILED,
    IN_STRETCH,
)


def _recover(*, ordered: bool, some: bool) -> Statement:
    """Failed deliveries made pending (PAUSED under a disabled webhook), or WAITING in
    their chains (`ordered`, their resource keys returned); those of a stretch if `some`."""
    return rejoining(
        lambda _: _FAILED_IN_STRETCH if some else _FAILED_SINCE,
        ordered=ordered,
        values={
            "status": literal(_WAITING) if ordered else _status_for_webhook(),
            "next_attempt_at": bindparam("b_now", type_=Timestamp),
            "completed_at": None,
            "lease_losses": 0,
            "lost_lease": None,
        },
    )


_RECOVER = _recover(ordered=False, some=False)
_RECOVER_SOME = _recover(ordered=False, some=True)
_RECOVER_ORDERED = _recover(ordered=True, some=False)
_RECOVER_ORDERED_SOME = _recover(ordered=True, some=True)


def _delivery_filters(query: DeliveryQuery, *, database: str) -> list[ColumnElement[bool]]:
    filters = [
        deliveries.c.account_id == query.account_id,
        deliveries.c.webhook_id == query.webhook_id,
    ]
    if query.status is not None:
        filters.append(deliveries.c.status == query.status.value)
    if query.event_id is not None:
        filters.append(deliveries.c.event_id == query.event_id)
    if query.since is not None:
        filters.append(deliveries.c.created >= query.since)
    if query.until is not None:
        filters.append(deliveries.c.created < query.until)
    of_events = _event_filters(query, database=database)
    if of_events:
        matching = select(events.c.id).where(events.c.account_id == query.account_id, *of_events)
        filters.append(deliveries.c.event_id.in_(matching))
    return filters


def _event_filters(query: DeliveryQuery, *, database: str) -> list[ColumnElement[bool]]:
    """What the delivery's event must be: of a type, holding a resource id."""
    filters = []
    if query.event_type is not None:
        filters.append(events.c.type == query.event_type)
    if query.resource_id is not None:
        filters.append(has_resource_id(query.resource_id, database=database))
    if query.since is not None:  # an event is created with its deliveries: fewer to scan
        filters.append(events.c.created >= query.since)
    return filters


async def list_deliveries(tx: Transaction, query: DeliveryQuery) -> Page[DeliveryRecord]:
    filters = _delivery_filters(query, database=tx.database)
    newest_first = (
        select(deliveries)
        .where(*filters)
        .order_by(deliveries.c.created.desc(), deliveries.c.id.desc())
    )
    items = await _records(tx, paginate(newest_first, query.page))
    return Page(items=items, total=await count(tx, deliveries, *filters))


async def get_delivery(
    tx: Transaction, *, account_id: str, delivery_id: str
) -> DeliveryRecord | None:
    values = {"account_id": account_id, "id": delivery_id}
    found = await _records(tx, _DELIVERY, values)
    return found[0] if found else None


_DELIVERY = Statement(
    lambda _: select(deliveries).where(
        deliveries.c.account_id == bindparam("account_id"), deliveries.c.id == bindparam("id")
    )
)


async def _records(
    tx: Transaction, query: Query, values: dict[str, Any] | None = None
) -> list[DeliveryRecord]:
    """Deliveries with their events and attempts: three queries for any number of rows."""
    found = [delivery_from_row(row) for row in await tx.fetch_mappings(query, values or {})]
    if not found:
        return []
    by_key = await load_events(tx, {(d.account_id, d.event_id) for d in found})
    tried = await _attempts(tx, [d.id for d in found])
    return [
        DeliveryRecord(delivery=d, event=by_key[(d.account_id, d.event_id)], attempts=tried[d.id])
        for d in found
    ]


# The attempts a delivery is read with, its newest: a retry policy makes at most 11 (a few
# more when workers lose its lease), but a person's retries have no end (up to 100 a second
# per API key, its rate limit), and every attempt was read with its delivery: 20,000 of
# them (4 KB bodies) made one GET /v2/deliveries/{id}/ 91 MB and ~3 s of the API's event
# loop. Its `attempts` still counts them all.
ATTEMPTS_READ = 50


async def _attempts(tx: Transaction, delivery_ids: list[str]) -> dict[str, list[Attempt]]:
    by_delivery: defaultdict[str, list[Attempt]] = defaultdict(list)
    for row in await tx.fetch_mappings(ATTEMPTS_OF, {"ids": delivery_ids}):
        by_delivery[row["delivery_id"]].append(attempt_from_row(row))
    return by_delivery


def _newest_attempts(database: str) -> Select[Any]:
    """The newest ATTEMPTS_READ attempts of each delivery bound as `ids`, oldest first.

    SQLite ranks the ids from the delivery_id index alone (it holds the rowid, the id) and
    reads the rows, each with its response body, only for the attempts returned. PostgreSQL
    cannot look an attempt up by id alone (its key begins with delivery_id, one index per
    day partition): there `id IN (ranked ids)` planned a Seq Scan of every attempts
    partition under a Hash Semi Join, custom plan and generic (63-94 ms, 5,103 buffers at
    100,000 attempts, growing with the table), so it ranks the whole rows from the key's
    index scans instead (0.45-0.49 ms, 103 buffers: a delivery's own attempts alone)."""
    if database == "postgresql":
        return _ranked_rows()
    ranked = _ranked(attempts.c.id, database=database)
    newest = select(ranked.c.id).where(ranked.c.newness <= ATTEMPTS_READ)
    return _oldest_first(select(attempts).where(attempts.c.id.in_(newest)), attempts.c)


def _ranked_rows() -> Select[Any]:
    ranked = _ranked(*attempts.c, database="postgresql")
    newest = select(*(ranked.c[column.name] for column in attempts.c))
    return _oldest_first(newest.where(ranked.c.newness <= ATTEMPTS_READ), ranked.c)


def _ranked(*columns: ColumnElement[Any], database: str) -> Subquery:
    """`columns` of the attempts of the deliveries bound as `ids`, each with its `newness`
    among its delivery's attempts (1: the newest)."""
    newness = func.row_number().over(
        partition_by=attempts.c.delivery_id, order_by=attempts.c.id.desc()
    )
    return (
        select(*columns, newness.label("newness"))
        .where(in_list(database, column=attempts.c.delivery_id))
        .subquery()
    )


def _oldest_first(query: Select[Any], columns: ReadOnlyColumnCollection[str, Any]) -> Select[Any]:
    return query.order_by(columns.delivery_id, columns.number, columns.id)


ATTEMPTS_OF = Statement(_newest_attempts)
