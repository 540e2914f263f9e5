"""A group of publishes on PostgreSQL in two statements instead of about eight (one publish
written alone may be one statement instead: store/append_at_once.py).

store/append.py runs one statement per step (configuration versions, counters, events,
webhook locks, deliveries, the workers' wake-up), each a round trip that the group's
transaction, and every publish waiting on it, sits through. Here:

1. `NUMBERING` checks the accounts' configuration versions, finds which events are stored
   already (a publisher's retry), and moves the resource counters by the others' counts,
   locking the counters in sorted key order until commit, as store/sequences.py does.
2. The events are numbered and fanned out here; then `_STORE` inserts the events, key-share-
   locks the webhooks, inserts the deliveries of the events it inserted to the webhooks
   that still exist, and notifies the workers if any is due; the deliveries it made
   pending to a webhook paused since the publish's check are then paused. It returns the
   leased ones it stored to a webhook enabled as locked: the only ones the publisher's
   worker may be handed (store/append.py `Written`).

Deliveries that need more than an insert (to ordered webhooks: chains; coalescing ones:
latest wins; held ones: webhook_held) go through store/append.py's statements after step 1.

`Contended` is raised, rolling the transaction back, when this cannot finish as
store/append.py would: a publish's configuration moved (it must be refused alone), or an
event counted as new in step 1 was stored by a concurrent transaction before step 2 (the
same event id published twice at once: its number would leave a gap). The group commit
then writes the group through store/append.py, which handles both.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import BigInteger, Boolean, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.domain.ordering import number_events, resource_key
from hookcast.store.append import Publish, Written, fan_out, store_deliveries
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.deliveries import mark_by_hand, pause_made
from hookcast.store.events import first_of_each_key, insert_new_events
from hookcast.store.rows import delivery_values, event_values
from hookcast.store.sql import NOTIFY_CHANNEL
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, events, written_columns
from hookcast.store.unnest import unnest_parameters, unnest_source, unnest_values

__all__ = ["NUMBERING", "Contended", "append_on_postgres", "only_inserted"]


class Contended(Exception):
    """The group must be written by store/append.py instead (see the module's docstring)."""


async def append_on_postgres(
    tx: Transaction, publishes: Sequence[Publish], *, box: SecretBox
) -> Written:
    """What `append_together` does, in two statements when the deliveries need only an
    insert; raises `Contended` (roll back, then use `append_together`) when a publish's
    configuration moved or a concurrent publish stored one of these events first."""
    candidates = first_of_each_key([event for publish in publishes for event in publish.events])
    new, last = await _number(tx, publishes, candidates)
    numbered = number_events(new, last)
    ids, fanned_out = fan_out(publishes, {(e.account_id, e.id): e for e in numbered})
    if not numbered:  # every event was stored already
        return Written(ids, 0, set())
    if all(only_inserted(delivery) for delivery in fanned_out):
        due = sum(1 for delivery in fanned_out if delivery.lease_token is None)
        inserted, paused, handed = await _store(tx, numbered, fanned_out, wake=due > 0)
        if inserted < len(numbered):
            raise Contended()
        await mark_by_hand(tx, fanned_out)
        if paused:
            await pause_made(tx, _paused_meanwhile(publishes, fanned_out, paused))
        return Written(ids, due, handed)
    if len(await insert_new_events(tx, numbered)) < len(numbered):
        raise Contended()
    return Written(ids, *await store_deliveries(tx, fanned_out, checked=True, box=box))


def only_inserted(delivery: Delivery) -> bool:
    """Whether storing the delivery is an INSERT and nothing else (not ordered, coalescing
    or held)."""
    return (
        delivery.resource_key is None
        and delivery.coalesce_key is None
        and delivery.status is not DeliveryStatus.HELD
    )


def _paused_meanwhile(
    publishes: Sequence[Publish], fanned_out: Sequence[Delivery], paused: Collection[str]
) -> list[str]:
    """The deliveries a checked publish made pending to one of the `paused` webhooks: it read
    them enabled (fan-out holds a disabled webhook's deliveries), and a pause committed
    after its configuration's check. A publish without `expect` (a person's test or
    example) goes to a disabled webhook on purpose."""
    checked = {
        (event.account_id, event.id)
        for publish in publishes
        if publish.expect is not None
        for event in publish.events
    }
    return [
        delivery.id
        for delivery in fanned_out
        if delivery.webhook_id in paused
        and delivery.status is DeliveryStatus.PENDING
        and (delivery.account_id, delivery.event_id) in checked
    ]


async def _number(
    tx: Transaction, publishes: Sequence[Publish], candidates: Sequence[Event]
) -> tuple[list[Event], dict[tuple[str, str], int]]:
    """Step 1: the candidates not stored yet, and where each of their counters ended."""
    expected = [publish.expect for publish in publishes if publish.expect is not None]
    values = {
        "v_accounts": [expect.account_id for expect in expected],
        "v_versions": [expect.version for expect in expected],
        "c_accounts": [event.account_id for event in candidates],
        "c_ids": [event.id for event in candidates],
        "c_keys": [resource_key(event) for event in candidates],
    }
    fresh = False
    stored: set[int] = set()
    last: dict[tuple[str, str], int] = {}
    for kind, account_id, key, number in await tx.fetch_all(NUMBERING, values):
        if kind == "fresh":
            fresh = True
        elif kind == "stored":
            stored.add(int(number))
        else:
            last[(account_id, key)] = int(number)
    if not fresh:
        raise Contended()
    return [event for n, event in enumerate(candidates, start=1) if n not in stored], last


async def _store(
    tx: Transaction, numbered: Sequence[Event], fanned_out: Sequence[Delivery], *, wake: bool
) -> tuple[int, list[str], set[str]]:
    """Step 2: inserts the events and their deliveries; returns how many events it inserted,
    the deliveries' webhooks that are disabled, as their locks found them, and the leased
    deliveries it inserted to the others (`Written.handed`: those of the disabled ones are
    paused next, or were made on purpose by a publish not checked)."""
    values: dict[str, object] = {
        **unnest_values(events, [event_values(event) for event in numbered], prefix="e_"),
        **unnest_values(deliveries, [delivery_values(d) for d in fanned_out], prefix="d_"),
        "w_ids": sorted({delivery.webhook_id for delivery in fanned_out}),
        "w_channel": NOTIFY_CHANNEL,
        "w_wake": wake,
    }
    row = await tx.fetch_one(_STORE, values)
    assert row is not None  # an aggregate always answers one row
    return int(row[0]), row[3] or [], set(row[4] or ())


# Rows of (kind, account, resource key, number): ("fresh", ...) if no expected version has
# moved; ("stored", _, _, n) for the n-th candidate (from 1) stored already; ("counter",
# account, key, last_seq) for each counter moved, only when fresh. `c_keys` is NULL for an
# event about no resource.
_PG_NUMBERS = text("""
WITH moved AS (
    SELECT 1 FROM unnest(CAST(:v_accounts AS VARCHAR[]), CAST(:v_versions AS BIGINT[]))
        AS expected(account_id, version)
    LEFT JOIN accounts ON accounts.id = expected.account_id
    WHERE accounts.config_version IS DISTINCT FROM expected.version
), candidates AS (
    SELECT c.account_id, c.id, c.resource_key, c.n
    FROM unnest(CAST(:c_accounts AS VARCHAR[]), CAST(:c_ids AS VARCHAR[]),
                CAST(:c_keys AS VARCHAR[])) WITH ORDINALITY AS c(account_id, id, resource_key, n)
), stored AS (
    SELECT c.n FROM candidates AS c
    WHERE EXISTS (SELECT FROM events WHERE events.account_id = c.account_id AND events.id = c.id)
), counted AS (
    SELECT c.account_id, c.resource_key, count(*) AS needed FROM candidates AS c
    WHERE c.resource_key IS NOT NULL AND NOT EXISTS (SELECT FROM moved)
        AND c.n NOT IN (SELECT n FROM stored)
    GROUP BY c.account_id, c.resource_key
), bumped AS (
    INSERT INTO resource_sequences (account_id, resource_key, last_seq)
    SELECT account_id, resource_key, needed FROM counted ORDER BY account_id, resource_key
    ON CONFLICT (account_id, resource_key)
    DO UPDATE SET last_seq = resource_sequences.last_seq + excluded.last_seq
    RETURNING account_id, resource_key, last_seq
)
SELECT 'fresh', NULL, NULL, 0 WHERE NOT EXISTS (SELECT FROM moved)
UNION ALL SELECT 'stored', NULL, NULL, n FROM stored
UNION ALL SELECT 'counter', account_id, resource_key, last_seq FROM bumped
""").bindparams(
    bindparam("v_accounts", type_=ARRAY(String)),
    bindparam("v_versions", type_=ARRAY(BigInteger)),
    bindparam("c_accounts", type_=ARRAY(String)),
    bindparam("c_ids", type_=ARRAY(String)),
    bindparam("c_keys", type_=ARRAY(String)),
)
NUMBERING = Statement(lambda _database: _PG_NUMBERS)  # once per publish group

_EVENT_COLUMNS = ", ".join(column.name for column in events.columns)
_DELIVERY_COLUMNS = ", ".join(column.name for column in written_columns(deliveries))
_PENDING = DeliveryStatus.PENDING.value
# Names from the table definitions, never from input; the values are bound parameters. Rows
# are inserted in key order, as store/events.py and store/deliveries.py insert them: two
# groups holding some of the same events (in whatever order their publishers sent them)
# then wait for each other at most one way, never in a cycle (a deadlock). A delivery is
# inserted only if its event was (`stored`) and its webhook still exists, locked to commit
# against a concurrent delete (`live`, in id order as every writer takes webhook rows);
# `woken` tells the workers of other processes on commit. FOR KEY SHARE, the lock the
# deliveries' foreign key check takes anyway and store/append.py's `lock_webhooks` too: FOR
# SHARE conflicts with the NO KEY UPDATE a worker's recording holds on its webhooks for its
# whole transaction, so publishes to a busy webhook queued behind recordings and recordings
# behind publishes (sampled at 500-2,000 events/s: 298-622 of ~6,000 samples of PostgreSQL's
# active backends were this statement waiting, none with KEY SHARE; docs/benchmarks/latency.md). A
# pause conflicts with it all the same: it locks its webhook FOR UPDATE before its UPDATE
# (store/webhooks.py `update_webhook`), so it waits for a publish that locked the webhook
# first and then pauses that publish's deliveries too, and a publish locking it after waits
# for the pause, finds the webhook disabled (`live.enabled`: the row as locked, its latest
# version) and pauses what it made pending (`_paused_meanwhile`), as if made just before
# the pause either way. Before, under FOR SHARE as under KEY SHARE, a publish that checked
# its configuration before a pause committed could store its deliveries pending, and the
# worker sent those made later than the pause's clock read (delivery/worker.py `_sendable`
# parked only those made no later than the webhook's `last_modified` then; it parks every
# one now, store/pausable.py).
_PG_STORE = text(f"""
WITH stored AS (
    INSERT INTO events ({_EVENT_COLUMNS})
    SELECT * FROM {unnest_source(events, prefix="e_")} AS e({_EVENT_COLUMNS})
    ORDER BY e.account_id, e.id
    ON CONFLICT (account_id, id) DO NOTHING
    RETURNING account_id, id
), live AS (
    SELECT id, enabled FROM webhooks WHERE id = ANY(CAST(:w_ids AS VARCHAR[])) ORDER BY id
    FOR KEY SHARE
), made AS (
    INSERT INTO deliveries ({_DELIVERY_COLUMNS})
    SELECT * FROM {unnest_source(deliveries, prefix="d_")} AS d({_DELIVERY_COLUMNS})
    WHERE d.webhook_id IN (SELECT id FROM live)
        AND (d.account_id, d.event_id) IN (SELECT account_id, id FROM stored)
    ORDER BY d.event_id, d.webhook_id
    ON CONFLICT DO NOTHING
    RETURNING id, webhook_id, status, lease_token
), woken AS (
    SELECT pg_notify(CAST(:w_channel AS TEXT), '') WHERE CAST(:w_wake AS BOOLEAN)
)
SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM made), (SELECT count(*) FROM woken),
    (SELECT array_agg(id) FROM live WHERE NOT enabled),
    (SELECT array_agg(made.id) FROM made JOIN live ON live.id = made.webhook_id
     WHERE live.enabled AND made.status = '{_PENDING}' AND made.lease_token IS NOT NULL)
""").bindparams(  # noqa: S608
    *unnest_parameters(events, prefix="e_"),
    *unnest_parameters(deliveries, prefix="d_"),
    bindparam("w_ids", type_=ARRAY(String)),
    bindparam("w_channel", type_=String),
    bindparam("w_wake", type_=Boolean),
)
_STORE = Statement(lambda _database: _PG_STORE)  # once per publish group
