"""A claim hands out each delivery's event as published, its `data` decoded once per event
however many of its deliveries the claim holds: on PostgreSQL every claimed row carries its
event (store/deliveries.py `_with_events`), and decoding a 254 KB event's `data` again for
each of its webhooks stalled the workers' loops (docs/reliability.md, "Noisy neighbour")."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from hookcast.domain.models import Event
from hookcast.store import SqlStore
from support import factories as make

WEBHOOKS = 3


async def test_a_claim_decodes_each_events_data_once_for_all_its_deliveries(
    store: SqlStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hooks = [make.webhook(acme.id, name=f"Hook {n}") for n in range(WEBHOOKS)]
    for hook in hooks:
        await store.create_webhook(hook)
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

    by_event: dict[str, list[Event]] = defaultdict(list)
    for item in claimed:
        by_event[item.event.id].append(item.event)
    assert sorted(by_event) == sorted(event.id for event in published)
    for event in published:
        events = by_event[event.id]
        assert len(events) == WEBHOOKS
        assert all(claimed_event is events[0] for claimed_event in events)  # one object
        assert events[0].data == event.data
    if database_url.startswith("postgres"):
        assert len(decoded) == 2  # the two events with data, once each
