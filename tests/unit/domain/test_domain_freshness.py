"""Latest wins and time-to-live as tables: which deliveries coalesce, which one of a group
goes, when a retry gives way, when an event is too old, and what max_age_seconds accepts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.formats import FORMATS
from hookcast.domain.freshness import (
    MAX_AGE_LIMIT,
    coalesce_key,
    expired_by,
    newest_of_each,
    parse_max_age,
    retry_superseded,
)
from hookcast.domain.models import Event, Webhook
from support import factories as make

NOW = make.NOW


def _event(type_: str, sequence: int | None = 7, age: float = 0, **ids: str) -> Event:
    event = make.event(
        "acct0001",
        type=type_,
        resource_ids=ids,
        event_time=NOW - timedelta(seconds=age),
    )
    return replace(event, sequence=sequence)


def _hook(**overrides: Any) -> Webhook:
    return make.webhook("acct0001", **overrides)


COALESCING = _hook(coalesce=True)


@pytest.mark.parametrize(
    ("webhook", "event", "key"),
    [
        (COALESCING, _event("media_updated", media_id="M1"), "media_updated|media:M1"),
        (COALESCING, _event("channel_updated", channel_id="C1"), "channel_updated|channel:C1"),
        # not an update: every one is sent
        (COALESCING, _event("media_available", media_id="M1"), None),
        # the webhook does not ask for it (the default)
        (_hook(), _event("media_updated", media_id="M1"), None),
        # no media or channel, hence no sequence to tell newer from older
        (COALESCING, _event("livesource_updated", None, livesource_id="L1"), None),
        (COALESCING, _event("media_updated", None, media_id="M1"), None),
    ],
)
def test_coalesce_key(webhook: Webhook, event: Event, key: str | None) -> None:
    assert coalesce_key(webhook, event) == key


@pytest.mark.parametrize(
    ("keyed", "newest"),
    [
        ([], {}),
        ([(("w", "k"), 1)], {("w", "k"): 1}),
        ([(("w", "k"), 1), (("w", "k"), 3), (("w", "k"), 2)], {("w", "k"): 3}),
        # groups are per webhook and key
        (
            [(("w", "k"), 1), (("v", "k"), 2), (("w", "j"), 5)],
            {("w", "k"): 1, ("v", "k"): 2, ("w", "j"): 5},
        ),
    ],
)
def test_newest_of_each_group_goes(
    keyed: list[tuple[tuple[str, str], int]], newest: dict[tuple[str, str], int]
) -> None:
    assert newest_of_each(keyed) == newest


@pytest.mark.parametrize(
    ("sequence", "newest_known", "superseded"),
    [(3, None, False), (3, 3, False), (3, 2, False), (3, 4, True)],
)
def test_a_retry_gives_way_only_to_a_newer_update(
    sequence: int, newest_known: int | None, superseded: bool
) -> None:
    assert retry_superseded(sequence=sequence, newest_known=newest_known) is superseded


LIVE = {"channel_active": 600}


@pytest.mark.parametrize(
    ("limits", "event", "expired"),
    [
        ({}, _event("channel_active", age=10_000, channel_id="C1"), None),
        (LIVE, _event("channel_active", age=599, channel_id="C1"), None),
        (LIVE, _event("channel_active", age=600, channel_id="C1"), None),  # not older than
        (LIVE, _event("channel_active", age=601, channel_id="C1"), 600),
        # another event type has no limit
        (LIVE, _event("channel_idle", age=10_000, channel_id="C1"), None),
        # an event_time in the future (a publisher's clock ahead) is young
        (LIVE, _event("channel_active", age=-300, channel_id="C1"), None),
    ],
)
def test_expired_by(limits: dict[str, int], event: Event, expired: int | None) -> None:
    assert expired_by(_hook(max_age_seconds=limits), event, NOW) == expired


def test_limits_are_named_in_the_webhooks_format() -> None:
    # api.video calls channel_active "live-stream.broadcast.started"
    hook = _hook(format="apivideo", max_age_seconds={"live-stream.broadcast.started": 60})
    assert expired_by(hook, _event("channel_active", age=61, channel_id="C1"), NOW) == 60


@pytest.mark.parametrize(
    ("raw", "limits"),
    [
        (None, {}),
        ({}, {}),
        ({"channel_active": 600}, {"channel_active": 600}),
        ({"channel_active": 1, "media_updated": MAX_AGE_LIMIT}, None),
    ],
)
def test_max_age_accepted(raw: object, limits: dict[str, int] | None) -> None:
    assert parse_max_age(raw, FORMATS["jwplayer"]) == (raw if limits is None else limits)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([600], "must be an object"),
        ({"channel_on": 600}, "unknown event 'channel_on' for the jwplayer format"),
        ({"channel_active": "600"}, "whole number of seconds"),
        ({"channel_active": 60.5}, "whole number of seconds"),
        ({"channel_active": True}, "whole number of seconds"),
        ({"channel_active": 0}, "between 1 and"),
        ({"channel_active": MAX_AGE_LIMIT + 1}, "between 1 and"),
        # a jwplayer name in an api.video webhook
        ({"channel_active": 60}, None),
    ],
)
def test_max_age_refused(raw: object, says: str | None) -> None:
    wire = FORMATS["jwplayer" if says else "apivideo"]
    with pytest.raises(ValidationFailed) as refused:
        parse_max_age(raw, wire)
    assert refused.value.field == "max_age_seconds"
    assert (says or "unknown event 'channel_active' for the apivideo format") in str(refused.value)
