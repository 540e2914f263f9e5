"""Rows ↔ domain values. Pure functions; webhook secrets go through the SecretBox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from hookcast.domain.models import (
    Account,
    ApiKey,
    Attempt,
    ClientCertificate,
    Delivery,
    DeliveryRateLimit,
    DeliveryStatus,
    Event,
    LastError,
    Ordering,
    RetryPolicySpec,
    Role,
    Site,
    Webhook,
)
from hookcast.store.crypto import SecretBox
from hookcast.store.stored_headers import expand

__all__ = [
    "account_from_row",
    "api_key_from_row",
    "api_key_values",
    "attempt_from_row",
    "attempt_values",
    "delivery_from_row",
    "delivery_values",
    "event_from_row",
    "event_values",
    "last_error_from_row",
    "site_from_row",
    "site_values",
    "webhook_from_row",
    "webhook_values",
]

Values = dict[str, Any]
Row = Mapping[Any, Any]  # a result row by column name: a SQLAlchemy RowMapping, or a dict


def account_from_row(row: Row) -> Account:
    return Account(id=row["id"], name=row["name"], created=row["created"])


def api_key_values(key: ApiKey) -> Values:
    return {
        "id": key.id,
        "account_id": key.account_id,
        "name": key.name,
        "role": key.role.value,
        "secret_hash": key.secret_hash,
        "created": key.created,
        "last_used": key.last_used,
    }


def api_key_from_row(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        role=Role(row["role"]),
        secret_hash=row["secret_hash"],
        created=row["created"],
        last_used=row["last_used"],
    )


def site_values(site: Site) -> Values:
    return {
        "id": site.id,
        "account_id": site.account_id,
        "name": site.name,
        "created": site.created,
        "last_modified": site.last_modified,
    }


def site_from_row(row: Row) -> Site:
    return Site(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        created=row["created"],
        last_modified=row["last_modified"],
    )


def webhook_values(webhook: Webhook, box: SecretBox) -> Values:
    """Every column of the webhooks row (subscriptions are stored separately)."""
    previous = webhook.previous_secret
    return {
        "id": webhook.id,
        "account_id": webhook.account_id,
        "name": webhook.name,
        "description": webhook.description,
        "webhook_url": webhook.webhook_url,
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "conditions": webhook.conditions,
        "retry_policy": {
            "name": webhook.retry_policy.name,
            "delays": list(webhook.retry_policy.delays),
        },
        "timeout_seconds": webhook.timeout_seconds,
        "ordering": webhook.ordering.value,
        "coalesce_updates": webhook.coalesce,
        "max_age_seconds": dict(webhook.max_age_seconds) or None,
        "secret_encrypted": box.encrypt(webhook.secret),
        "previous_secret_encrypted": None if previous is None else box.encrypt(previous),
        "previous_secret_expires": webhook.previous_secret_expires,
        "last_success": webhook.last_success,
        "failing_since": webhook.failing_since,
        "created": webhook.created,
        "last_modified": webhook.last_modified,
        "format": webhook.format,
        "signing": webhook.signing,
        "all_sites": webhook.all_sites,
        **_control_values(webhook, box),
    }


def _control_values(webhook: Webhook, box: SecretBox) -> Values:
    """The per-webhook controls' columns; the header values and the client certificate are
    secrets, encrypted as the signing secret is."""
    limit, certificate = webhook.rate_limit, webhook.client_certificate
    return {
        "headers_encrypted": (
            box.encrypt(orjson.dumps(dict(webhook.headers)).decode()) if webhook.headers else None
        ),
        "rate_limit_per_second": None if limit is None else limit.per_second,
        "rate_limit_burst": None if limit is None else limit.burst,
        "client_certificate_encrypted": (
            None if certificate is None else box.encrypt(_certificate_json(certificate))
        ),
    }


def _certificate_json(certificate: ClientCertificate) -> str:
    fields = {
        "certificate_pem": certificate.certificate_pem,
        "private_key_pem": certificate.private_key_pem,
        "fingerprint": certificate.fingerprint,
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "not_after": certificate.not_after.isoformat(),
    }
    return orjson.dumps(fields).decode()


def _headers(row: Row, box: SecretBox) -> dict[str, str]:
    token = row["headers_encrypted"]
    return {} if token is None else dict(orjson.loads(box.decrypt(token)))


def _rate_limit(row: Row) -> DeliveryRateLimit | None:
    per_second = row["rate_limit_per_second"]
    if per_second is None:
        return None
    return DeliveryRateLimit(per_second=per_second, burst=row["rate_limit_burst"])


def _client_certificate(row: Row, box: SecretBox) -> ClientCertificate | None:
    token = row["client_certificate_encrypted"]
    if token is None:
        return None
    fields = orjson.loads(box.decrypt(token))
    fields["not_after"] = datetime.fromisoformat(fields["not_after"])
    return ClientCertificate(**fields)


def webhook_from_row(
    row: Row,
    *,
    events: Sequence[str],
    site_ids: Sequence[str],
    box: SecretBox,
    organization_secret: str | None = None,
) -> Webhook:
    previous = row["previous_secret_encrypted"]
    policy = row["retry_policy"]
    return Webhook(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        description=row["description"],
        webhook_url=row["webhook_url"],
        events=tuple(events),
        site_ids=tuple(site_ids),
        secret=box.decrypt(row["secret_encrypted"]),
        created=row["created"],
        last_modified=row["last_modified"],
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        conditions=row["conditions"],
        retry_policy=RetryPolicySpec(policy["name"], tuple(policy["delays"])),
        timeout_seconds=row["timeout_seconds"],
        ordering=Ordering(row["ordering"]),
        coalesce=bool(row["coalesce_updates"]),
        max_age_seconds=row["max_age_seconds"] or {},
        previous_secret=None if previous is None else box.decrypt(previous),
        previous_secret_expires=row["previous_secret_expires"],
        last_success=row["last_success"],
        failing_since=row["failing_since"],
        format=row["format"],
        signing=row["signing"],
        all_sites=bool(row["all_sites"]),
        organization_secret=organization_secret,
        last_error=last_error_from_row(row),
        next_retry_at=row["next_retry_at"],
        headers=_headers(row, box),
        rate_limit=_rate_limit(row),
        client_certificate=_client_certificate(row, box),
    )


def last_error_from_row(row: Row) -> LastError | None:
    """The latest failed attempt a webhook row records (its `last_error_*` columns), if any."""
    if row["last_error_at"] is None:
        return None
    return LastError(
        at=row["last_error_at"],
        status_code=row["last_error_status"],
        error=row["last_error"] or "",
        body=row["last_error_body"] or "",
    )


def event_values(event: Event) -> Values:
    return {
        "account_id": event.account_id,
        "id": event.id,
        "site_id": event.site_id,
        "type": event.type,
        "resource_ids": event.resource_ids,
        "event_time": event.event_time,
        "data": event.data,
        "created": event.created,
        "sequence": event.sequence,
        "traceparent": event.traceparent,
    }


def event_from_row(row: Row) -> Event:
    return Event(
        id=row["id"],
        account_id=row["account_id"],
        site_id=row["site_id"],
        type=row["type"],
        resource_ids=row["resource_ids"],
        event_time=row["event_time"],
        data=row["data"],
        created=row["created"],
        sequence=row["sequence"],
        traceparent=row["traceparent"],
    )


def delivery_values(delivery: Delivery) -> Values:
    return {
        "id": delivery.id,
        "account_id": delivery.account_id,
        "event_id": delivery.event_id,
        "webhook_id": delivery.webhook_id,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "lease_token": delivery.lease_token,
        "lease_worker": delivery.lease_worker,
        # A delivery created leased (fanout.Lease) is due when its lease expires.
        "lease_until": delivery.next_attempt_at if delivery.lease_token is not None else None,
        "lease_losses": 0,  # a stored delivery has lost none: only claims and take-backs count
        "last_status_code": delivery.last_status_code,
        "created": delivery.created,
        "completed_at": delivery.completed_at,
        "resource_key": delivery.resource_key,
        "sequence": delivery.sequence,
        "coalesce_key": delivery.coalesce_key,
        "lost_lease": None,
    }


_STATUSES = {status.value: status for status in DeliveryStatus}  # a dict: Enum() is ~1 us


def delivery_from_row(row: Row) -> Delivery:
    return Delivery(
        id=row["id"],
        account_id=row["account_id"],
        event_id=row["event_id"],
        webhook_id=row["webhook_id"],
        status=_STATUSES[row["status"]],
        attempts=row["attempts"],
        # A leased delivery is next attempted when its lease expires (migration 0018 keeps
        # the expiry apart from the due time it was claimed at).
        next_attempt_at=row["next_attempt_at"]
        if row["lease_token"] is None
        else row["lease_until"] or row["next_attempt_at"],
        created=row["created"],
        last_status_code=row["last_status_code"],
        completed_at=row["completed_at"],
        resource_key=row["resource_key"],
        sequence=row["sequence"],
        coalesce_key=row["coalesce_key"],
    )


def attempt_values(attempt: Attempt) -> Values:
    return {
        "delivery_id": attempt.delivery_id,
        "number": attempt.number,
        "started_at": attempt.started_at,
        "request_headers": attempt.request_headers,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_body": attempt.response_body,
        "error": attempt.error,
    }


def attempt_from_row(row: Row) -> Attempt:
    return Attempt(
        delivery_id=row["delivery_id"],
        number=row["number"],
        started_at=row["started_at"],
        # Stored compactly by PostgreSQL's recording statement (store/stored_headers.py).
        request_headers=expand(
            row["request_headers"], delivery_id=row["delivery_id"], started_at=row["started_at"]
        ),
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        response_body=row["response_body"],
        error=row["error"],
    )
