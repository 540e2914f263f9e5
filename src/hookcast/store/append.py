"""The statements of `append_events`, for one publish or a group of them, on either
database: the events numbered and stored, their deliveries fanned out and inserted, the
workers told. store/group_commit.py groups publishes; store/append_postgres.py is the same
work in fewer statements on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hookcast.domain.models import Delivery, Event
from hookcast.ports import ConfigVersion, Fanout
from hookcast.store import accounts as account_sql
from hookcast.store import deliveries as delivery_sql
from hookcast.store import operational as operational_sql
from hookcast.store import sequences as sequence_sql
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.events import EventKey
from hookcast.store.sql import notify

__all__ = ["Publish", "Written", "append_together", "fan_out", "store_deliveries"]


@dataclass(frozen=True, slots=True, eq=False)
class Publish:
    """One append_events call: its events, their fan-out, the configuration version the
    fan-out read (None: not checked), and where to say which deliveries its worker may be
    handed (None: it has none)."""

    events: Sequence[Event]
    fanout: Fanout
    expect: ConfigVersion | None
    handover: set[str] | None = None  # ports/store.py `Store.append_events`


@dataclass(frozen=True, slots=True)
class Written:
    """What a group's transaction wrote: the ids each publish stored (None: its `expect`
    no longer held, it stored nothing), how many deliveries are due now (workers should
    be woken), and `handed`, the ids of the deliveries stored pending under a lease
    (fanout.py `Lease`) to a webhook enabled as the transaction locked it: the only ones
    a publisher's worker may be handed. One fan-out leased to a webhook paused, disabled
    or deleted by another process while the publish waited on its lock is stored paused,
    or not at all, and its worker, told of no edit in its own process, sent its copy."""

    stored: list[list[str] | None]
    due: int
    handed: set[str]


async def append_together(
    tx: Transaction, publishes: Sequence[Publish], *, box: SecretBox
) -> Written:
    """The statements of several publishes, run together (one INSERT of events, one of
    deliveries, whatever their number). Deliveries held for a disabled webhook publish its
    webhook_held event, once per run of them (`box` reads the account's webhooks then)."""
    outdated = await _outdated(tx, publishes)
    live = [publish for publish in publishes if publish not in outdated]
    stored = await sequence_sql.insert_numbered(tx, [e for p in live for e in p.events])
    new = {(event.account_id, event.id): event for event in stored}
    ids, fanned_out = fan_out(publishes, new, outdated=outdated)
    checked = all(publish.expect is not None for publish in live)
    due, handed = await store_deliveries(tx, fanned_out, checked=checked, box=box)
    return Written(ids, due, handed)


def fan_out(
    publishes: Sequence[Publish],
    new: Mapping[EventKey, Event],
    *,
    outdated: Sequence[Publish] = (),
) -> tuple[list[list[str] | None], list[Delivery]]:
    """The ids each publish stored (None for an `outdated` one) and the deliveries of the
    `new` events (newly stored, numbered). Each new event belongs to the first publish that
    carried it and is fanned out there only: a re-published event (same id) already has
    its deliveries. Fan-out gets the events numbered (deliveries to ordered webhooks carry
    the number)."""
    unclaimed = dict(new)
    ids: list[list[str] | None] = []
    fanned_out: list[Delivery] = []
    for publish in publishes:
        if publish in outdated:
            ids.append(None)
            continue
        mine = []
        for event in publish.events:
            numbered = unclaimed.pop((event.account_id, event.id), None)
            if numbered is not None:
                mine.append(numbered)
        ids.append([event.id for event in mine])
        if mine:
            fanned_out.extend(publish.fanout(mine))
    return ids, fanned_out


async def store_deliveries(
    tx: Transaction, fanned_out: Sequence[Delivery], *, checked: bool, box: SecretBox
) -> tuple[int, set[str]]:
    """Inserts a publish's deliveries (`checked`: every publish's configuration version was
    checked in this transaction), announces those held, tells the workers; returns how
    many are due now, and the leased ones a worker may be handed (`Written.handed`)."""
    telling = await operational_sql.may_tell(tx, fanned_out)
    handed: set[str] = set()
    if fanned_out:
        handed = await delivery_sql.insert_deliveries(
            tx, fanned_out, webhooks_exist=checked, updating=telling or ()
        )
    # Workers are woken for deliveries due now, not for those born leased to a worker
    # (fanout.Lease), which that worker already has.
    due = sum(1 for delivery in fanned_out if delivery.lease_token is None)
    due += await operational_sql.announce_held(tx, fanned_out, telling=telling, box=box)
    if due:
        await notify(tx)
    return due, handed


async def _outdated(tx: Transaction, publishes: Sequence[Publish]) -> list[Publish]:
    """The publishes whose account's configuration moved since their fan-out read it."""
    expected = [publish.expect for publish in publishes if publish.expect is not None]
    if not expected:
        return []
    versions = await account_sql.config_versions(tx, {e.account_id for e in expected})
    return [
        publish
        for publish in publishes
        if publish.expect is not None
        and versions.get(publish.expect.account_id) != publish.expect.version
    ]
