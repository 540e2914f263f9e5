"""Which due deliveries a fair claim takes: each account's share first, then the oldest.

A claim that takes the oldest due deliveries whatever their account lets one account's
backlog fill every batch: another account's fresh delivery waits behind all of it. So a fair
claim first takes up to `b_per_account` of each account's due deliveries (its oldest), then
fills the batch up to `b_limit` with the oldest due deliveries of anyone.

Finding the accounts with due deliveries must not cost a pass over a backlog of 100,000
rows. The accounts are walked through the partial index on pending rows' (account_id,
next_attempt_at), one probe per account (a recursive query stepping to the next larger
account id: the index skip scan neither database does by itself), and each account's share
is one probe more. The walk starts at a random account id (`b_from`) and wraps around, so
when more accounts wait than one batch holds, a different set goes first each time.
PostgreSQL reads the walk lazily and stops once the shares fill the batch; SQLite runs a
recursive query to its end before reading it, so there a claim visits every account with
pending deliveries (measured: 2 ms for 200 accounts and a backlog of 100,000).

PostgreSQL takes each share in a LATERAL subquery with FOR UPDATE SKIP LOCKED, as the oldest
are taken: concurrent claimers skip each other's rows instead of waiting or sharing them.
Rows locked here but not chosen stay locked until the claim commits, a few milliseconds.
SQLite has no LATERAL; a correlated `rowid IN (... LIMIT)` does the same, and its writers are
serialized, so nothing needs locking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from hookcast.domain.models import DeliveryStatus
from hookcast.store.sql import in_list
from hookcast.store.tables import deliveries
from hookcast.store.types import Timestamp

__all__ = ["created_by_now", "due_oldest", "fair_due", "not_leased", "others_due"]

_PENDING = DeliveryStatus.PENDING.value


def _limit() -> ColumnElement[int]:
    return bindparam("b_limit", type_=Integer)


def not_leased(table: FromClause, now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """No lease on the row of `table` (a deliveries alias) is held at `now`: none was taken,
    or it expired. A claim leaves `next_attempt_at` as it was (migration 0018), so the due
    indexes still hold leased rows at their due time: claims read past them, as many as
    the workers hold, and skip them by this test of columns outside every index. A token
    without an expiry (no writer leaves one) counts as expired rather than held forever."""
    return or_(
        table.c.lease_token.is_(None), table.c.lease_until.is_(None), table.c.lease_until <= now
    )


def _now() -> ColumnElement[datetime]:
    return bindparam("b_now", type_=Timestamp)


def created_by_now(database: str, table: FromClause) -> list[ColumnElement[bool]]:
    """On PostgreSQL, `b_since <= created <= b_now`: a due delivery was created by now (it
    is due no earlier than it was created) and not before the horizon (store/horizon.py),
    and with both constants in each claim's plan the planner leaves out the day partitions
    made ahead for the coming week and the past days with no pending delivery. Each
    partition in a claim's plan costs its planning and execution: dropping the seven days
    ahead took PostgreSQL's CPU per delivery from 55-86 to 48-52 µs (a drain of 10,000)."""
    if database == "postgresql":
        since = bindparam("b_since", type_=BigInteger)
        return [table.c.created <= _now(), table.c.created >= since]
    return []


def _row_ids(database: str, table: NamedFromClause) -> list[ColumnElement[Any]]:
    """The columns that name a chosen row: on PostgreSQL its id and its ctid (`tid`), so the
    claim reaches the locked rows by a TID scan (store/deliveries.py _claim); on SQLite its
    rowid (`rid`), so the claim reaches each row without a probe of the primary key's
    index (the id is text, which a rowid table keeps in an index of its own): SQLite's
    claim statement took 4.9-5.7 us per claimed delivery against 6.5-10.3 by id
    (docs/benchmarks.md, target 3). A rowid names its row for as long as the statement
    runs (only VACUUM renumbers rows, never beside a statement)."""
    if database == "postgresql":
        return [table.c.id, literal_column(f"{table.name}.ctid").label("tid")]
    return [literal_column(f"{table.name}.rowid").label("rid")]


def due_oldest(database: str) -> CTE:
    """The `b_limit` oldest due deliveries (id, next_attempt_at; on PostgreSQL tid too),
    locked on PostgreSQL.

    On PostgreSQL, SKIP LOCKED lets concurrent claimers take disjoint rows without waiting
    for each other, and MATERIALIZED makes the planner evaluate the locked selection exactly
    once."""
    due = (
        select(*_row_ids(database, deliveries), deliveries.c.next_attempt_at)
        .where(
            deliveries.c.status == _PENDING,
            deliveries.c.next_attempt_at <= _now(),
            not_leased(deliveries, _now()),
            *created_by_now(database, deliveries),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(_limit())
    )
    if database == "postgresql":
        return due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
    return due.cte("due")


def fair_due(database: str) -> Select[Any]:
    """The ids to claim (on PostgreSQL with their tid): each account's share of its due
    deliveries, then the oldest due, `b_limit` in all."""
    shares = _shares(database)
    oldest = due_oldest(database)
    names = _names(database)
    # Every share is taken (there are at most `b_limit`), so only the oldest need their due
    # time: the fill is the oldest of those not already shares.
    fill = select(
        *(oldest.c[n] for n in names), oldest.c.next_attempt_at, literal(1).label("pass")
    ).where(oldest.c[names[0]].not_in(select(shares.c[names[0]])))
    both = union_all(
        select(
            *(shares.c[n] for n in names),
            null().label("next_attempt_at"),
            literal(0).label("pass"),
        ),
        fill,
    ).subquery("candidates")
    return (
        select(*(both.c[n] for n in names))
        .order_by(both.c["pass"], both.c.next_attempt_at)
        .limit(_limit())
    )


def others_due(database: str) -> Select[Any]:
    """The ids to claim (on PostgreSQL with their tid) for a worker that holds all it may
    claim: the shares of the accounts not in `b_holding` (the accounts whose deliveries it
    holds), `b_limit` in all, and no oldest to fill the batch."""
    shares = _shares(database, holding=True)
    return select(*(shares.c[n] for n in _names(database)))


def _names(database: str) -> tuple[str, ...]:
    return ("id", "tid") if database == "postgresql" else ("rid",)


def _shares(database: str, *, holding: bool = False) -> CTE:
    """Up to `b_per_account` due deliveries of each account met on the walk (but those in
    `b_holding`), `b_limit` in all: their ids."""
    walk = _walk(database)
    if holding:
        held = in_list(database, column=walk.c.account_id, name="b_holding")
        walk = select(walk.c.account_id).where(~held).cte("others")
    mine = deliveries.alias("mine")
    share = (
        select(*_row_ids(database, mine))
        .where(
            _of_account(database, mine.c.account_id, walk.c.account_id),
            mine.c.status == _PENDING,
            mine.c.next_attempt_at <= _now(),
            not_leased(mine, _now()),
            *created_by_now(database, mine),
        )
        # account_id first, though it is one value: the order is then the account index's
        # own. PostgreSQL still needs the table's statistics (autovacuum keeps them) to
        # choose that index: unanalyzed, it once probed the due index and filtered it by
        # account, 19,000 rows per account (220 ms a claim). A row comparison that only the
        # account index could answer made SQLite scan each account's pending rows instead.
        .order_by(mine.c.account_id, mine.c.next_attempt_at)
        .limit(bindparam("b_per_account", type_=Integer))
    )
    if database == "postgresql":
        lateral = share.with_for_update(skip_locked=True).lateral("share")
        taken = select(lateral.c.id, lateral.c.tid).select_from(walk.join(lateral, true()))
        return taken.limit(_limit()).cte("shares").prefix_with("MATERIALIZED")
    # (Only the rowid of the joined row: the table's own key.)
    shared = deliveries.alias("shared")
    rid: ColumnElement[Any] = literal_column("shared.rowid")
    taken = select(rid.label("rid")).select_from(walk.join(shared, rid.in_(share.correlate(walk))))
    return taken.limit(_limit()).cte("shares")


def _of_account(
    database: str, column: ColumnElement[str], account: ColumnElement[str]
) -> ColumnElement[bool]:
    """`column` is `account`. On PostgreSQL written as a range of one value: the planner
    then cannot take the ORDER BY's account_id as a constant, so only the account index
    gives the share's order. With `=`, it chose the due index filtered by account, whatever
    the statistics: one account's share read past every other account's due deliveries
    (measured: 10,000 rows read for a share of 16, analyzed or not)."""
    if database == "postgresql":
        return and_(column >= account, column <= account)
    return column == account


def _walk(database: str) -> CTE:
    """The accounts with pending deliveries: from `b_from` upwards, then from the smallest
    up to `b_from`."""
    start = bindparam("b_from", type_=String)
    first = _first_account(database, "upwards_first", at_least=start)
    upwards = _accounts(database, "upwards", first=first)
    first = _first_account(database, "wrapped_first", at_least=None)
    wrapped = _accounts(database, "wrapped", first=first)
    return union_all(
        select(upwards.c.account_id),
        select(wrapped.c.account_id).where(wrapped.c.account_id < start),
    ).cte("walk")


def _accounts(database: str, name: str, *, first: ColumnElement[str]) -> CTE:
    """The accounts with pending deliveries in id order from `first`: a recursive query,
    each step one index probe for the next larger account id (NULL after the last)."""
    seed = select(first.label("account_id")).cte(name, recursive=True)
    following = deliveries.alias(f"{name}_next")
    step = (
        select(following.c.account_id)
        .where(
            following.c.status == _PENDING,
            following.c.account_id > seed.c.account_id,
            *created_by_now(database, following),
        )
        .order_by(following.c.account_id)
        .limit(1)
        .correlate(seed)
        .scalar_subquery()
    )
    return seed.union_all(select(step).where(seed.c.account_id.is_not(None)))


def _first_account(
    database: str, name: str, *, at_least: ColumnElement[str] | None
) -> ColumnElement[str]:
    """The smallest account id with pending deliveries (at least `at_least`)."""
    first = deliveries.alias(name)
    where = [first.c.status == _PENDING, *created_by_now(database, first)]
    if at_least is not None:
        where.append(first.c.account_id >= at_least)
    return (
        select(first.c.account_id)
        .where(*where)
        .order_by(first.c.account_id)
        .limit(1)
        .scalar_subquery()
    )
