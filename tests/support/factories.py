"""Factories for domain values: every argument has a sensible default, tests state only
what they care about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hookcast.domain.ids import (
    new_delivery_id,
    new_event_id,
    new_resource_id,
    new_webhook_secret,
)
from hookcast.domain.models import (
    Account,
    ApiKey,
    Attempt,
    Delivery,
    DeliveryStatus,
    Event,
    LastError,
    Role,
    Site,
    Webhook,
)
from hookcast.ports import ClaimedDelivery, DeliveryResult, Fanout, WebhookHealth

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def later(seconds: float, start: datetime = NOW) -> datetime:
    return start + timedelta(seconds=seconds)


def failing(webhook_id: str, at: float = 10) -> WebhookHealth:
    """A batch's health that marks the webhook failing, no more: its endpoint answered 503
    `at` seconds after NOW."""
    moment = later(at)
    return WebhookHealth(
        webhook_id, None, moment, last_error=LastError(moment, 503, "HTTP 503", "")
    )


def account(**overrides: Any) -> Account:
    values: dict[str, Any] = {"id": new_resource_id(), "name": "Acme", "created": NOW}
    return Account(**(values | overrides))


def api_key(account_id: str, **overrides: Any) -> ApiKey:
    values: dict[str, Any] = {
        "id": new_resource_id(),
        "account_id": account_id,
        "name": "ci",
        "role": Role.EDITOR,
        "secret_hash": new_resource_id() * 8,
        "created": NOW,
    }
    return ApiKey(**(values | overrides))


def site(account_id: str, **overrides: Any) -> Site:
    values: dict[str, Any] = {
        "id": new_resource_id(),
        "account_id": account_id,
        "name": "Main site",
        "created": NOW,
        "last_modified": NOW,
    }
    return Site(**(values | overrides))


def webhook(account_id: str, **overrides: Any) -> Webhook:
    values: dict[str, Any] = {
        "id": new_resource_id(),
        "account_id": account_id,
        "name": "Encoder hook",
        "description": "tells the encoder",
        "webhook_url": "https://receiver.example/hook",
        "events": ("media_available",),
        "site_ids": (),
        "secret": new_webhook_secret(),
        "created": NOW,
        "last_modified": NOW,
    }
    return Webhook(**(values | overrides))


def event(account_id: str, site_id: str = "SiteSite", **overrides: Any) -> Event:
    values: dict[str, Any] = {
        "id": new_event_id(),
        "account_id": account_id,
        "site_id": site_id,
        "type": "media_available",
        "resource_ids": {"media_id": "MNYaMSQl"},
        "event_time": NOW,
        "data": None,
        "created": NOW,
    }
    return Event(**(values | overrides))


def delivery(for_event: Event, webhook_id: str, **overrides: Any) -> Delivery:
    values: dict[str, Any] = {
        "id": new_delivery_id(),
        "account_id": for_event.account_id,
        "event_id": for_event.id,
        "webhook_id": webhook_id,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": for_event.created,
        "created": for_event.created,
    }
    return Delivery(**(values | overrides))


def fanout_to(*webhook_ids: str) -> Fanout:
    """A fan-out that sends every event to each of these webhooks, due at the event's
    creation."""

    def fanout(events: Sequence[Event]) -> Sequence[Delivery]:
        return [delivery(e, webhook_id) for e in events for webhook_id in webhook_ids]

    return fanout


def no_fanout(events: Sequence[Event]) -> Sequence[Delivery]:
    return []


def attempt(delivery_id: str, **overrides: Any) -> Attempt:
    values: dict[str, Any] = {
        "delivery_id": delivery_id,
        "number": 1,
        "started_at": NOW,
        "request_headers": {"content-type": "application/json"},
        "status_code": 200,
        "latency_ms": 12.5,
        "response_body": "ok",
        "error": None,
    }
    return Attempt(**(values | overrides))


def as_claimed(event: Event) -> tuple[Any, ...]:
    """What a claimed delivery carries of `event` as published (`carried`): its number and
    trace left out, as Event's equality leaves them out."""
    return (event.id, event.site_id, event.type, event.resource_ids, event.event_time, event.data)


def carried(claimed: ClaimedDelivery) -> tuple[Any, ...]:
    """What `claimed` carries of its event, as `as_claimed` has a published one."""
    c = claimed
    return (c.event_id, c.site_id, c.type, c.resource_ids, c.event_time, c.data)


def succeeded(claimed: ClaimedDelivery, at: datetime = NOW) -> DeliveryResult:
    number = claimed.attempts + 1
    return DeliveryResult(
        delivery_id=claimed.delivery_id,
        lease_token=claimed.lease_token,
        attempt=attempt(claimed.delivery_id, number=number, started_at=at),
        status=DeliveryStatus.SUCCEEDED,
        next_attempt_at=None,
        completed_at=at,
        created=claimed.created,
        row=claimed.row,
    )


def retry_later(claimed: ClaimedDelivery, retry_at: datetime, at: datetime = NOW) -> DeliveryResult:
    number = claimed.attempts + 1
    failed_attempt = attempt(
        claimed.delivery_id, number=number, started_at=at, status_code=503, response_body="busy"
    )
    return DeliveryResult(
        delivery_id=claimed.delivery_id,
        lease_token=claimed.lease_token,
        attempt=failed_attempt,
        status=DeliveryStatus.PENDING,
        next_attempt_at=retry_at,
        completed_at=None,
        created=claimed.created,
        row=claimed.row,
    )


def gave_up(claimed: ClaimedDelivery, at: datetime = NOW) -> DeliveryResult:
    result = retry_later(claimed, at, at)
    return replace(result, status=DeliveryStatus.FAILED, next_attempt_at=None, completed_at=at)
