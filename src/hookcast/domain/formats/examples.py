"""The catalog in every format: each event's name and example body, or None where a format
does not deliver it (the event catalog's API and dashboard page show both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from hookcast.domain.catalog import EventType
from hookcast.domain.formats.base import Format
from hookcast.domain.models import Event

__all__ = ["FormatExample", "example_event", "format_examples"]

_EVENT_ID: Final = "evt_3kTMd9CqYpVn0bWx5Lr2aQ"
_SITE: Final = "9KboGBFu"
_WEBHOOK: Final = "2yW4KmiG"
_DELIVERY: Final = "dlv_7hQx2mWc9LrTz4Vb8KpN3e"
_TIME: Final = datetime(2024, 8, 27, 0, 15, 45, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FormatExample:
    name: str  # the event's name in the format
    example: dict[str, Any]  # the body a receiver of that format gets


def example_event(event_type: EventType) -> Event:
    """The catalog's example of `event_type` as a published event (the ids and data of
    `EventType.example`)."""
    body = event_type.example()
    return Event(
        id=_EVENT_ID,
        account_id="",
        site_id=_SITE,
        type=event_type.name,
        resource_ids={name: body[name] for name in event_type.id_fields},
        event_time=_TIME,
        data=event_type.example_data,
        created=_TIME,
    )


def format_examples(
    event_type: EventType, formats: Mapping[str, Format]
) -> dict[str, FormatExample | None]:
    """Per format name: the event's name and example body there, or None (not delivered)."""
    event = example_event(event_type)
    found: dict[str, FormatExample | None] = {}
    for name, wire in formats.items():
        own = wire.event_name(event_type.name)
        found[name] = (
            None
            if own is None
            else FormatExample(own, wire.body(event, webhook_id=_WEBHOOK, delivery_id=_DELIVERY))
        )
    return found
