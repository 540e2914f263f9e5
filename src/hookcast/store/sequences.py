"""Sequence numbers: each event about a resource gets the next number of its (account,
resource), in the transaction that first stores it (domain/ordering.py has the rules).

One upsert per publish transaction, whatever the number of events or resources: each counter
moves by the number of events the batch carries for that resource and returns where it
ended. Its
row lock (PostgreSQL; SQLite has one writer) is held to the commit, so two publishes about
one resource take their numbers one after the other, and the locks are taken in sorted key
order, so they never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, String, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from hookcast.domain.models import Event
from hookcast.domain.ordering import (
    ResourceKey,
    number_events,
    resource_key,
    sequence_counts,
    with_sequence,
)
from hookcast.store import events as event_sql
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import events, resource_sequences
from hookcast.store.types import JsonText

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
    """Moves each counter by its count, all in one statement (one per row took a fifth of
    SQLite's publish throughput), in sorted key order; returns where each ended."""
    if not counts:
        return {}
    if tx.database == "postgresql":
        values: dict[str, object] = {
            "b_accounts": [account_id for account_id, _ in counts],
            "b_keys": [key for _, key in counts],
            "b_counts": list(counts.values()),
        }
    else:
        values = {"b_rows": [[account_id, key, n] for (account_id, key), n in counts.items()]}
    returned = await tx.fetch_all(_BUMP, values)
    return {(account_id, key): int(last) for account_id, key, last in returned}


_PG_BUMP = text("""
    INSERT INTO resource_sequences (account_id, resource_key, last_seq)
    SELECT a, k, n FROM unnest(:b_accounts, :b_keys, :b_counts) AS r(a, k, n) ORDER BY a, k
    ON CONFLICT (account_id, resource_key)
    DO UPDATE SET last_seq = resource_sequences.last_seq + excluded.last_seq
    RETURNING account_id, resource_key, last_seq
""").bindparams(
    bindparam("b_accounts", type_=ARRAY(String)),
    bindparam("b_keys", type_=ARRAY(String)),
    bindparam("b_counts", type_=ARRAY(BigInteger)),
)
# "WHERE true": SQLite's parser would otherwise read ON CONFLICT as part of the SELECT's join.
_SQLITE_BUMP = text("""
    INSERT INTO resource_sequences (account_id, resource_key, last_seq)
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(:b_rows) WHERE true
    ORDER BY 1, 2
    ON CONFLICT (account_id, resource_key)
    DO UPDATE SET last_seq = resource_sequences.last_seq + excluded.last_seq
    RETURNING account_id, resource_key, last_seq
""").bindparams(bindparam("b_rows", type_=JsonText))
_BUMP = Statement(  # once per publish transaction
    lambda database: _PG_BUMP if database == "postgresql" else _SQLITE_BUMP
)


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
        renumbered.append(with_sequence(event, seq))
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
