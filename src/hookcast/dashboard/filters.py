"""Jinja filters and globals: how times, rates, JSON and event names read on a page."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from hookcast.dashboard.webhook_search import shown_state, waits_for_organization_secret
from hookcast.domain import ed25519
from hookcast.domain.catalog import ALL_EVENTS, EVENT_TYPES, EVENT_TYPES_PAGE, EventType
from hookcast.domain.formats import FORMATS, TEST_EVENT
from hookcast.domain.formats.examples import FormatExample, format_examples
from hookcast.domain.models import Webhook

__all__ = ["GROUP_TITLES", "event_groups", "install_filters"]

GROUP_TITLES: Mapping[str, str] = {
    "media": "Media",
    "channel": "Live channel",
    "thumbnail": "Thumbnail",
    "track": "Track",
    "summary": "Summary",
    "livesource": "Live source",
    "webhook": "HookCast's own, about your webhooks",
    "test": "Test",
}


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(value: datetime | None) -> str:
    """A time in a table column whose heading says UTC: " UTC" on every row made the
    Events page's times wrap onto two lines (1440 px) and not fit a phone's row (375 px)."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def minute(value: datetime | None) -> str:
    """Times where seconds would only be noise (failing since, next retry)."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def relative(value: datetime, now: datetime) -> str:
    """ "in 4 min", "2 h ago": how far a time is from now, to the unit that matters."""
    seconds = (value - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "in under a minute" if seconds > 0 else "just now"
    if size < 3600:
        amount = f"{size // 60:.0f} min"
    elif size < 48 * 3600:
        amount = f"{size // 3600:.0f} h"
    else:
        amount = f"{size // 86400:.0f} days"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def number(value: float) -> str:
    """1.0 -> "1", 1.5 -> "1.5": seconds as people write them."""
    return f"{value:g}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


def event_label(name: str) -> str:
    """`media_available` -> "Media available" ("*" reads as "All events")."""
    if name == "*":
        return "All events"
    return name.replace("_", " ").capitalize()


def event_groups(
    *, subscribable_only: bool = True, delivered_in: str | None = None
) -> list[tuple[str, list[Any]]]:
    """The catalog grouped as the Create panel shows it: media, live channel, thumbnail,
    track (and test, on the catalog page); with `delivered_in`, only the events that format
    has a name for (a group left empty is left out)."""
    wire = FORMATS[delivered_in] if delivered_in else None
    groups: dict[str, list[Any]] = {}
    for event_type in EVENT_TYPES.values():
        if subscribable_only and event_type.group == "test":
            continue
        if wire is not None and wire.event_name(event_type.name) is None:
            continue
        groups.setdefault(event_type.group, []).append(event_type)
    return [(GROUP_TITLES[group], types) for group, types in groups.items()]


def undelivered_count(format_name: str) -> int:
    """How many catalog events the format has no name for (never sent in it)."""
    return sum(FORMATS[format_name].event_name(name) is None for name in EVENT_TYPES)


def format_event_groups(format_name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The names a webhook of the format subscribes with, as (value, label), grouped as the
    catalog groups the events they stand for (a name goes in its first event's group)."""
    wire = FORMATS[format_name]
    if wire.name == "jwplayer":  # catalog names: the labels read as words
        return [
            (title, [(kind.name, event_label(kind.name)) for kind in types])
            for title, types in event_groups()
        ]
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in wire.event_names():
        group = EVENT_TYPES[wire.catalog_events(name)[0]].group
        groups.setdefault(GROUP_TITLES[group], []).append((name, name))
    return list(groups.items())


def own_events(webhook: Webhook) -> list[str]:
    """The webhook's subscription in its format's names ("*" reads as All events)."""
    own = FORMATS[webhook.format].to_own(webhook.events)
    return [ALL_EVENTS if name == FORMATS[webhook.format].all_events else name for name in own]


def own_name(catalog_event: str, webhook: Webhook) -> str:
    """A catalog event as the webhook's format names it (its deliveries carry that name)."""
    return FORMATS[webhook.format].event_name(catalog_event) or catalog_event


def in_formats(event_type: EventType) -> list[tuple[str, FormatExample | None]]:
    """(format title, the event's name and example there, or None) for every format."""
    shown = format_examples(event_type, FORMATS)
    return [(FORMATS[name].title, example) for name, example in shown.items()]


def in_format(event_type: EventType, format_name: str) -> FormatExample | None:
    """The event's name and example body in one format, or None if it has no name there."""
    return format_examples(event_type, {format_name: FORMATS[format_name]})[format_name]


def format_title(name: str) -> str:
    return FORMATS[name].title


def public_key(secret: str) -> str | None:
    """The whpk_ public key of an Ed25519 signing secret (None for an HMAC secret)."""
    return ed25519.public_key_of(secret) if ed25519.is_signing_key(secret) else None


def id_breaks(value: str) -> Markup:
    """An id, escaped, that may wrap only after its underscores: anywhere, a phone's Events
    table split `evt_8SzW9lLi491p9b1JgSX2c4` before its last character, and HookCast's own
    event ids (`hc_webhook_failing_<webhook>_<time>`, 46 characters) fit no phone's line."""
    return Markup("_<wbr>").join(escape(part) for part in value.split("_"))


def name_breaks(value: str) -> Markup:
    """An event's name, escaped, that may wrap only after its `_` and `.`: on a phone the
    Event types page's name column is ~160 px, and `conversions_complete` broke as
    "conversions_complet" / "e", api.video's `video.encoding.quality.completed` likewise."""
    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[_.])", value))


def linked_pages(message: str) -> Markup:
    """A service's message, escaped, with the dashboard page it names (an unknown event's
    error names EVENT_TYPES_PAGE, the same words as in the API's and the CLI's) made a link:
    under a form field the reader can follow the pointer, not retype it."""
    link = Markup('<a href="{0}">{0}</a>').format(EVENT_TYPES_PAGE)
    return link.join(escape(part) for part in message.split(EVENT_TYPES_PAGE))


def install_filters(env: Environment) -> None:
    env.filters.update(
        when=when,
        clock=clock,
        minute=minute,
        relative=relative,
        iso=iso,
        percent=percent,
        number=number,
        pretty_json=pretty_json,
        event_label=event_label,
        public_key=public_key,
        id_breaks=id_breaks,
        name_breaks=name_breaks,
        linked_pages=linked_pages,
    )
    env.filters.update(own_events=own_events, own_name=own_name, format_title=format_title)
    env.globals.update(
        event_groups=event_groups,
        undelivered_count=undelivered_count,
        format_event_groups=format_event_groups,
        in_formats=in_formats,
        in_format=in_format,
        formats=FORMATS,
        test_event=TEST_EVENT,
        waits_for_organization_secret=waits_for_organization_secret,
        shown_state=shown_state,
    )
