"""The `mediamanager` format: Media Manager's events, `Signature` hex HMAC-SHA256.

Inferred (Media Manager publishes neither as text): the header and the algorithm are those of
the Laravel package whose defaults match its documented behaviour (spatie/laravel-webhook-
server: `Signature: <hex HMAC-SHA256 of the JSON body>`, 3 tries, 3 s timeout), and the body
is `{"event", "event_id", "event_time", "data": {"token", ...}}` with the resource's id as
`token`, Media Manager's key for media. Key = the webhook's secret string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hookcast.domain.catalog import OPERATIONAL_EVENTS
from hookcast.domain.formats.base import TEST_EVENT, Format, hex_signed, resource_fields
from hookcast.domain.formats.jwplayer import format_time
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.models import EventFields, RetryPolicySpec
from hookcast.domain.retry import QUICK_DELAYS

__all__ = ["FORMAT", "SIGNATURE_HEADER"]

SIGNATURE_HEADER: Final = "Signature"

# "Livestream webhooks extend Media webhooks": a livestream's creation, publishing,
# unpublishing, change and deletion are sent as the media.* events.
NAMES: Final[Mapping[str, str]] = {
    "media_created": "media.created",
    "channel_created": "media.created",
    "conversions_complete": "media.upload.completed",
    "media_failed": "media.upload.failed",
    "media_published": "media.published",
    "media_unpublished": "media.unpublished",
    "media_updated": "media.updated",
    "channel_updated": "media.updated",
    "media_deleted": "media.deleted",
    "channel_deleted": "media.deleted",
    "media_restored": "media.restored",
    "master_ready": "media.master.ready",
    "master_failed": "media.master.failed",
    "channel_enabled": "livestream.enabled",
    "channel_disabled": "livestream.disabled",
    "channel_active": "livestream.started",
    "channel_idle": "livestream.idle",
    TEST_EVENT: "webhook.test",  # HookCast's own ping
    # HookCast's own events about the account's webhooks, dotted as its ping:
    # webhook.failing, webhook.disable_warning, ...
    **{name: name.replace("_", ".", 1) for name in OPERATIONAL_EVENTS},
}


def _render(event: EventFields, *, name: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return {
        "event": name,
        "event_id": event.event_id,
        "event_time": format_time(event.event_time),
        "data": resource_fields(event, primary_as="token"),
    }


FORMAT = Format(
    name="mediamanager",
    title="Media Manager",
    names=NAMES,
    render=_render,
    sign=hex_signed(SIGNATURE_HEADER),
    signature_headers=frozenset({SIGNATURE_HEADER.lower()}),
    make_secret=new_webhook_secret,
    # 2xx is success, 3 tries in all, no answer within 3 s is a failure (its documented
    # behaviour); the 3 s between tries is HookCast's "quick" preset (inferred).
    retry_policy=RetryPolicySpec("quick", QUICK_DELAYS),
    timeout_seconds=3,
    rotation=(
        "Signature carries one signature, by the new secret from the moment you rotate: have "
        "your receiver accept either secret before rotating."
    ),
    verify_language="PHP",
    verify_example=(
        '$signature = hash_hmac("sha256", file_get_contents("php://input"), $secret);\n'
        'if (!hash_equals($signature, $_SERVER["HTTP_SIGNATURE"] ?? "")) {\n'
        "    http_response_code(401); exit;\n"
        "}"
    ),
)
