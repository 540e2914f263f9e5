"""The event catalog: every event HookCast delivers, its resource id fields and an example.

Names are JW Player's; the other seeds' events (Media Manager, Flowplayer, api.video) are
mapped onto the same vocabulary so one receiver handles every platform.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALL_EVENTS = "*"

_SITE = "9KboGBFu"
_WEBHOOK = "2yW4KmiG"
_MEDIA = "MNYaMSQl"
_CHANNEL = "YijbmYHJ"

HLS_QUALITIES = ("240p", "360p", "480p", "720p", "1080p", "1440p", "2160p")


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    # "media", "channel", "thumbnail", "track", "summary", "livesource", "test", "webhook"
    group: str
    id_fields: tuple[str, ...]  # required resource ids, primary first
    description: str
    example_data: Mapping[str, Any] | None = field(default=None)

    def example(self, event_time: str = "2024-08-27T00:15:45+00:00") -> dict[str, Any]:
        """An example delivery body, in the wire format (see domain.formats.jwplayer)."""
        body: dict[str, Any] = {"event": self.name, "event_id": "evt_3kTMd9CqYpVn0bWx5Lr2aQ"}
        ids = dict(zip(self.id_fields, _example_ids(self.id_fields), strict=True))
        if self.id_fields:
            body[self.id_fields[0]] = ids[self.id_fields[0]]
        body.update({"webhook_id": _WEBHOOK, "site_id": _SITE, "event_time": event_time})
        body.update({name: value for name, value in ids.items() if name != self.id_fields[0]})
        if self.example_data is not None:
            body["data"] = dict(self.example_data)
        return body


def _example_ids(fields: tuple[str, ...]) -> list[str]:
    samples = {
        "media_id": _MEDIA,
        "channel_id": _CHANNEL,
        "thumbnail_id": "k9x00iro",
        "track_id": "VHsQNYq9",
        "summary_id": "Sm7Qz2Lp",
        "livesource_id": "Ls4Vb9Kd",
    }
    return [samples[name] for name in fields]


def _media(name: str, description: str, data: Mapping[str, Any] | None = None) -> EventType:
    return EventType(name, "media", ("media_id",), description, data)


def _channel(name: str, description: str, data: Mapping[str, Any] | None = None) -> EventType:
    return EventType(name, "channel", ("channel_id",), description, data)


def _livesource(name: str, description: str) -> EventType:
    return EventType(name, "livesource", ("livesource_id",), description)


_FAILING_WEBHOOK: Mapping[str, Any] = {
    "webhook_id": "Wq3XbT7c",
    "webhook_name": "Search indexer",
    "webhook_url": "https://indexer.example.com/hooks/jw",
    "failing_since": "2024-08-26T22:04:11+00:00",
    "last_status_code": 503,
    "last_error": "HTTP 503",
    "last_response_body": "upstream unavailable",
    "deliveries_waiting": 42,
}


def _operational(name: str, description: str, **extra: Any) -> EventType:
    """An event HookCast publishes about one of the account's webhooks (domain/operational.py):
    about no resource; the webhook it is about is in its data."""
    return EventType(name, "webhook", (), description, {**_FAILING_WEBHOOK, **extra})


_TYPES: tuple[EventType, ...] = (
    _media("media_created", "Media has been first uploaded."),
    _media("media_updated", "Media metadata has changed.", {"fields": ["title", "tags"]}),
    _media("media_deleted", "Media has been deleted."),
    _media("media_reuploaded", "A reupload of the media's original has been initiated."),
    _media(
        "media_available",
        "Media is first publishable and indexed; the thumbnail is ready.",
        {"title": "Match highlights", "tags": ["sports"]},
    ),
    _media(
        "conversions_complete",
        "The thumbnail and all initial renditions are ready (first upload only).",
    ),
    _media("media_published", "Media has been marked as published."),
    _media("media_unpublished", "Media has been marked as unpublished."),
    _media("media_restored", "Media has been taken out of its deleted state."),
    _media(
        "media_failed",
        "An error occurred while processing the media.",
        {"reason": "unsupported codec"},
    ),
    _media("master_ready", "The master asset of the media is ready to download."),
    _media("master_failed", "The master asset of the media failed to generate."),
    _media(
        "rendition_ready",
        "One rendition (an HLS quality or the MP4) finished encoding.",
        {"encoding": "hls", "quality": "720p"},
    ),
    EventType(
        "thumbnail_created",
        "thumbnail",
        ("thumbnail_id", "media_id"),
        "A thumbnail has been created.",
    ),
    EventType(
        "thumbnail_deleted",
        "thumbnail",
        ("thumbnail_id", "media_id"),
        "A thumbnail has been deleted.",
    ),
    EventType(
        "track_created",
        "track",
        ("track_id", "media_id"),
        "A text track has been created.",
        {"kind": "captions", "language": "en"},
    ),
    EventType("track_deleted", "track", ("track_id", "media_id"), "A text track has been deleted."),
    EventType(
        "caption_generated",
        "track",
        ("track_id", "media_id"),
        "A caption track has been generated from the media's speech.",
        {"generation_mode": "transcript", "language": "en"},
    ),
    EventType(
        "summary_generated",
        "summary",
        ("summary_id", "media_id"),
        "A summary of the media has been generated.",
    ),
    _channel("channel_created", "A live channel has been created."),
    _channel("channel_active", "A live channel receives input and is broadcasting."),
    _channel("channel_idle", "A live channel has returned to its idle state."),
    _channel("channel_updated", "A live channel's settings have changed."),
    _channel("channel_deleted", "A live channel has been deleted."),
    _channel("channel_enabled", "A live channel has been enabled and accepts stream connections."),
    _channel("channel_disabled", "A live channel has been disabled."),
    _channel(
        "channel_error",
        "A live channel's input failed.",
        {"reason": "input stream dropped"},
    ),
    _channel(
        "channel_recording_ready",
        "The recording of a live broadcast is ready.",
        {"media_id": _MEDIA},
    ),
    _livesource("livesource_created", "A live source (an ingest point) has been created."),
    _livesource("livesource_updated", "A live source's settings have changed."),
    _livesource("livesource_deleted", "A live source has been deleted."),
    _livesource("livesource_connected", "A live source receives input."),
    _operational(
        "webhook_failing",
        "One of the account's webhooks failed after succeeding (the first failure of a period).",
    ),
    _operational(
        "webhook_disable_warning",
        "One of the account's webhooks has failed for so long it is about to be disabled.",
        disable_at="2024-08-31T22:04:11+00:00",
    ),
    _operational(
        "webhook_disabled",
        "One of the account's webhooks was disabled (410 Gone, or failing for too long).",
        reason="no successful delivery for 5 days",
    ),
    _operational(
        "webhook_recovered",
        "One of the account's failing webhooks succeeded again (its last failure is kept).",
        deliveries_waiting=0,
        recovered_at="2024-08-27T00:15:45+00:00",
    ),
    _operational(
        "webhook_held",
        "Deliveries are being held for one of the account's webhooks: it is disabled.",
        reason="no successful delivery for 5 days",
    ),
    EventType(
        "webhook_test",
        "test",
        (),
        "A test ping sent on request to one webhook.",
        {"message": "This is a test event from HookCast."},
    ),
)

EVENT_TYPES: Mapping[str, EventType] = {event.name: event for event in _TYPES}
# HookCast's own events about an account's webhooks: subscribable, never published by anyone
# else, and only to webhooks naming them (a subscription to every event, "*", leaves them out).
OPERATIONAL_EVENTS: tuple[str, ...] = tuple(
    event.name for event in _TYPES if event.group == "webhook"
)
# Events a publisher may send; webhook_test and the operational events are only ever made by
# HookCast itself.
PUBLISHABLE_EVENTS: tuple[str, ...] = tuple(
    name for name in EVENT_TYPES if name != "webhook_test" and name not in OPERATIONAL_EVENTS
)
SUBSCRIBABLE_EVENTS: tuple[str, ...] = (*PUBLISHABLE_EVENTS, *OPERATIONAL_EVENTS)


def get_event_type(name: str) -> EventType | None:
    return EVENT_TYPES.get(name)


def closest_name(name: str, known: Sequence[str]) -> str | None:
    """The one of `known` a mistyped `name` most likely meant, if any is close: what the
    API's and the CLI's "did you mean" say."""
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def guess_for(name: str, known: Sequence[str]) -> str:
    """ " (did you mean ...?)" with the one of `known` a mistyped `name` most likely meant, to
    follow the name in an error; "" when none is close."""
    close = closest_name(name, known)
    return f" (did you mean {close}?)" if close else ""


# Where the dashboard lists every event (its route is this constant, so the two cannot part):
# the API's error, the CLI's and a dashboard field all point here, and the dashboard links it.
EVENT_TYPES_PAGE = "/event-types"

# Up to this many names are listed in an error itself (api.video's 11 make ~350
# characters); more are pointed to (jwplayer's 37 made ~600).
LISTED_IN_ERRORS = 12


def where_listed(known: Sequence[str], whose: str, which: str = "events") -> str:
    """The `known` event names when they are few, else where they are: listed whole,
    jwplayer's 37 made a line of about 600 characters in the API's error, under a dashboard
    field and after the CLI's `error:`, where the guess beside the typo is what helps. A
    format of a dozen names or fewer names them all: the reader sees the right vocabulary
    without another request."""
    if len(known) <= LISTED_IN_ERRORS:
        return f"{whose} {len(known)} {which} are {', '.join(known)}"
    return (
        f"{whose} {len(known)} {which} are listed by GET /v2/event_types/ and at "
        f"{EVENT_TYPES_PAGE} on the dashboard"
    )
