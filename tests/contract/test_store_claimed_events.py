"""A claim hands out each delivery's event as published, its `data` decoded once per event
however many of its deliveries the claim holds: on PostgreSQL the claim's rows carry the
events (store/deliveries.py `_with_events`), and decoding a 254 KB event's `data` again for
each of its webhooks stalled the workers' loops (docs/reliability.md, "Noisy neighbour").
PostgreSQL sends that text once per event in a claim, too: on one of its rows only."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from hookcast.domain.models import Account, Webhook
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore, deliveries
from support import factories as make

WEBHOOKS = 3


async def _account_with_webhooks(store: SqlStore) -> tuple[Account, list[Webhook]]:
    """A new account with WEBHOOKS webhooks."""
    acme = make.account()
    await store.create_account(acme)
    hooks = [make.webhook(acme.id, name=f"Hook {n}") for n in range(WEBHOOKS)]
    for hook in hooks:
        await store.create_webhook(hook)
    return acme, hooks


async def test_a_claim_decodes_each_events_data_once_for_all_its_deliveries(
    store: SqlStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, hooks = await _account_with_webhooks(store)
    nested: dict[str, Any] = {"bottom": True}
    for _ in range(10):
        nested = {"d": nested}
    text = "\u00e9\u2028x\U0001f600"  # two-, three- and four-byte UTF-8
    data = {"tags": [f"t{n}" for n in range(100)], "deep": nested, "text": text}
    published = [make.event(acme.id, data=data), make.event(acme.id, data={"n": 1})]
    published.append(make.event(acme.id))  # no data at all
    await store.append_events(events=published, fanout=make.fanout_to(*(h.id for h in hooks)))
    decoded: list[str] = []
    if database_url.startswith("postgres"):

        def loads(text: str) -> Any:
            decoded.append(text)
            return orjson.loads(text)

        monkeypatch.setattr("hookcast.store.deliveries.orjson", SimpleNamespace(loads=loads))

    claimed = await store.claim_due_deliveries(now=make.NOW, limit=20, lease_seconds=30)

    by_event: dict[str, list[ClaimedDelivery]] = defaultdict(list)
    for item in claimed:
        by_event[item.event_id].append(item)
    assert sorted(by_event) == sorted(event.id for event in published)
    for event in published:
        mine = by_event[event.id]
        assert len(mine) == WEBHOOKS
        assert all(item.data is mine[0].data for item in mine)  # one object
        assert all(make.carried(item) == make.as_claimed(event) for item in mine)
    if database_url.startswith("postgres"):
        assert len(decoded) == 2  # the two events with data, once each


@pytest.mark.postgres
async def test_postgres_sends_each_events_data_once_in_every_claim_that_holds_it(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, hooks = await _account_with_webhooks(pg_store)
    published = [make.event(acme.id, data={"n": n, "blob": "x" * 1000}) for n in range(2)]
    await pg_store.append_events(events=published, fanout=make.fanout_to(*(h.id for h in hooks)))
    carried: list[list[str]] = []  # per claim, the event of each row carrying `data` text
    claim_rows = deliveries._pg_claimed

    async def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = await claim_rows(*args, **kwargs)
        carried.append([row["event_id"] for row in rows if row["event_data"] is not None])
        return rows

    monkeypatch.setattr(deliveries, "_pg_claimed", counted)

    # The first claim takes some of an event's deliveries (4 of 6), the next one the rest.
    first = await pg_store.claim_due_deliveries(now=make.NOW, limit=WEBHOOKS + 1, lease_seconds=30)
    rest = await pg_store.claim_due_deliveries(now=make.NOW, limit=20, lease_seconds=30)

    for claim in (first, rest):
        assert sorted(carried.pop(0)) == sorted({item.event_id for item in claim})
        for item in claim:
            assert item.data == next(e.data for e in published if e.id == item.event_id)
    assert len(first) + len(rest) == 2 * WEBHOOKS
