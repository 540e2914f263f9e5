"""Sequence numbers: each event about a resource gets the next number of its (account,
resource), in the transaction that first stores it (domain/ordering.py has the rules).

One upsert per distinct resource per publish transaction, not per event: the counter moves
by the number of events the batch carries for that resource and returns where it ended. Its
row lock (PostgreSQL; SQLite has one writer) is held to the commit, so two publishes about
one resource take their numbers one after the other, and the locks are taken in sorted key
order, so they never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hookcast.domain.models import Event
from hookcast.domain.ordering import ResourceKey, number_events, resource_key, sequence_counts
from hookcast.store import events as event_sql
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import events, resource_sequences

__all__ = ["insert_numbered"]


async def insert_numbered(tx: Transaction, batch: Sequence[Event]) -> list[Event]:
    """Inserts the events whose (account_id, id) is new, each numbered within its resource;
    returns those, numbered, in input order."""
    unique = event_sql.first_of_each_key(batch)
    counts = sequence_counts(unique)
    last = await _bump(tx, counts)
    stored = await event_sql.insert_new_events(tx, number_events(unique, last))
    if len(stored) < len(unique) and counts:
        # Some were stored already (a publisher's retry, or a concurrent publish of the same
        # event id): their numbers were taken in vain. Still holding the counters' locks,
        # renumber the ones stored here so the numbers stay gapless.
        stored = await _close_gaps(tx, stored=stored, counts=counts, last=last)
    return stored


async def _bump(tx: Transaction, counts: dict[ResourceKey, int]) -> dict[ResourceKey, int]:
    rows = [
        {"account_id": account_id, "resource_key": key, "last_seq": n}
        for (account_id, key), n in counts.items()
    ]
    returned = await tx.fetch_each(_BUMP, rows)
    return {(account_id, key): int(last) for account_id, key, last in returned}


def _bump_statement(database: str) -> Insert:
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    statement = insert(resource_sequences)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "resource_key"],
        set_={"last_seq": resource_sequences.c.last_seq + statement.excluded.last_seq},
    ).returning(
        resource_sequences.c.account_id,
        resource_sequences.c.resource_key,
        resource_sequences.c.last_seq,
    )


_BUMP = Statement(_bump_statement)  # once per resource per publish transaction


async def _close_gaps(
    tx: Transaction,
    *,
    stored: list[Event],
    counts: dict[ResourceKey, int],
    last: dict[ResourceKey, int],
) -> list[Event]:
    next_seq = {key: last[key] - n + 1 for key, n in counts.items()}
    renumbered: list[Event] = []
    for event in stored:
        key = resource_key(event)
        if key is None:
            renumbered.append(event)
            continue
        seq = next_seq[(event.account_id, key)]
        next_seq[(event.account_id, key)] = seq + 1
        renumbered.append(replace(event, sequence=seq))
    moved = [
        {"b_account_id": e.account_id, "b_id": e.id, "b_seq": e.sequence}
        for e, before in zip(renumbered, stored, strict=True)
        if e.sequence != before.sequence
    ]
    await tx.execute_many(_RENUMBER, moved)
    ends = [
        {"b_account_id": account_id, "b_key": key, "b_seq": seq - 1}
        for (account_id, key), seq in next_seq.items()
        if seq - 1 != last[(account_id, key)]
    ]
    await tx.execute_many(_SET_LAST, ends)
    return renumbered


_RENUMBER = Statement(
    lambda _: (
        update(events)
        .where(events.c.account_id == bindparam("b_account_id"), events.c.id == bindparam("b_id"))
        .values(sequence=bindparam("b_seq"))
    )
)
_SET_LAST = Statement(
    lambda _: (
        update(resource_sequences)
        .where(
            resource_sequences.c.account_id == bindparam("b_account_id"),
            resource_sequences.c.resource_key == bindparam("b_key"),
        )
        .values(last_seq=bindparam("b_seq"))
    )
)
