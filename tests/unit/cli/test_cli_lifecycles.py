"""The simulator's lifecycles: seeded, ordered like the platforms the seeds describe, and
consistent in their ids; plus the listener's bounded delays and failure shares."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from hookcast.cli.lifecycles import (
    channel_lifecycle,
    hls_qualities_up_to,
    interleave,
    simulation,
    upload_lifecycle,
)
from hookcast.cli.listen import Answer, parse_duration
from hookcast.cli.simulate import MAX_BATCH, batches
from hookcast.domain.catalog import EVENT_TYPES, HLS_QUALITIES
from hookcast.services.events import parse_event

SITE = "1A23bCD4"


def _names(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


def test_the_same_seed_gives_the_same_simulation() -> None:
    first = simulation(seed=7, site_id=SITE, uploads=5, channels=2)
    assert first == simulation(seed=7, site_id=SITE, uploads=5, channels=2)
    assert first != simulation(seed=8, site_id=SITE, uploads=5, channels=2)


@pytest.mark.parametrize("seed", range(20))
def test_an_upload_encodes_hls_up_to_the_source_then_one_mp4(seed: int) -> None:
    events = upload_lifecycle(random.Random(seed), SITE)
    names = _names(events)
    assert names[:3] == ["media_created", "thumbnail_created", "media_available"]
    first_done = names.index("conversions_complete")
    renditions = [e["data"] for e in events[:first_done] if e["event"] == "rendition_ready"]
    *hls, mp4 = renditions
    source = mp4["quality"]
    assert mp4["encoding"] == "mp4"
    # api.video: "from the lowest 240p to the highest of the source"; a 720p source: 4 + 1
    assert [r["quality"] for r in hls] == list(HLS_QUALITIES[: HLS_QUALITIES.index(source) + 1])
    assert {r["encoding"] for r in hls} == {"hls"}
    assert names.count("conversions_complete") == 1  # the first upload only, not reuploads


def test_a_720p_source_gives_five_renditions_as_api_video_says() -> None:
    assert hls_qualities_up_to("720p") == ("240p", "360p", "480p", "720p")


@pytest.mark.parametrize("seed", range(20))
def test_every_event_of_an_upload_is_about_the_same_media(seed: int) -> None:
    events = upload_lifecycle(random.Random(seed), SITE)
    assert len({event["media_id"] for event in events}) == 1
    assert {event["site_id"] for event in events} == {SITE}
    names = _names(events)
    if "media_restored" in names:
        assert names.index("media_deleted") < names.index("media_restored")
    if "media_unpublished" in names:
        assert names.index("media_published") < names.index("media_unpublished")


@pytest.mark.parametrize("seed", range(10))
def test_a_channel_broadcasts_then_its_recording_is_ready(seed: int) -> None:
    events = channel_lifecycle(random.Random(seed), SITE)
    names = _names(events)
    assert names[0] == "channel_created"
    assert len({event["channel_id"] for event in events}) == 1
    broadcast = ["channel_active", "channel_idle", "channel_recording_ready"]
    body = [name for name in names[1:] if name != "channel_deleted"]
    assert body == broadcast * (len(body) // 3)
    assert all(e["data"]["media_id"] for e in events if e["event"] == broadcast[-1])


def test_interleaving_keeps_each_lifecycles_order() -> None:
    rng = random.Random(3)
    lifecycles = [upload_lifecycle(rng, SITE) for _ in range(6)]
    merged = interleave(rng, lifecycles)
    assert len(merged) == sum(len(lifecycle) for lifecycle in lifecycles)
    by_media: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in merged:
        by_media[event["media_id"]].append(event)
    for lifecycle in lifecycles:
        assert by_media[lifecycle[0]["media_id"]] == lifecycle
    assert merged != [event for lifecycle in lifecycles for event in lifecycle]  # mixed


def test_every_simulated_event_passes_the_publish_rules() -> None:
    events = simulation(seed=1, site_id=SITE, uploads=30, channels=5)
    kinds = set()
    for event in events:
        parse_event(event, account_id="acct", now=datetime.now(UTC))  # raises if invalid
        kinds.add(event["event"])
    assert kinds <= set(EVENT_TYPES)
    assert {"media_reuploaded", "media_restored", "track_created", "channel_idle"} <= kinds


def test_batches_follow_the_rate_and_stay_bounded() -> None:
    events = [{"n": n} for n in range(1200)]
    assert [len(b) for b in batches(events, 250)] == [250] * 4 + [200]
    assert max(len(b) for b in batches(events, 1000)) == MAX_BATCH
    assert len(batches(events[:3], 0.5)[0]) == 1


@pytest.mark.parametrize(
    ("text", "seconds"), [("2s", 2.0), ("500ms", 0.5), ("1.5", 1.5), ("1m", 60.0), ("0s", 0.0)]
)
def test_delays_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["61s", "2m", "soon", "-1s", ""])
def test_delays_are_bounded_and_well_formed(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|at most"):
        parse_duration(text)


def test_the_failure_share_picks_the_fail_status() -> None:
    answer = Answer(status=204, fail_rate=0.3, fail_status=503)
    assert [answer.status_for(chance) for chance in (0.0, 0.29, 0.3, 0.99)] == [
        503,
        503,
        204,
        204,
    ]


def test_a_failure_asked_for_says_so_in_its_body() -> None:
    """The delivery log shows the start of the body: "HTTP 503 ok" read as a broken receiver."""
    flaky = Answer(status=200, fail_rate=0.3, fail_status=503)
    assert flaky.body_for(200) == "ok"
    assert flaky.body_for(503) == "answered 503 on purpose (hookcast listen --fail-rate)"
    assert Answer(status=500).body_for(500) == "answered 500 on purpose (hookcast listen --status)"
