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

On PostgreSQL a claim is one statement of seven scans of deliveries, and planning it cost more
than running it: 0.6-0.7 ms against 0.25-0.3 ms for a claim of 7 deliveries (the oldest-first
claim alone 0.3 against 0.2; docs/benchmarks/postgres-publishing.md, "A claim planned once"). So
everything its plan depends on is written into the SQL, not bound: the status the partial indexes
are made for, the walk's LIMIT 1 and the days it reads (`ClaimDays`). A generic plan is then as
right as a custom one, and PostgreSQL keeps one per connection after five custom plans (with
`status` bound, a generic plan could use none of the partial indexes and ran 0.1-1.4 s).
"""

from __future__ import annotations

from dataclasses import dataclass
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
from hookcast.store.horizon import DAY_MICROS, day_start
from hookcast.store.sql import in_list, written_status
from hookcast.store.tables import deliveries
from hookcast.store.types import Timestamp, to_micros

__all__ = [
    "PENDING",
    "ClaimDays",
    "due_oldest",
    "fair_due",
    "not_leased",
    "of_days",
    "others_due",
]

# Written into the SQL (the module docstring says why): `status = PENDING` is the partial
# indexes' own predicate, which a bound status cannot be proved to imply.
PENDING: ColumnElement[str] = written_status(DeliveryStatus.PENDING)
_ONE: ColumnElement[int] = literal_column("1", Integer)


@dataclass(frozen=True, slots=True)
class ClaimDays:
    """The days a PostgreSQL claim reads: deliveries created from `since` (the pending
    horizon, store/horizon.py) up to `until`, the end of the claim's own day (µs since the
    epoch). Written into the claim's SQL as constants, so the planner leaves out, once for
    every plan of the statement, the past days with no pending delivery and the days made
    ahead for the coming week: each day partition in a claim's plan costs its planning and
    executing (dropping the seven days ahead took PostgreSQL's CPU per delivery from 55-86
    to 48-52 µs, a drain of 10,000). A due delivery was created by now (it is due no
    earlier than it was created), so none is after `until`. Each pair of constants is a
    statement of its own, prepared and planned apart: a new one when the horizon moves
    or the day changes."""

    since: int
    until: int

    @classmethod
    def of(cls, *, since: int, now: datetime) -> ClaimDays:
        """The days from the horizon `since` to the end of `now`'s day (UTC)."""
        moment = to_micros(now)
        return cls(since=since, until=day_start(moment) + DAY_MICROS)


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


def of_days(table: FromClause, days: ClaimDays | None) -> list[ColumnElement[bool]]:
    """`since <= created < until` with both written as constants (`ClaimDays`); nothing
    without `days` (SQLite, whose tables are not partitioned)."""
    if days is None:
        return []
    since = literal_column(str(int(days.since)), BigInteger)
    until = literal_column(str(int(days.until)), BigInteger)
    return [table.c.created >= since, table.c.created < until]


def _row_ids(database: str, table: NamedFromClause) -> list[ColumnElement[Any]]:
    """The columns that name a chosen row: on PostgreSQL its id and its ctid (`tid`), so the
    claim reaches the locked rows by a TID scan (store/deliveries.py _claim); on SQLite its
    rowid (`rid`), so the claim reaches each row without a probe of the primary key's
    index (the id is text, which a rowid table keeps in an index of its own): SQLite's
    claim statement took 4.9-5.7 us per claimed delivery against 6.5-10.3 by id
    (docs/benchmarks/embedded-delivery.md, target 3). A rowid names its row for as long as the
    statement runs (only VACUUM renumbers rows, never beside a statement)."""
    if database == "postgresql":
        return [table.c.id, literal_column(f"{table.name}.ctid").label("tid")]
    return [literal_column(f"{table.name}.rowid").label("rid")]


def due_oldest(database: str, days: ClaimDays | None) -> CTE:
    """The `b_limit` oldest due deliveries (id, next_attempt_at; on PostgreSQL tid too),
    locked on PostgreSQL.

    On PostgreSQL, SKIP LOCKED lets concurrent claimers take disjoint rows without waiting
    for each other, and MATERIALIZED makes the planner evaluate the locked selection exactly
    once."""
    due = (
        select(*_row_ids(database, deliveries), deliveries.c.next_attempt_at)
        .where(
            deliveries.c.status == PENDING,
            deliveries.c.next_attempt_at <= _now(),
            not_leased(deliveries, _now()),
            *of_days(deliveries, days),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(_limit())
    )
    if database == "postgresql":
        return due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
    return due.cte("due")


def fair_due(database: str, days: ClaimDays | None) -> Select[Any]:
    """The ids to claim (on PostgreSQL with their tid): each account's share of its due
    deliveries, then the oldest due, `b_limit` in all."""
    shares = _shares(database, days)
    oldest = due_oldest(database, days)
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


def others_due(database: str, days: ClaimDays | None) -> Select[Any]:
    """The ids to claim (on PostgreSQL with their tid) for a worker that holds all it may
    claim: the shares of the accounts not in `b_holding` (the accounts whose deliveries it
    holds), `b_limit` in all, and no oldest to fill the batch."""
    shares = _shares(database, days, holding=True)
    return select(*(shares.c[n] for n in _names(database)))


def _names(database: str) -> tuple[str, ...]:
    return ("id", "tid") if database == "postgresql" else ("rid",)


def _shares(database: str, days: ClaimDays | None, *, holding: bool = False) -> CTE:
    """Up to `b_per_account` due deliveries of each account met on the walk (but those in
    `b_holding`), `b_limit` in all: their ids."""
    walk = _walk(days)
    if holding:
        held = in_list(database, column=walk.c.account_id, name="b_holding")
        walk = select(walk.c.account_id).where(~held).cte("others")
    mine = deliveries.alias("mine")
    share = (
        select(*_row_ids(database, mine))
        .where(
            _of_account(database, mine.c.account_id, walk.c.account_id),
            mine.c.status == PENDING,
            mine.c.next_attempt_at <= _now(),
            not_leased(mine, _now()),
            *of_days(mine, days),
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


def _walk(days: ClaimDays | None) -> CTE:
    """The accounts with pending deliveries: from `b_from` upwards, then from the smallest
    up to `b_from`."""
    start = bindparam("b_from", type_=String)
    first = _first_account("upwards_first", days, at_least=start)
    upwards = _accounts("upwards", days, first=first)
    first = _first_account("wrapped_first", days, at_least=None)
    wrapped = _accounts("wrapped", days, first=first)
    return union_all(
        select(upwards.c.account_id),
        select(wrapped.c.account_id).where(wrapped.c.account_id < start),
    ).cte("walk")


def _accounts(name: str, days: ClaimDays | None, *, first: ColumnElement[str]) -> CTE:
    """The accounts with pending deliveries in id order from `first`: a recursive query,
    each step one index probe for the next larger account id (NULL after the last)."""
    seed = select(first.label("account_id")).cte(name, recursive=True)
    following = deliveries.alias(f"{name}_next")
    step = (
        select(following.c.account_id)
        .where(
            following.c.status == PENDING,
            following.c.account_id > seed.c.account_id,
            *of_days(following, days),
        )
        .order_by(following.c.account_id)
        .limit(_ONE)
        .correlate(seed)
        .scalar_subquery()
    )
    return seed.union_all(select(step).where(seed.c.account_id.is_not(None)))


def _first_account(
    name: str, days: ClaimDays | None, *, at_least: ColumnElement[str] | None
) -> ColumnElement[str]:
    """The smallest account id with pending deliveries (at least `at_least`)."""
    first = deliveries.alias(name)
    where = [first.c.status == PENDING, *of_days(first, days)]
    if at_least is not None:
        where.append(first.c.account_id >= at_least)
    return (
        select(first.c.account_id)
        .where(*where)
        .order_by(first.c.account_id)
        .limit(_ONE)
        .scalar_subquery()
    )
