"""Request shapes (JW Player v2: resources carry their settings in `metadata`).

These check JSON types only; the rules (known events, safe URLs, existing sites...) live in
`services`, so the dashboard and the CLI get the same answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.errors import ValidationFailed


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


RetryPolicyIn = str | list[float]
# "resource": deliveries about one media or channel go in publish order (docs/delivery.md).
# Plain text here: the service checks the value and names the choices in its 400.
Ordering = str


class WebhookMetadataCreate(_Strict):
    name: str
    description: str | None = None
    webhook_url: str
    events: list[str]
    site_ids: list[str]
    enabled: bool = True
    conditions: dict[str, Any] | None = None
    retry_policy: RetryPolicyIn | None = Field(
        default=None, description='Default: the format\'s (jwplayer: "standard")'
    )
    timeout_seconds: int | None = Field(default=None, description="Default: the format's (10)")
    format: str = Field(
        default="jwplayer",
        description="jwplayer, apivideo, flowplayer, mediamanager or standard: the body, "
        "headers and event names (chosen here, fixed after)",
    )
    signing: str = Field(
        default="hmac",
        description='"hmac", or "ed25519" (jwplayer and standard formats): Standard Webhooks '
        "v1a signatures, verified with metadata.public_key",
    )
    ordering: Ordering = "none"
    coalesce: bool = Field(
        default=False,
        description="Latest wins: of several unsent *_updated events about one media or "
        "channel, only the newest is sent; the others are logged superseded",
    )
    max_age_seconds: dict[str, Any] | None = Field(
        default=None,
        description='Time-to-live per event type in seconds, e.g. {"channel_active": 600}: an '
        "older event is not sent and is logged expired",
    )


class WebhookMetadataPatch(_Strict):
    name: str | None = None
    description: str | None = None
    webhook_url: str | None = None
    events: list[str] | None = None
    site_ids: list[str] | None = None
    enabled: bool | None = None
    conditions: dict[str, Any] | None = None
    retry_policy: RetryPolicyIn | None = None
    timeout_seconds: int | None = None
    format: str | None = Field(default=None, description="Fixed: only its current value")
    signing: str | None = Field(
        default=None,
        description="A change is a rotation (admin): a new secret of the other kind signs at "
        "once, the old one beside it in webhook-signature until the grace period ends",
    )
    ordering: Ordering | None = None
    coalesce: bool | None = None
    max_age_seconds: dict[str, Any] | None = Field(default=None, description="null: no limits")


class WebhookCreate(_Strict):
    metadata: WebhookMetadataCreate


class WebhookPatch(_Strict):
    metadata: WebhookMetadataPatch


class SiteMetadata(_Strict):
    name: str


class SiteCreate(_Strict):
    id: str | None = Field(default=None, description="Optional 8-character id of your own")
    metadata: SiteMetadata


class SitePatch(_Strict):
    metadata: SiteMetadata


class ApiKeyMetadata(_Strict):
    name: str = ""
    role: str


class ApiKeyCreate(_Strict):
    metadata: ApiKeyMetadata


class FlowplayerSecretIn(_Strict):
    secret: str = Field(description="At least 16 characters; it signs from the next attempt")


class ContactIn(_Strict):
    email: str | None = Field(
        description="Where HookCast e-mails before a webhook is disabled, when it is and when it "
        "recovers (with HOOKCAST_SMTP_URL set); null: no e-mail",
        max_length=254,
    )


class Recover(_Strict):
    since: str = Field(description="ISO 8601 time: failed deliveries created since then")


class Replay(_Strict):
    since: str = Field(description="ISO 8601 time: deliveries created since then")
    until: str | None = Field(default=None, description="ISO 8601 time: and before then")
    resource_id: str | None = Field(
        default=None, description="Only events about this media or live channel"
    )
    event: str | None = Field(
        default=None, description="Only this event type (in the webhook's format's names)"
    )
    dry_run: bool = Field(default=False, description="Count them, send nothing")


NULLABLE_PATCH_FIELDS = frozenset({"conditions", "description", "max_age_seconds"})


def patch_changes(patch: WebhookPatch) -> dict[str, Any]:
    """The fields a PATCH set. `null` clears conditions or description; elsewhere it is an
    error, since a webhook cannot exist without, say, a URL."""
    changes = patch.metadata.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_PATCH_FIELDS:
            raise ValidationFailed(f"metadata.{name} cannot be null", field=name)
    return changes


class PublishedEvent(BaseModel):
    """One event as a publisher sends it. Documentation only: POST /v2/events/ is answered by
    api/publish_endpoint.py, whose rules (in EventService) name a failing field precisely."""

    model_config = ConfigDict(extra="allow")  # the resource ids the event's type requires

    event: str = Field(
        description="The event type: one of GET /v2/event_types/",
        json_schema_extra={"enum": list[JsonValue](sorted(EVENT_TYPES))},
    )
    site_id: str = Field(description="The property the event belongs to", examples=["9KboGBFu"])
    media_id: str | None = Field(default=None, description="For media, thumbnail, track events")
    channel_id: str | None = Field(default=None, description="For channel events")
    thumbnail_id: str | None = Field(default=None, description="For thumbnail events")
    track_id: str | None = Field(default=None, description="For track events")
    event_id: str | None = Field(
        default=None,
        description="Your own id for the event, 1-64 characters: publishing the same id again "
        "answers 409 instead of delivering twice. HookCast makes one when it is absent.",
    )
    event_time: str | None = Field(
        default=None,
        description="ISO 8601 with a zone offset; the time of publishing when absent",
        examples=["2024-08-27T00:15:45+00:00"],
    )
    data: dict[str, Any] | None = Field(
        default=None,
        description="Details delivered under `data` (up to 256 KiB, 64 levels deep)",
    )


class PublishedBatch(BaseModel):
    events: list[PublishedEvent] = Field(min_length=1, max_length=1000)


PUBLISH_EXAMPLES: dict[str, Any] = {
    "media_available": {
        "summary": "A media item is ready to play (JW Player's example)",
        "value": {"event": "media_available", "site_id": "9KboGBFu", "media_id": "MNYaMSQl"},
    },
    "conversions_complete": {
        "summary": "With your own event id, time and details",
        "value": {
            "event": "conversions_complete",
            "site_id": "9KboGBFu",
            "media_id": "MNYaMSQl",
            "event_id": "encoder-7f3a-0001",
            "event_time": "2024-08-27T00:15:45+00:00",
            "data": {"title": "Launch keynote", "duration": 3725.4},
        },
    },
    "batch": {
        "summary": "A batch: a channel goes live, a thumbnail is made",
        "value": {
            "events": [
                {"event": "channel_active", "site_id": "9KboGBFu", "channel_id": "YijbmYHJ"},
                {
                    "event": "thumbnail_created",
                    "site_id": "9KboGBFu",
                    "media_id": "MNYaMSQl",
                    "thumbnail_id": "k9x00iro",
                },
            ]
        },
    },
}
