"""The `apivideo` format: api.video's flat body, `X-Api-Video-Signature` hex HMAC-SHA256.

Body: `{"type", "emittedAt", <the event's fields>}`, no envelope and nothing else, keys in
api.video's order (its guide's signed example). Headers: `X-Api-Video-WebhookID` (the
webhook's id) and `X-Api-Video-Signature` (lowercase hex HMAC-SHA256 of the raw body, key =
the `sig_sec_` secret's UTF-8 bytes). One signature only: a rotation switches at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from hookcast.domain.catalog import OPERATIONAL_EVENTS
from hookcast.domain.formats.base import TEST_EVENT, Format, hex_signed
from hookcast.domain.ids import random_chars
from hookcast.domain.models import EventFields, RetryPolicySpec

__all__ = ["FORMAT", "SECRET_PREFIX", "emitted_at", "new_secret"]

SECRET_PREFIX: Final = "sig_sec_"  # noqa: S105 - a prefix, not a secret

# Each event's fields in api.video's order: (api.video field, where the value comes from),
# "id:" a resource id of the event, "data:" a field of the publisher's data. A field whose
# source is absent is left out.
_PLATFORM_FIELDS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "rendition_ready": (
        ("videoId", "id:media_id"),
        ("liveStreamId", "data:channel_id"),
        ("encoding", "data:encoding"),
        ("quality", "data:quality"),
    ),
    "channel_active": (("liveStreamId", "id:channel_id"),),
    "channel_idle": (("liveStreamId", "id:channel_id"),),
    "channel_recording_ready": (
        ("liveStreamId", "id:channel_id"),
        ("videoId", "data:media_id"),
    ),
    "caption_generated": (
        ("videoId", "id:media_id"),
        ("captionId", "id:track_id"),
        ("generationMode", "data:generation_mode"),
        ("language", "data:language"),
    ),
    "summary_generated": (("videoId", "id:media_id"), ("summaryId", "id:summary_id")),
    TEST_EVENT: (),
}
# HookCast's own events about the account's webhooks (api.video has none): their data, in
# api.video's camelCase; the fields an event lacks (a recovery's last error) are left out.
_OPERATIONAL_FIELDS: Final = (
    ("webhookId", "data:webhook_id"),
    ("webhookName", "data:webhook_name"),
    ("webhookUrl", "data:webhook_url"),
    ("failingSince", "data:failing_since"),
    ("lastStatusCode", "data:last_status_code"),
    ("lastError", "data:last_error"),
    ("lastResponseBody", "data:last_response_body"),
    ("deliveriesWaiting", "data:deliveries_waiting"),
    ("reason", "data:reason"),
    ("disableAt", "data:disable_at"),
    ("recoveredAt", "data:recovered_at"),
)
_FIELDS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    **_PLATFORM_FIELDS,
    **{name: _OPERATIONAL_FIELDS for name in OPERATIONAL_EVENTS},
}
NAMES: Final[Mapping[str, str]] = {
    "rendition_ready": "video.encoding.quality.completed",
    "channel_active": "live-stream.broadcast.started",
    "channel_idle": "live-stream.broadcast.ended",
    "channel_recording_ready": "video.source.recorded",
    "caption_generated": "video.caption.generated",
    "summary_generated": "video.summary.generated",
    TEST_EVENT: "webhook.test",  # HookCast's own ping: api.video sends none
    **{name: name.replace("_", ".", 1) for name in OPERATIONAL_EVENTS},  # webhook.failing, ...
}


def emitted_at(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and "Z", as api.video's signed example:
    "2021-01-29T15:46:25.217Z"."""
    if moment.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _render(event: EventFields, *, name: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": name, "emittedAt": emitted_at(event.event_time)}
    data = event.data or {}
    for field, source in _FIELDS[event.type]:
        kind, _, key = source.partition(":")
        value = event.resource_ids.get(key) if kind == "id" else data.get(key)
        if value is not None:
            body[field] = value
    return body


def new_secret() -> str:
    """`sig_sec_` + 22 letters and digits, the shape of api.video's signatureSecret."""
    return SECRET_PREFIX + random_chars(22)


FORMAT = Format(
    name="apivideo",
    title="api.video",
    names=NAMES,
    render=_render,
    sign=hex_signed("X-Api-Video-Signature", webhook_id_header="X-Api-Video-WebhookID"),
    signature_headers=frozenset({"x-api-video-signature"}),
    make_secret=new_secret,
    # A 1xx/2xx is delivered; anything else is retried 3 times, 3 s apart (4 tries in all).
    retry_policy=RetryPolicySpec("custom", (3.0, 3.0, 3.0)),
    success_from=100,
    rotation=(
        "X-Api-Video-Signature carries one signature, by the new secret from the moment you "
        "rotate: have your receiver accept either secret before rotating."
    ),
    verify_language="PHP",
    verify_example=(
        '$signature = hash_hmac("sha256", file_get_contents("php://input"), $secret);\n'
        'if (!hash_equals($signature, $_SERVER["HTTP_X_API_VIDEO_SIGNATURE"])) {\n'
        "    http_response_code(401); exit;\n"
        "}"
    ),
)
