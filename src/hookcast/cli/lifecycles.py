"""Realistic event sequences for `hookcast simulate`: pure, and the same for the same seed.

An upload follows api.video's encoding flow (seed 003): every HLS quality from 240p up to
the source's quality, then one MP4 at the source quality, between JW Player's
media_created / thumbnail_created / media_available and conversions_complete (first upload
only). Media then may be updated, published, unpublished, captioned, reuploaded, deleted and
restored. A live channel is created, goes active and idle, and its recording becomes ready.
Lifecycles are interleaved as on a busy platform; each keeps its own order.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from typing import Any

from hookcast.domain.catalog import HLS_QUALITIES

__all__ = ["channel_lifecycle", "interleave", "simulation", "upload_lifecycle"]

Event = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits
_TITLES = ("Match highlights", "Evening news", "Cooking live", "Product launch", "Q&A session")
_TAGS = ("sports", "news", "food", "tech", "live", "kids")
# Sources skew towards HD, as real uploads do.
_SOURCE_WEIGHTS = {"360p": 1, "480p": 2, "720p": 4, "1080p": 5, "1440p": 1, "2160p": 1}


def _id(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(8))


def hls_qualities_up_to(source: str) -> tuple[str, ...]:
    return HLS_QUALITIES[: HLS_QUALITIES.index(source) + 1]


def _encodings(media_id: str, source: str, site_id: str) -> list[Event]:
    hls = [
        _event(
            "rendition_ready", site_id, media_id=media_id, data={"encoding": "hls", "quality": q}
        )
        for q in hls_qualities_up_to(source)
    ]
    mp4 = {"encoding": "mp4", "quality": source}
    return [*hls, _event("rendition_ready", site_id, media_id=media_id, data=mp4)]


def _event(name: str, site_id: str, *, data: dict[str, Any] | None = None, **ids: str) -> Event:
    event: Event = {"event": name, "site_id": site_id, **ids}
    if data is not None:
        event["data"] = data
    return event


def upload_lifecycle(rng: random.Random, site_id: str) -> list[Event]:
    """One media item, from upload to whatever befalls it afterwards."""
    media = _id(rng)
    source = rng.choices(list(_SOURCE_WEIGHTS), weights=list(_SOURCE_WEIGHTS.values()))[0]
    meta = {"title": rng.choice(_TITLES), "tags": rng.sample(_TAGS, 2), "source": source}
    events = [
        _event("media_created", site_id, media_id=media),
        _event("thumbnail_created", site_id, thumbnail_id=_id(rng), media_id=media),
        _event("media_available", site_id, media_id=media, data=meta),
        *_encodings(media, source, site_id),
        _event("conversions_complete", site_id, media_id=media),
    ]
    for step in _AFTERWARDS:
        events.extend(step(rng, site_id, media, source))
    return events


def _maybe_update(rng: random.Random, site: str, media: str, _source: str) -> list[Event]:
    if rng.random() >= 0.5:
        return []
    return [_event("media_updated", site, media_id=media, data={"fields": ["title", "tags"]})]


def _maybe_publish(rng: random.Random, site: str, media: str, _source: str) -> list[Event]:
    if rng.random() >= 0.6:
        return []
    published = [_event("media_published", site, media_id=media)]
    if rng.random() < 0.3:
        published.append(_event("media_unpublished", site, media_id=media))
    return published


def _maybe_track(rng: random.Random, site: str, media: str, _source: str) -> list[Event]:
    if rng.random() >= 0.4:
        return []
    data = {"kind": "captions", "language": rng.choice(("en", "fr", "de", "es"))}
    return [_event("track_created", site, track_id=_id(rng), media_id=media, data=data)]


def _maybe_reupload(rng: random.Random, site: str, media: str, source: str) -> list[Event]:
    # A reupload re-encodes; conversions_complete is for the first upload only.
    if rng.random() >= 0.15:
        return []
    return [_event("media_reuploaded", site, media_id=media), *_encodings(media, source, site)]


def _maybe_delete(rng: random.Random, site: str, media: str, _source: str) -> list[Event]:
    if rng.random() >= 0.15:
        return []
    deleted = [_event("media_deleted", site, media_id=media)]
    if rng.random() < 0.5:
        deleted.append(_event("media_restored", site, media_id=media))
    return deleted


_AFTERWARDS: Sequence[Callable[[random.Random, str, str, str], list[Event]]] = (
    _maybe_update,
    _maybe_publish,
    _maybe_track,
    _maybe_reupload,
    _maybe_delete,
)


def channel_lifecycle(rng: random.Random, site_id: str) -> list[Event]:
    """A live channel: created, one or more broadcasts, each with a recording."""
    channel = _id(rng)
    events = [_event("channel_created", site_id, channel_id=channel)]
    for _broadcast in range(rng.randint(1, 2)):
        events.append(_event("channel_active", site_id, channel_id=channel))
        events.append(_event("channel_idle", site_id, channel_id=channel))
        recording = {"media_id": _id(rng)}
        events.append(
            _event("channel_recording_ready", site_id, channel_id=channel, data=recording)
        )
    if rng.random() < 0.2:
        events.append(_event("channel_deleted", site_id, channel_id=channel))
    return events


def interleave(rng: random.Random, lifecycles: Sequence[Sequence[Event]]) -> list[Event]:
    """Merges the sequences at random, each one's own order kept."""
    queues = [list(reversed(lifecycle)) for lifecycle in lifecycles if lifecycle]
    merged: list[Event] = []
    while queues:
        index = rng.randrange(len(queues))
        merged.append(queues[index].pop())
        if not queues[index]:
            queues.pop(index)
    return merged


def simulation(*, seed: int, site_id: str, uploads: int, channels: int) -> list[Event]:
    """Every event of `uploads` media and `channels` live channels, interleaved."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    lifecycles = [upload_lifecycle(rng, site_id) for _ in range(uploads)]
    lifecycles += [channel_lifecycle(rng, site_id) for _ in range(channels)]
    return interleave(rng, lifecycles)
