"""The `flowplayer` format: Flowplayer's envelope, signed with the organization's secret.

Body: `{"event_type": "VIDEO_READY", "event_id", "created_at", "payload": {"id", ...}}`; the
payload is the resource's id (`id`), its other ids, then the publisher's `data` (inferred:
Flowplayer documents the four keys, not their types). Header
`X-FP-Webhook-Signature-Hmac-Sha-256`: lowercase hex HMAC-SHA256 of the raw body keyed by the
account's Flowplayer organization secret; with none set, deliveries are held, not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hookcast.domain.catalog import OPERATIONAL_EVENTS
from hookcast.domain.formats.base import TEST_EVENT, Format, hex_signed, resource_fields
from hookcast.domain.formats.jwplayer import format_time
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.models import EventFields, RetryPolicySpec
from hookcast.domain.retry import STANDARD_DELAYS

__all__ = ["FORMAT", "SIGNATURE_HEADER"]

SIGNATURE_HEADER: Final = "X-FP-Webhook-Signature-Hmac-Sha-256"

NAMES: Final[Mapping[str, str]] = {
    "media_available": "VIDEO_READY",
    "media_updated": "VIDEO_UPDATED",
    "media_deleted": "VIDEO_DELETED",
    "channel_created": "LIVESTREAM_CREATED",
    "channel_updated": "LIVESTREAM_UPDATED",
    "channel_deleted": "LIVESTREAM_DELETED",
    "channel_active": "LIVESTREAM_CONNECTED",
    "channel_idle": "LIVESTREAM_DISCONNECTED",
    "channel_error": "LIVESTREAM_ERROR",
    "livesource_created": "LIVESOURCE_CREATED",
    "livesource_updated": "LIVESOURCE_UPDATED",
    "livesource_deleted": "LIVESOURCE_DELETED",
    "livesource_connected": "LIVESOURCE_CONNECTED",
    TEST_EVENT: "WEBHOOK_TEST",  # HookCast's own ping: Flowplayer sends none
    # HookCast's own events about the account's webhooks, in Flowplayer's style:
    # WEBHOOK_FAILING, WEBHOOK_DISABLE_WARNING, ...
    **{name: name.upper() for name in OPERATIONAL_EVENTS},
}


def _render(event: EventFields, *, name: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return {
        "event_type": name,
        "event_id": event.event_id,
        "created_at": format_time(event.event_time),
        "payload": resource_fields(event, primary_as="id"),
    }


FORMAT = Format(
    name="flowplayer",
    title="Flowplayer",
    names=NAMES,
    render=_render,
    sign=hex_signed(SIGNATURE_HEADER),
    signature_headers=frozenset({SIGNATURE_HEADER.lower()}),
    # Stored but unused for signing (the organization secret signs): kept so every webhook
    # has a secret and switching the scheme later needs no migration.
    make_secret=new_webhook_secret,
    retry_policy=RetryPolicySpec("standard", STANDARD_DELAYS),  # Flowplayer documents none
    all_events="ALL",
    organization_signed=True,
    rotation=(
        "X-FP-Webhook-Signature-Hmac-Sha-256 is signed by the account's Flowplayer "
        "organization secret, not this webhook's: a new organization secret signs from the "
        "next attempt on, alone; this webhook's own secret signs nothing."
    ),
    verify_example=(
        'expected = hmac.new(organization_secret.encode(), body, "sha256").hexdigest()\n'
        'hmac.compare_digest(expected, headers["X-FP-Webhook-Signature-Hmac-Sha-256"])'
    ),
)
