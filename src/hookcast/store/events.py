"""Events: the durable log of what was published, and the per-event delivery summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, bindparam, func, select

from hookcast.domain.models import DeliveryStatus, Event
from hookcast.ports import EventQuery, EventSummary, EventValues, Page
from hookcast.store.connector import Row, Transaction
from hookcast.store.rows import event_from_row, event_values
from hookcast.store.sql import count, in_list, insert_ignoring, paginate
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, events
from hookcast.store.types import dump_json
from hookcast.store.unnest import unnest_insert, unnest_values

__all__ = [
    "first_of_each_key",
    "insert_new_events",
    "list_events",
    "load_event_values",
    "load_events",
]

EventKey = tuple[str, str]  # (account_id, event id)


def first_of_each_key(batch: Sequence[Event]) -> list[Event]:
    """The first event of each (account_id, id), in the order of those first ones: the order
    events are numbered in (domain/ordering.py). Built from the reversed batch, a dict kept
    each event's first value but placed it where it came last, so an event repeated by a
    later publish of the same group was numbered after events published behind it."""
    first: dict[EventKey, Event] = {}
    for event in batch:
        first.setdefault((event.account_id, event.id), event)
    return list(first.values())


async def insert_new_events(tx: Transaction, batch: Sequence[Event]) -> list[Event]:
    """Inserts the events whose (account_id, id) is new; returns those, in input order."""
    unique = first_of_each_key(batch)
    if not unique:
        return []
    rows = [event_values(event) for event in unique]
    if tx.database == "postgresql":
        result = await tx.fetch_all(_PG_INSERT_NEW, unnest_values(events, rows))
    else:
        result = await tx.fetch_each(_INSERT_NEW, rows)
    inserted = {(account_id, event_id) for account_id, event_id in result}
    return [event for event in unique if (event.account_id, event.id) in inserted]


async def load_events(tx: Transaction, keys: Collection[EventKey]) -> dict[EventKey, Event]:
    """The events with these keys, by key; one missing is not there."""
    return {key: _loaded_event(row) for key, row in (await _loaded_rows(tx, keys)).items()}


async def load_event_values(
    tx: Transaction, keys: Collection[EventKey]
) -> dict[EventKey, EventValues]:
    """What a `ClaimedDelivery` carries of each of these events, by key (a slice of its
    row: no Event made); SQLite's claim shares it between the deliveries of one event."""
    return {key: row[2:9] for key, row in (await _loaded_rows(tx, keys)).items()}


async def _loaded_rows(tx: Transaction, keys: Collection[EventKey]) -> dict[EventKey, Row]:
    if not keys:
        return {}
    # Per account `account_id = ? AND id IN (...)`, not `(account_id, id) IN (VALUES ...)`:
    # SQLite plans the row-value form as a scan of the whole events table, once per claim
    # (measured: claims of ~50 deliveries took ~115 ms with 5,000 events stored, growing
    # with the table); this form is a primary-key search on both databases.
    by_account: defaultdict[str, list[str]] = defaultdict(list)
    for account_id, event_id in keys:
        by_account[account_id].append(event_id)
    loaded: dict[EventKey, Row] = {}
    for account_id, event_ids in by_account.items():  # one query per account in the batch
        values = {"account_id": account_id, "ids": event_ids}
        for row in await tx.fetch_all(_IN_ACCOUNT, values):
            loaded[(row[0], row[1])] = row
    return loaded


# Every claim on SQLite loads its deliveries' events here, as tuples: the columns from
# `site_id` to `traceparent` are `EventValues`, in its order (`load_event_values`).
_LOADED = (
    "account_id",
    "id",
    "site_id",
    "type",
    "resource_ids",
    "event_time",
    "data",
    "sequence",
    "traceparent",
    "created",
)


def _loaded_event(row: Row) -> Event:
    """An event from a row of `_LOADED`'s columns, loaded."""
    account_id, id_, site_id, type_, resource_ids, event_time, data, sequence, trace, created = row
    return Event(
        id=id_,
        account_id=account_id,
        site_id=site_id,
        type=type_,
        resource_ids=resource_ids,
        event_time=event_time,
        data=data,
        created=created,
        sequence=sequence,
        traceparent=trace,
    )


# Both run for every publish or claim.
_INSERT_NEW = Statement(
    lambda database: insert_ignoring(
        database, table=events, conflict_on=("account_id", "id"), returning=("account_id", "id")
    )
)
# All rows in one statement (store/unnest.py), in key order as every publish inserts events
# (store/append_postgres.py too): two transactions inserting some of the same events, in
# whatever order their publishers sent them, never wait for each other in a cycle.
_PG_INSERT_NEW = Statement(
    lambda _database: unnest_insert(
        events,
        tail="ON CONFLICT (account_id, id) DO NOTHING RETURNING account_id, id",
        order_by=("account_id", "id"),
    )
)
_IN_ACCOUNT = Statement(
    lambda database: select(*(events.c[name] for name in _LOADED)).where(
        events.c.account_id == bindparam("account_id"), in_list(database, column=events.c.id)
    )
)


def _filters(query: EventQuery, *, database: str) -> list[ColumnElement[bool]]:
    filters = [events.c.account_id == query.account_id]
    if query.type is not None:
        filters.append(events.c.type == query.type)
    if query.site_id is not None:
        filters.append(events.c.site_id == query.site_id)
    if query.resource_id is not None:
        filters.append(has_resource_id(query.resource_id, database=database))
    return filters


def has_resource_id(resource_id: str, *, database: str) -> ColumnElement[bool]:
    # resource_ids is compact orjson text, {"media_id":"MNYaMSQl",...}: a value is the only
    # thing preceded by a colon, and quotes inside values are escaped, so ':"<id>"' occurs
    # exactly in the events holding that id as a value. A plain substring test (not LIKE,
    # which SQLite folds to case-insensitive) keeps both databases exact and alike. It scans
    # the account's events: acceptable for a filter people type in.
    needle = ":" + dump_json(resource_id)
    position = func.strpos if database == "postgresql" else func.instr
    return position(events.c.resource_ids, needle) > 0


async def list_events(tx: Transaction, query: EventQuery) -> Page[EventSummary]:
    filters = _filters(query, database=tx.database)
    newest_first = (
        select(events).where(*filters).order_by(events.c.created.desc(), events.c.id.desc())
    )
    rows = await tx.fetch_mappings(paginate(newest_first, query.page))
    page = [event_from_row(row) for row in rows]
    counts = await _delivery_counts(tx, query.account_id, [event.id for event in page])
    items = [EventSummary(event=event, deliveries=counts[event.id]) for event in page]
    return Page(items=items, total=await count(tx, events, *filters))


async def _delivery_counts(
    tx: Transaction, account_id: str, event_ids: list[str]
) -> defaultdict[str, dict[DeliveryStatus, int]]:
    """Deliveries per status for each event of a page, in one grouped query."""
    counts: defaultdict[str, dict[DeliveryStatus, int]] = defaultdict(_zero_counts)
    if not event_ids:
        return counts
    values = {"account_id": account_id, "ids": event_ids}
    for event_id, status, number in await tx.fetch_all(_COUNTS, values):
        counts[event_id][DeliveryStatus(status)] = int(number)
    return counts


_COUNTS = Statement(
    lambda database: (
        select(deliveries.c.event_id, deliveries.c.status, func.count())
        .where(
            deliveries.c.account_id == bindparam("account_id"),
            in_list(database, column=deliveries.c.event_id),
        )
        .group_by(deliveries.c.event_id, deliveries.c.status)
    )
)


def _zero_counts() -> dict[DeliveryStatus, int]:
    return dict.fromkeys(DeliveryStatus, 0)
