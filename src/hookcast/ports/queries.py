"""What a list read asks the store for: a page, a sort and filters, one class per listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hookcast.domain.models import DeliveryStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, and how many items the whole listing has."""

    items: Sequence[T]
    total: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1  # 1-based
    page_length: int = 10


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    account_id: str
    page: PageRequest = PageRequest()
    sort: str = "created"  # "created", "last_modified" or "name"
    descending: bool = True
    event: str | None = None  # webhooks subscribed to this event (literally, "*" included)
    # ... and, with `event`, those subscribed to every event ("*") in one of these formats
    # (the ones that would receive it: domain.formats.formats_sending_to_all).
    all_events_formats: tuple[str, ...] = ()
    site_id: str | None = None
    format: str | None = None  # webhooks of this wire format only


@dataclass(frozen=True, slots=True)
class EventQuery:
    account_id: str
    page: PageRequest = PageRequest()
    type: str | None = None
    site_id: str | None = None
    resource_id: str | None = None  # matches any of the event's resource ids


@dataclass(frozen=True, slots=True)
class ReplayQuery:
    """Which deliveries of one webhook a replay resends (docs/delivery.md, "Replay")."""

    account_id: str
    webhook_id: str
    since: datetime  # created at or after
    until: datetime | None = None  # and before
    resource_id: str | None = None  # matches any of the event's resource ids
    event_types: tuple[str, ...] = ()  # catalog event types; empty: any


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    account_id: str
    webhook_id: str
    page: PageRequest = PageRequest()
    status: DeliveryStatus | None = None
    event_type: str | None = None
    event_id: str | None = None
    resource_id: str | None = None  # matches any of the event's resource ids
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
