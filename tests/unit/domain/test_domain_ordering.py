"""The ordering rules as tables: which resource an event is about, how events are numbered,
and which of an ordered webhook's deliveries go when."""

from __future__ import annotations

from typing import Any

import pytest

from hookcast.domain.formats import FORMATS
from hookcast.domain.models import DeliveryStatus, Event
from hookcast.domain.ordering import (
    ChainBook,
    admit,
    number_events,
    resource_key,
    sequence_counts,
    sequence_headers,
)
from support import factories as make

PENDING, WAITING = DeliveryStatus.PENDING, DeliveryStatus.WAITING


def _event(type_: str, account: str = "acct0001", **ids: str) -> Event:
    return make.event(account, type=type_, resource_ids=ids)


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (_event("media_available", media_id="MNYaMSQl"), "media:MNYaMSQl"),
        # thumbnails and tracks are about their media, whichever id is primary
        (
            _event("thumbnail_created", thumbnail_id="k9x00iro", media_id="MNYaMSQl"),
            "media:MNYaMSQl",
        ),
        (_event("track_deleted", track_id="VHsQNYq9", media_id="MNYaMSQl"), "media:MNYaMSQl"),
        (_event("channel_active", channel_id="YijbmYHJ"), "channel:YijbmYHJ"),
        (_event("channel_recording_ready", channel_id="YijbmYHJ"), "channel:YijbmYHJ"),
        (_event("webhook_test"), None),
    ],
)
def test_an_events_resource_is_its_media_or_its_channel(event: Event, key: str | None) -> None:
    assert resource_key(event) == key


def test_events_are_numbered_per_account_and_resource_in_publish_order() -> None:
    batch = [
        _event("media_created", media_id="A"),
        _event("media_created", media_id="B"),
        _event("media_updated", media_id="A"),
        _event("media_created", account="acct0002", media_id="A"),
        _event("webhook_test"),
        _event("media_deleted", media_id="A"),
    ]
    counts = sequence_counts(batch)
    assert counts == {
        ("acct0001", "media:A"): 3,
        ("acct0001", "media:B"): 1,
        ("acct0002", "media:A"): 1,
    }
    assert list(counts) == sorted(counts)  # the order the store locks counters in
    # The counters read after the bump: media A had 4 numbers given before this batch.
    last = {("acct0001", "media:A"): 7, ("acct0001", "media:B"): 1, ("acct0002", "media:A"): 1}
    assert [e.sequence for e in number_events(batch, last)] == [5, 1, 6, 1, None, 7]


@pytest.mark.parametrize(
    ("sequences", "busy", "statuses"),
    [
        ([4, 2, 3], False, [WAITING, PENDING, WAITING]),  # the lowest goes, whatever the order
        ([4, 2, 3], True, [WAITING, WAITING, WAITING]),  # all wait behind an unfinished one
        ([1], False, [PENDING]),
        ([], False, []),
    ],
)
def test_admit_lets_only_the_lowest_of_a_free_chain_go(
    sequences: list[int], busy: bool, statuses: list[DeliveryStatus]
) -> None:
    assert admit(sequences, chain_busy=busy) == statuses


@pytest.mark.parametrize(
    ("steps", "heads"),
    [
        # (action, argument) -> what was made due
        ([("publish", [("d1", 1), ("d2", 2), ("d3", 3)])], [["d1"]]),
        (
            [("publish", [("d1", 1), ("d2", 2)]), ("finish", "d1"), ("finish", "d2")],
            [["d1"], "d2", None],
        ),
        # a later publish waits behind the unfinished head, then goes in sequence order
        (
            [("publish", [("d1", 1)]), ("publish", [("d3", 3), ("d2", 2)]), ("finish", "d1")],
            [["d1"], [], "d2"],
        ),
        # finishing a delivery that is not a head (a manual resend) moves nothing
        ([("publish", [("d1", 1), ("d2", 2)]), ("finish", "d2")], [["d1"], None]),
        # once a chain ended, the next publish goes at once
        (
            [("publish", [("d1", 1)]), ("finish", "d1"), ("publish", [("d2", 2)])],
            [["d1"], None, ["d2"]],
        ),
    ],
)
def test_a_chain_sends_one_at_a_time_in_sequence_order(
    steps: list[tuple[str, object]], heads: list[object]
) -> None:
    book = ChainBook()
    made_due: list[object] = []
    for action, argument in steps:
        if action == "publish":
            made_due.append(book.publish("media:A", argument))  # type: ignore[arg-type]
        else:
            made_due.append(book.finish(argument))  # type: ignore[arg-type]
    assert made_due == heads


def test_other_resources_are_never_held_back() -> None:
    book = ChainBook()
    book.publish("media:A", [("a1", 1), ("a2", 2)])  # a1 never finishes (failing endpoint)
    assert book.publish("media:B", [("b1", 1)]) == ["b1"]
    assert book.head("media:A") == "a1"


def test_the_headers_name_the_resource_and_the_number() -> None:
    event = _event("media_updated", media_id="MNYaMSQl")
    assert sequence_headers(event) == {}  # not numbered yet
    numbered = number_events([event], {("acct0001", "media:MNYaMSQl"): 12})[0]
    assert sequence_headers(numbered) == {
        "X-Hookcast-Resource": "media:MNYaMSQl",
        "X-Hookcast-Sequence": "12",
    }


@pytest.mark.parametrize(
    ("format_name", "path"),
    [("jwplayer", ("sequence",)), ("standard", ("data", "sequence"))],
)
def test_formats_with_room_for_it_carry_the_number_in_the_body(
    format_name: str, path: tuple[str, ...]
) -> None:
    event = number_events(
        [_event("media_updated", media_id="MNYaMSQl")], {("acct0001", "media:MNYaMSQl"): 5}
    )[0]
    body: Any = FORMATS[format_name].body(event, webhook_id="2yW4KmiG", delivery_id="dlv_1")
    for key in path:
        body = body[key]
    assert body == 5


@pytest.mark.parametrize(
    ("format_name", "event_type"),
    [
        ("apivideo", "rendition_ready"),
        ("flowplayer", "media_updated"),
        ("mediamanager", "media_updated"),
    ],
)
def test_formats_mimicking_a_platform_keep_its_body_exactly(
    format_name: str, event_type: str
) -> None:
    """Their receivers parse another platform's schema: the number goes in headers only."""
    plain = _event(event_type, media_id="MNYaMSQl")
    numbered = number_events([plain], {("acct0001", "media:MNYaMSQl"): 5})[0]
    wire = FORMATS[format_name]
    assert wire.body(numbered, webhook_id="w", delivery_id="d") == wire.body(
        plain, webhook_id="w", delivery_id="d"
    )
