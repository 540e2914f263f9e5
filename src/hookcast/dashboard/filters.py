"""Jinja filters and globals: how times, rates, JSON and event names read on a page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment

from hookcast.domain.catalog import EVENT_TYPES

__all__ = ["GROUP_TITLES", "event_groups", "install_filters"]

GROUP_TITLES: Mapping[str, str] = {
    "media": "Media",
    "channel": "Live channel",
    "thumbnail": "Thumbnail",
    "track": "Track",
    "summary": "Summary",
    "livesource": "Live source",
    "test": "Test",
}


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


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


def event_groups(*, subscribable_only: bool = True) -> list[tuple[str, list[Any]]]:
    """The catalog grouped as the Create panel shows it: media, live channel, thumbnail,
    track (and test, on the catalog page)."""
    groups: dict[str, list[Any]] = {}
    for event_type in EVENT_TYPES.values():
        if subscribable_only and event_type.group == "test":
            continue
        groups.setdefault(event_type.group, []).append(event_type)
    return [(GROUP_TITLES[group], types) for group, types in groups.items()]


def install_filters(env: Environment) -> None:
    env.filters.update(
        when=when,
        iso=iso,
        percent=percent,
        number=number,
        pretty_json=pretty_json,
        event_label=event_label,
    )
    env.globals.update(event_groups=event_groups)
