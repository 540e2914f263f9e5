"""The payload examples of the platform docs HookCast was specified from, as the wire's
ground truth: each example's event, published to HookCast, reaches a webhook of that
platform's format with the example's keys, in its order, with its values and types.

The examples are read from the seed documents themselves (support.seeds), not copied here.
What differs, and why: `webhook_id` and `site_id` are the test's own webhook and property;
HookCast's jwplayer body adds `event_id` and `sequence` (docs/formats.md), which JW Player's
documented check accepts as it compares the token's claims with the whole body; api.video's
`emittedAt` is the example's instant in milliseconds (docs/formats.md#apivideo).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jwt
from delivery_harness import Deployment

from support.seeds import seed_doc

HOOKCAST_KEYS = ("event_id", "sequence")


def _jw_examples() -> list[dict[str, Any]]:
    """Seed 001's "Event Example" bodies, keys in their order."""
    text = seed_doc("001_09508375f633d904.txt").read_text()
    examples = [json.loads(block) for block in re.findall(r"^\{\n.*?\n\}$", text, re.M | re.S)]
    assert len(examples) == 13, "seed 001 lists 13 events, each with an example"
    return examples


async def test_every_jw_player_example_arrives_as_documented(hookcast: Deployment) -> None:
    examples = _jw_examples()
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(receiver.url, events=["*"])
    hookcast.start_worker()

    published = [
        {key: value for key, value in example.items() if key not in ("webhook_id", "site_id")}
        for example in examples
    ]
    ids = await hookcast.publish(*published)
    await receiver.wait_for_events(set(ids))

    by_event = {item.payload["event"]: item for item in receiver.received}
    for example in examples:
        item = by_event[example["event"]]
        got = item.payload
        expected = {**example, "webhook_id": hook["id"], "site_id": hookcast.site_id}
        assert [(k, v) for k, v in got.items() if k not in HOOKCAST_KEYS] == list(expected.items())
        # JW Player's documented receiver check (seed 000): the claims equal the body.
        token = item.headers["Authorization"].split(" ")[1]
        assert jwt.decode(token, hook["secret"], algorithms=["HS256"]) == json.loads(item.body)


def _api_video_examples() -> dict[str, dict[str, str]]:
    """Seed 003's "Event properties": per event, its table's properties and example values."""
    text = seed_doc("003_951ab67f55b7330b.txt").read_text()
    events: dict[str, dict[str, str]] = {}
    for name, table in re.findall(r"^### `([a-z.-]+)`\n(.*?)(?=^#)", text, re.M | re.S):
        rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ")]
        cells = [[cell.strip().strip("`") for cell in row] for row in rows[1:]]
        events[name] = {row[0]: row[-1] for row in cells if not set(row[0]) <= {"-", ":"}}
    return events


# How a publisher tells HookCast each api.video event (the catalog's names, JW's shape):
# the event, then each api.video field's place in the publish (docs/formats.md#apivideo).
_PUBLISHED_AS = {
    "live-stream.broadcast.started": ("channel_active", {"liveStreamId": "channel_id"}),
    "live-stream.broadcast.ended": ("channel_idle", {"liveStreamId": "channel_id"}),
    "video.source.recorded": (
        "channel_recording_ready",
        {"liveStreamId": "channel_id", "videoId": "data.media_id"},
    ),
    "video.encoding.quality.completed": (
        "rendition_ready",
        {"videoId": "media_id", "encoding": "data.encoding", "quality": "data.quality"},
    ),
}


def _publish_of(name: str, example: dict[str, str]) -> dict[str, Any]:
    catalog_event, places = _PUBLISHED_AS[name]
    event: dict[str, Any] = {"event": catalog_event, "event_time": example["emittedAt"]}
    data: dict[str, str] = {}
    for field, place in places.items():
        if place.startswith("data."):
            data[place.removeprefix("data.")] = example[field]
        else:
            event[place] = example[field]
    return {**event, "data": data} if data else event


def _milliseconds(timestamp: str) -> str:
    """An RFC 3339 UTC time as api.video's signed example writes it: milliseconds and Z."""
    whole, _, fraction = timestamp.removesuffix("Z").partition(".")
    return f"{whole}.{(fraction + '000')[:3]}Z"


async def test_every_api_video_example_arrives_as_documented(hookcast: Deployment) -> None:
    examples = _api_video_examples()
    assert set(examples) == set(_PUBLISHED_AS), "seed 003 documents four events"
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(receiver.url, format="apivideo", events=["*"])
    hookcast.start_worker()

    # One at a time: api.video's bodies carry no event id to tell them apart by.
    for count, (name, example) in enumerate(examples.items(), start=1):
        await hookcast.publish(_publish_of(name, example))
        *_, item = await receiver.wait_for(count)
        # The documented properties, in the table's order, all strings as documented.
        assert item.payload == {**example, "emittedAt": _milliseconds(example["emittedAt"])}
        assert list(item.payload) == list(example)
        assert item.headers["X-Api-Video-WebhookID"] == hook["id"]
