"""Wire formats: how one webhook's deliveries look and are signed (`metadata.format`).

Publishers publish catalog events once; each webhook receives them in its own format. A
webhook's subscription is stored in catalog names (fan-out matches on them) and shown in its
format's names. Adding a format: a module here with a `FORMAT`, one line in `FORMATS`, and
any catalog events it needs; nothing in the worker changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hookcast.domain.catalog import PUBLISHABLE_EVENTS
from hookcast.domain.formats import apivideo, flowplayer, jwplayer, mediamanager, standard
from hookcast.domain.formats.base import TEST_EVENT, Format, resource_fields
from hookcast.domain.models import Webhook

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "TEST_EVENT",
    "Format",
    "format_of",
    "formats_sending_to_all",
    "resource_fields",
]

DEFAULT_FORMAT: Final = jwplayer.FORMAT.name
FORMATS: Final[Mapping[str, Format]] = {
    module.FORMAT.name: module.FORMAT
    for module in (jwplayer, apivideo, flowplayer, mediamanager, standard)
}


def format_of(webhook: Webhook) -> Format:
    """The webhook's format (a stored name no longer known fails loudly, not silently)."""
    return FORMATS[webhook.format]


def formats_sending_to_all(catalog_event: str) -> tuple[str, ...]:
    """The formats in which a subscription to every event ("*") receives `catalog_event`:
    those naming it, if it is one a publisher sends (operational events and the test ping
    go only to webhooks naming them, or asking for them)."""
    if catalog_event not in PUBLISHABLE_EVENTS:
        return ()
    return tuple(name for name, wire in FORMATS.items() if wire.delivers(catalog_event))
