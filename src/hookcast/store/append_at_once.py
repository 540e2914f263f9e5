"""A group of publishes on PostgreSQL in one autocommitted statement: no BEGIN, no COMMIT.

store/append_postgres.py writes a group in a transaction of four round trips (BEGIN, its
numbering statement, its storing statement, COMMIT). At 50 publishes a second each round
trip wakes the PostgreSQL backend and then the publisher (~130 µs of `send` alone per round
trip here, docs/benchmarks/postgres-low-rates.md "A claim in one round trip"), so the group's round
trips cost more than its statements. When every delivery the group makes is an INSERT and nothing
else, `PUBLISH` does all of it in one statement, which PostgreSQL commits as it ends
(store/group_commit.py uses it for a group of one publish written alone: see there why):

- it is refused, every write below reading `refused` and so writing nothing, when a
  publish's configuration version moved (it must be refused alone) or one of the events is
  stored already (a publisher's retry: fan-out must then see the new events only);
- it moves the resource counters of the events in sorted key order and numbers the events
  in SQL, in publish order, as domain/ordering.py's `number_events` does;
- it inserts the events, key-share-locks the deliveries' webhooks, inserts the deliveries
  to the webhooks that still exist, paused where a checked publish made them pending to a
  webhook paused since its check (`live.enabled`: the row as locked), and NOTIFYs the
  workers if a delivery is due.

The events are inserted without ON CONFLICT: one stored by a concurrent publish after the
statement's snapshot (the same event id published twice at once) fails the statement with
a unique violation, so no counter moves in vain (a gap) and nothing is written. Refused or
failed, the group is then written through store/append.py (`Contended`), which handles
both. Deliveries to ordered or coalescing webhooks carry their events' numbers, and held
ones announce themselves: those groups take store/append_postgres.py's path (`plan_at_once`
returns None). Deliveries leased to the publisher's worker (domain/fanout.py `Lease`) are
inserted as any other, with their lease; the worker is handed them with their events,
which must carry the numbers SQL gave them (the body's `sequence`), so the statement
returns those and the fan-out is called once more with the events as stored
(`append_at_once`): the same deliveries, ids included (ports/store.py `Fanout`), their
events numbered as stored. Which of them the worker may be handed the statement returns
too (`handed`: stored pending, leased, their webhook enabled as locked), not the fan-out:
one it made pending to a webhook paused, disabled or deleted by another process while the
statement waited on its lock was stored paused or not at all, and sent once all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.domain.ordering import number_events, resource_key, sequence_counts, with_sequence
from hookcast.store.append import Publish, Written, fan_out
from hookcast.store.append_postgres import Contended, only_inserted
from hookcast.store.connector import Transaction
from hookcast.store.events import first_of_each_key
from hookcast.store.rows import delivery_values, event_values
from hookcast.store.sql import NOTIFY_CHANNEL
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, events, written_columns
from hookcast.store.unnest import unnest_parameters, unnest_source, unnest_values

__all__ = ["PUBLISH", "AtOnce", "append_at_once", "plan_at_once", "publish_values"]


@dataclass(frozen=True, slots=True)
class AtOnce:
    """A group ready for `PUBLISH`: its events (the first of each key), as fan-out saw them
    (numbered from 1 in each resource), the ids each publish stores if all are new, and
    their deliveries."""

    publishes: Sequence[Publish]
    candidates: Sequence[Event]
    provisional: Sequence[Event]
    ids: list[list[str] | None]
    fanned_out: Sequence[Delivery]


def plan_at_once(publishes: Sequence[Publish]) -> AtOnce | None:
    """The group fanned out for `PUBLISH` as if every event were new, or None when a
    delivery needs more than an insert (a test's is marked, too). Fan-out sees the events
    numbered from 1 in each resource: a number decides only whether a delivery coalesces
    (domain/freshness.py), which sends the group the other way, so no delivery made here
    carries one."""
    candidates = first_of_each_key([event for publish in publishes for event in publish.events])
    provisional = number_events(candidates, sequence_counts(candidates))
    ids, fanned_out = fan_out(publishes, {(e.account_id, e.id): e for e in provisional})
    # A person's test or example is marked after its insert, in its transaction
    # (store/deliveries.py `mark_by_hand`): PUBLISH commits on its own.
    if not all(only_inserted(delivery) and not delivery.by_hand for delivery in fanned_out):
        return None
    return AtOnce(publishes, candidates, provisional, ids, fanned_out)


async def append_at_once(tx: Transaction, group: AtOnce) -> Written:
    """What `append_together` does, in `PUBLISH` on a connection outside a transaction.
    Raises `Contended`
    when the statement was refused (nothing was written), and the driver's unique
    violation (`Conflict` once translated) when a concurrent publish stored one of the
    events first (the statement failed whole)."""
    row = await tx.fetch_one(PUBLISH, publish_values(group))
    assert row is not None  # a SELECT of aggregates always answers one row
    done, due, _, handed, accounts, event_ids, numbers = row
    if not done:
        raise Contended()
    rows = zip(accounts or (), event_ids or (), numbers or (), strict=True)
    _fan_out_as_stored(group, {(account, event): number for account, event, number in rows})
    return Written(group.ids, int(due), set(handed or ()))


def _fan_out_as_stored(group: AtOnce, numbers: dict[tuple[str, str], int]) -> None:
    """Calls the fan-out once more with the events numbered as `PUBLISH` numbered them, when
    a number differs from the one fan-out saw (ports/store.py: the last call has the events
    as stored). Its deliveries are those stored (`Fanout`: ids included; none carries a
    number here); a delivery leased to the publisher's worker is handed over with its
    event as this call gets it (services/events.py), and its body says the number. The
    call costs ~13 µs for one event to one webhook (docs/benchmarks/postgres-low-rates.md, "A leased
    publish in one statement too"), and is made only when a resource had events before."""
    if all(numbers.get((e.account_id, e.id)) == e.sequence for e in group.provisional):
        return
    as_stored = {}
    for event in group.provisional:
        number = numbers.get((event.account_id, event.id))
        key = (event.account_id, event.id)
        as_stored[key] = event if number is None else with_sequence(event, number)
    fan_out(group.publishes, as_stored)


def publish_values(group: AtOnce) -> dict[str, object]:
    """The parameters `PUBLISH` runs with for `group`."""
    checked = {
        (event.account_id, event.id)
        for publish in group.publishes
        if publish.expect is not None
        for event in publish.events
    }
    expected = [publish.expect for publish in group.publishes if publish.expect is not None]
    return {
        "v_accounts": [expect.account_id for expect in expected],
        "v_versions": [expect.version for expect in expected],
        **unnest_values(events, [event_values(e) for e in group.candidates], prefix="e_"),
        "e_keys": [resource_key(event) for event in group.candidates],
        **unnest_values(deliveries, [delivery_values(d) for d in group.fanned_out], prefix="d_"),
        "w_ids": sorted({delivery.webhook_id for delivery in group.fanned_out}),
        # A publish without `expect` (a person's test or example) goes to a disabled
        # webhook on purpose: only a checked publish's pending deliveries are paused.
        "p_ids": [
            d.id
            for d in group.fanned_out
            if d.status is DeliveryStatus.PENDING and (d.account_id, d.event_id) in checked
        ],
        "w_channel": NOTIFY_CHANNEL,
    }


_EVENT_NAMES = [column.name for column in events.columns]
_DELIVERY_NAMES = [column.name for column in written_columns(deliveries)]
_EVENT_COLUMNS = ", ".join(_EVENT_NAMES)
_DELIVERY_COLUMNS = ", ".join(_DELIVERY_NAMES)
# The n-th of a resource's offered events (in publish order) takes the counter's value
# before this statement plus n; an event about no resource has no counter and no number.
_NUMBERED = ", ".join(
    "b.last_seq - count(*) OVER resource + row_number() OVER (resource ORDER BY o.n)"
    if name == "sequence"
    else f"o.{name}"
    for name in _EVENT_NAMES
)
_CANDIDATES = unnest_source(events, prefix="e_", more=["CAST(:e_keys AS VARCHAR[])"])
_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value
_MADE = ", ".join(
    f"CASE WHEN d.id = ANY(CAST(:p_ids AS VARCHAR[])) AND NOT live.enabled "
    f"THEN '{_PAUSED}' ELSE d.status END"
    if name == "status"
    else f"d.{name}"
    for name in _DELIVERY_NAMES
)
# Names and statuses from the table definitions and the domain, never from input; the
# values are bound parameters. Rows are written in the orders every publish writes them
# (counters by key, events by key, webhooks by id, deliveries by key: store/append.py and
# store/append_postgres.py), so concurrent writers wait for each other one way, never in a
# cycle. `refused` reads the statement's snapshot: an event stored since fails the INSERT
# into events (no ON CONFLICT; see the module's docstring), so every offered event is
# inserted or nothing is. The deliveries' count of `stored` runs that INSERT to its end
# before the first delivery is inserted: unordered, a CTE runs as far as its reader reads,
# and deliveries inserted ahead of their events, locking in another order than every other
# writer, deadlocked with a group of two statements (tried: test_two_groups_with_the_same_
# events_in_opposite_orders_both_succeed hung). No join by key with `stored` or between
# two unnests: estimated from parameters whose size a plan cannot know, either may be a
# nested loop, quadratic in a group of thousands of events (hence the resource keys as one
# more column of the events' unnest). The webhooks are locked FOR KEY
# SHARE as store/append_postgres.py's `_STORE` locks them and for the same reasons (a pause
# waits for it or it for the pause; a worker's recording does not). `due` counts what the
# workers may claim now: pending and not paused here (not leased to the publisher's
# worker). `numbered` returns the numbers the events were stored with, for the events a
# leased delivery is handed over with (`_fan_out_as_stored`); `handed` which leased
# deliveries were stored pending to a webhook enabled as locked, the only ones the worker
# may be handed (store/append.py `Written`): one paused here, or to a webhook deleted, is
# not (`live.enabled` and the join read the row a pause or delete committed meanwhile).
_PG_PUBLISH = text(f"""
WITH candidates AS (
    SELECT * FROM {_CANDIDATES} WITH ORDINALITY AS e({_EVENT_COLUMNS}, resource_key, n)
), refused AS (
    SELECT 1 FROM unnest(CAST(:v_accounts AS VARCHAR[]), CAST(:v_versions AS BIGINT[]))
        AS expected(account_id, version)
    LEFT JOIN accounts ON accounts.id = expected.account_id
    WHERE accounts.config_version IS DISTINCT FROM expected.version
    UNION ALL
    SELECT 1 FROM candidates AS c
    WHERE EXISTS (SELECT FROM events AS s WHERE s.account_id = c.account_id AND s.id = c.id)
), offered AS (
    SELECT * FROM candidates WHERE NOT EXISTS (SELECT FROM refused)
), bumped AS (
    INSERT INTO resource_sequences (account_id, resource_key, last_seq)
    SELECT account_id, resource_key, count(*) FROM offered WHERE resource_key IS NOT NULL
    GROUP BY account_id, resource_key ORDER BY account_id, resource_key
    ON CONFLICT (account_id, resource_key)
    DO UPDATE SET last_seq = resource_sequences.last_seq + excluded.last_seq
    RETURNING account_id, resource_key, last_seq
), stored AS (
    INSERT INTO events ({_EVENT_COLUMNS})
    SELECT {_NUMBERED} FROM offered AS o
        LEFT JOIN bumped AS b ON b.account_id = o.account_id AND b.resource_key = o.resource_key
    WINDOW resource AS (PARTITION BY o.account_id, o.resource_key)
    ORDER BY o.account_id, o.id
    RETURNING account_id, id, sequence
), numbered AS (
    SELECT array_agg(account_id) AS accounts, array_agg(id) AS ids,
        array_agg(sequence) AS numbers
    FROM stored WHERE sequence IS NOT NULL
), live AS (
    SELECT id, enabled FROM webhooks
    WHERE id = ANY(CAST(:w_ids AS VARCHAR[])) AND NOT EXISTS (SELECT FROM refused)
    ORDER BY id
    FOR KEY SHARE
), made AS (
    INSERT INTO deliveries ({_DELIVERY_COLUMNS})
    SELECT {_MADE} FROM {unnest_source(deliveries, prefix="d_")} AS d({_DELIVERY_COLUMNS})
        JOIN live ON live.id = d.webhook_id
    WHERE (SELECT count(*) FROM stored) > 0
    ORDER BY d.event_id, d.webhook_id
    ON CONFLICT DO NOTHING
    RETURNING id, webhook_id, status, lease_token
), due AS (
    SELECT count(*) AS n FROM made WHERE status = '{_PENDING}' AND lease_token IS NULL
), handed AS (
    SELECT array_agg(made.id) AS ids FROM made JOIN live ON live.id = made.webhook_id
    WHERE live.enabled AND made.status = '{_PENDING}' AND made.lease_token IS NOT NULL
), woken AS (
    SELECT pg_notify(CAST(:w_channel AS TEXT), '') FROM due WHERE n > 0
)
SELECT NOT EXISTS (SELECT FROM refused), (SELECT n FROM due), (SELECT count(*) FROM woken),
    (SELECT ids FROM handed), numbered.accounts, numbered.ids, numbered.numbers
FROM numbered
""").bindparams(  # noqa: S608
    bindparam("v_accounts", type_=ARRAY(String)),
    bindparam("v_versions", type_=ARRAY(BigInteger)),
    *unnest_parameters(events, prefix="e_"),
    bindparam("e_keys", type_=ARRAY(String)),
    *unnest_parameters(deliveries, prefix="d_"),
    bindparam("w_ids", type_=ARRAY(String)),
    bindparam("p_ids", type_=ARRAY(String)),
    bindparam("w_channel", type_=String),
)
PUBLISH = Statement(lambda _database: _PG_PUBLISH)  # once per publish group
