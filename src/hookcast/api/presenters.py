"""Resources as the API shows them (JW Player v2 shapes). Secrets only where asked for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hookcast.domain.catalog import EventType
from hookcast.domain.models import ApiKey, Attempt, Delivery, Event, Site, Webhook
from hookcast.domain.payload import format_time
from hookcast.domain.retry import retry_policy_to_json
from hookcast.ports import DeliveryRecord, EventSummary


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def webhook(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": hook.id,
        "created": _time(hook.created),
        "last_modified": _time(hook.last_modified),
        "metadata": {
            "name": hook.name,
            "description": hook.description,
            "webhook_url": hook.webhook_url,
            "events": list(hook.events),
            "site_ids": list(hook.site_ids),
            "enabled": hook.enabled,
            "disabled_reason": hook.disabled_reason,
            "conditions": hook.conditions,
            "retry_policy": retry_policy_to_json(hook.retry_policy),
            "timeout_seconds": hook.timeout_seconds,
            "last_success": _time(hook.last_success),
            "failing_since": _time(hook.failing_since),
        },
        "relationships": {},
        "schema": None,
        "type": "webhook",
    }
    if with_secret:
        body["secret"] = hook.secret
    return body


def secret(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "secret": hook.secret,
        "previous_secret": hook.previous_secret,
        "previous_secret_expires": _time(hook.previous_secret_expires),
    }


def site(item: Site) -> dict[str, Any]:
    return {
        "id": item.id,
        "created": _time(item.created),
        "last_modified": _time(item.last_modified),
        "metadata": {"name": item.name},
        "relationships": {},
        "schema": None,
        "type": "site",
    }


def api_key(key: ApiKey, *, secret_value: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": key.id,
        "created": _time(key.created),
        "metadata": {"name": key.name, "role": key.role.value},
        "type": "api_key",
    }
    if secret_value is not None:
        body["secret"] = secret_value
    return body


def event_type(item: EventType) -> dict[str, Any]:
    return {
        "name": item.name,
        "group": item.group,
        "id_fields": list(item.id_fields),
        "description": item.description,
        "example": item.example(),
    }


def event(item: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": item.id,
        "event": item.type,
        "site_id": item.site_id,
        **item.resource_ids,
        "event_time": _time(item.event_time),
        "created": _time(item.created),
    }
    if item.data is not None:
        body["data"] = item.data
    return body


def event_summary(summary: EventSummary) -> dict[str, Any]:
    counts: Mapping[Any, int] = summary.deliveries
    return {
        **event(summary.event),
        "deliveries": {str(status): count for status, count in counts.items()},
    }


def attempt(item: Attempt) -> dict[str, Any]:
    return {
        "number": item.number,
        "started_at": _time(item.started_at),
        "request_headers": dict(item.request_headers),
        "status_code": item.status_code,
        "latency_ms": round(item.latency_ms, 2),
        "response_body": item.response_body,
        "error": item.error,
    }


def delivery(record: DeliveryRecord) -> dict[str, Any]:
    item: Delivery = record.delivery
    return {
        "id": item.id,
        "webhook_id": item.webhook_id,
        "event_id": item.event_id,
        "event": record.event.type,
        "status": str(item.status),
        "attempts": item.attempts,
        "next_attempt_at": _time(item.next_attempt_at) if item.status == "pending" else None,
        "last_status_code": item.last_status_code,
        "created": _time(item.created),
        "completed_at": _time(item.completed_at),
        "attempt_log": [attempt(entry) for entry in record.attempts],
    }


def page(
    name: str, items: list[dict[str, Any]], *, number: int, length: int, total: int
) -> dict[str, Any]:
    return {"page": number, "page_length": length, "total": total, name: items}
