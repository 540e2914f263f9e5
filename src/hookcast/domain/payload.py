"""The wire body of a delivery: JW Player's flat shape, plus `event_id` and optional `data`.

Key order follows JW Player's examples (receivers and their logs see the familiar shape):
event, event_id, the primary resource id, webhook_id, site_id, event_time, the other resource
ids (a thumbnail's media_id comes after event_time), then data. Serialising is left to the
caller (orjson, outside the pure domain).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.models import Event

__all__ = ["body_fields", "format_time"]


def body_fields(event: Event, webhook_id: str) -> dict[str, Any]:
    """The JSON object delivered to one webhook for `event`, in wire key order."""
    ids = _ordered_ids(event)
    body: dict[str, Any] = {"event": event.type, "event_id": event.id}
    body.update(ids[:1])
    body["webhook_id"] = webhook_id
    body["site_id"] = event.site_id
    body["event_time"] = format_time(event.event_time)
    body.update(ids[1:])
    if event.data is not None:
        # a plain dict: serialisers such as orjson refuse other Mapping types
        body["data"] = dict(event.data)
    return body


def _ordered_ids(event: Event) -> list[tuple[str, str]]:
    # The catalog says which id is primary (thumbnail_id before media_id), whatever order
    # the publisher sent them in; ids the catalog does not know keep their order at the end.
    event_type = EVENT_TYPES.get(event.type)
    known = event_type.id_fields if event_type else ()
    ids = [(name, event.resource_ids[name]) for name in known if name in event.resource_ids]
    ids.extend(item for item in event.resource_ids.items() if item[0] not in known)
    return ids


def format_time(dt: datetime) -> str:
    """ISO 8601 in UTC with a "+00:00" offset, e.g. "2024-08-27T00:15:45+00:00".

    Microseconds appear only when they are not zero.
    """
    if dt.tzinfo is None:
        # a naive time has no defined instant; guessing would shift events by hours
        raise ValueError("event times must be timezone-aware")
    return dt.astimezone(UTC).isoformat()
