"""Building blocks shared by the per-aggregate modules' statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import PageRequest
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.types import JsonText

__all__ = [
    "NOTIFY_CHANNEL",
    "count",
    "in_list",
    "insert_ignoring",
    "lock_in_order",
    "notify",
    "paginate",
    "written_status",
]

NOTIFY_CHANNEL = "hookcast_deliveries"


def in_list(database: str, *, column: ColumnElement[Any], name: str = "ids") -> ColumnElement[bool]:
    """`column` is one of the values bound as `name` (a list), with one parameter whatever
    the list's length, so the statement compiles once: `= ANY(array)` on PostgreSQL, and on
    SQLite `IN (SELECT value FROM json_each(:name))`, the list sent as one JSON array."""
    if database == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    values = func.json_each(bindparam(name, type_=JsonText)).table_valued("value")
    return column.in_(select(values.c.value))


def written_status(status: DeliveryStatus) -> ColumnElement[str]:
    """`status` written into the SQL, not bound: the predicate of a partial index of
    deliveries (pending, paused, waiting, held), which a bound status cannot be proved to
    imply (SQLite never uses the index then, and PostgreSQL's generic plan, kept after five
    runs of a prepared statement, cannot)."""
    return literal_column(f"'{status.value}'", String)


def lock_in_order(column: ColumnElement[Any]) -> Statement:
    """A statement locking (FOR UPDATE) the rows whose `column` is one of the list bound as
    `ids`, in that column's order, so that two transactions locking overlapping sets wait
    for each other rather than deadlock. It selects `column` of the rows that exist: a
    caller may read them to pass over the ids deleted meanwhile."""
    return Statement(
        lambda database: (
            select(column)
            .where(in_list(database, column=column))
            .order_by(column)
            .with_for_update()
        )
    )


def insert_ignoring(
    database: str, *, table: Table, conflict_on: tuple[str, ...], returning: tuple[str, ...] = ()
) -> Insert:
    """INSERT ... ON CONFLICT (conflict_on) DO NOTHING [RETURNING ...] for `database`."""
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict_on))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def paginate(query: Select[Any], page: PageRequest) -> Select[Any]:
    if page.page < 1 or page.page_length < 1:
        raise ValidationFailed("page and page_length must be at least 1", field="page")
    return query.limit(page.page_length).offset((page.page - 1) * page.page_length)


async def count(tx: Transaction, table: Table, *where: ColumnElement[bool]) -> int:
    """How many rows of `table` match `where` (a list page's total)."""
    row = await tx.fetch_one(select(func.count()).select_from(table).where(*where))
    return int(row[0] or 0) if row else 0


_NOTIFY = Statement(lambda _database: select(func.pg_notify(NOTIFY_CHANNEL, "")))


async def notify(tx: Transaction) -> None:
    """Tells workers in other processes (LISTENing on PostgreSQL) that deliveries may be due.

    Sent inside the publishing transaction: PostgreSQL delivers it only on commit, so a woken
    worker always finds the rows committed. SQLite has no other process to tell.
    """
    if tx.database == "postgresql":
        await tx.fetch_all(_NOTIFY)
