"""Request shapes (JW Player v2: resources carry their settings in `metadata`).

These check JSON types only; the rules (known events, safe URLs, existing sites...) live in
`services`, so the dashboard and the CLI get the same answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from hookcast.api import schema_facts as facts
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.errors import ValidationFailed


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Wrapped(_Strict):
    """A JW-shaped body whose settings go in `metadata`. Settings sent at the top level
    (a flat body, as many clients first try) are named in one error that says where they go,
    instead of "metadata: Field required" and one "Extra inputs" per field."""

    @model_validator(mode="before")
    @classmethod
    def _settings_inside_metadata(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        inner = cls.model_fields["metadata"].annotation
        assert isinstance(inner, type)
        assert issubclass(inner, BaseModel)
        stray = [key for key in data if key in inner.model_fields and key not in cls.model_fields]
        if stray:
            raise PydanticCustomError(
                "settings_outside_metadata",
                '{fields} must be inside "metadata" (JW Player\'s v2 shape): '
                '{"metadata": {"{first}": ...}}',
                {"fields": ", ".join(stray), "first": stray[0]},
            )
        return data


RetryPolicyIn = str | list[float]
# "resource": deliveries about one media or channel go in publish order (docs/delivery.md).
# Plain text here: the service checks the value and names the choices in its 400.
Ordering = str


_NAME = "A name for people, up to 256 characters"
_DESCRIPTION = "What it is for, up to 2048 characters"
_URL = (
    "Where deliveries are POSTed: http or https, up to 2048 characters; private, loopback "
    "and cloud-metadata addresses are refused unless the operator allowed their network"
)
_EVENTS = (
    "Event names in the webhook's format (GET /v2/event_types/ names each event in every "
    'format), or ["*"] alone (Flowplayer: ["ALL"]) for every event, including ones added later'
)
_SITES = (
    'Property (site) ids whose events it receives, or ["*"] alone for every property of the '
    "account, including those created later"
)
_ENABLED = "false: nothing is sent; events published meanwhile are held for it"
_CONDITIONS = (
    'JSON conditions on the delivery body, e.g. {"data.tags": {"$contains": "sports"}}; '
    "an event that does not meet them is not delivered (docs/delivery.md)"
)
_RETRY = (
    '"standard" (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), "quick" (3 attempts '
    "3 s apart), or 1-10 custom delays in seconds between attempts, each from 1 s (unless "
    "the operator lowered it) to 7 days"
)
_TIMEOUT = "Seconds to wait for the receiver's answer, 1-30"
_FORMAT = (
    "jwplayer, apivideo, flowplayer, mediamanager or standard: the body, headers and event "
    "names (docs/formats.md)"
)
_SIGNING = (
    '"hmac", or "ed25519" (jwplayer and standard formats): Standard Webhooks v1a signatures, '
    "verified with metadata.public_key"
)
_ORDERING = (
    '"resource": deliveries about one media or channel go in publish order; "none": as soon '
    "as possible"
)
_COALESCE = (
    "Latest wins: of several unsent *_updated events about one media or channel, only the "
    "newest is sent; the others are logged superseded"
)
_MAX_AGE = (
    'Time-to-live per event type in seconds (1 s to 7 days), e.g. {"channel_active": 600}: an '
    "older event is not sent and is logged expired"
)


class ClientCertificateIn(_Strict):
    certificate: str = Field(description="PEM: the client certificate, then any intermediates")
    private_key: str = Field(description="PEM: its private key, unencrypted (RSA, EC, EdDSA)")


class WebhookMetadataCreate(_Strict):
    name: str = Field(description=_NAME)
    description: str | None = Field(default=None, description=_DESCRIPTION)
    webhook_url: str = Field(description=_URL)
    events: list[str] = Field(description=_EVENTS, json_schema_extra=facts.event_list)
    site_ids: list[str] = Field(description=_SITES, json_schema_extra=facts.site_list)
    enabled: bool = Field(default=True, description=_ENABLED)
    conditions: dict[str, Any] | None = Field(default=None, description=_CONDITIONS)
    retry_policy: RetryPolicyIn | None = Field(
        default=None,
        description=f'{_RETRY}. Default: the format\'s (jwplayer: "standard")',
        json_schema_extra=facts.retry_policy,
    )
    timeout_seconds: int | None = Field(
        default=None,
        description=f"{_TIMEOUT}. Default: the format's (10)",
        json_schema_extra=facts.number_range(*facts.TIMEOUT_RANGE),
    )
    format: str = Field(
        default="jwplayer",
        description=f"{_FORMAT}: chosen here, fixed after",
        json_schema_extra=facts.enum(facts.FORMAT_NAMES),
    )
    signing: str = Field(
        default="hmac", description=_SIGNING, json_schema_extra=facts.enum(facts.SIGNINGS)
    )
    ordering: Ordering = Field(
        default="none", description=_ORDERING, json_schema_extra=facts.enum(facts.ORDERINGS)
    )
    coalesce: bool = Field(default=False, description=_COALESCE)
    max_age_seconds: dict[str, Any] | None = Field(
        default=None, description=_MAX_AGE, json_schema_extra=facts.max_age_map
    )
    headers: dict[str, str] | None = Field(
        default=None,
        description="Sent with every delivery, e.g. a gateway's key: at most 20, names not "
        "ones HookCast sets (signatures, Host, framing, Content-Type, X-Hookcast-*), values "
        'printable ASCII. Values are stored encrypted and shown as "[redacted]"; sending '
        '"[redacted]" back keeps a stored value',
    )
    rate_limit_per_second: float | None = Field(
        default=None,
        ge=0.01,
        le=1000,
        description="At most this many requests per second to this webhook on average, "
        "across every worker; held-back deliveries wait (no attempt counted). null: none",
    )
    rate_limit_burst: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Requests that may go at once before the rate applies; default: the "
        "rate rounded up",
    )
    client_certificate: ClientCertificateIn | None = Field(
        default=None,
        description="Mutual TLS: a client certificate (PEM, the leaf first) and its "
        "unencrypted private key, presented to https webhook URLs; stored encrypted, never "
        "shown again (GET shows its subject, issuer, expiry and fingerprint). null: none",
    )


class WebhookMetadataPatch(_Strict):
    """Only the fields given change; the others keep their value."""

    name: str | None = Field(default=None, description=_NAME)
    description: str | None = Field(default=None, description=f"{_DESCRIPTION}; null clears it")
    webhook_url: str | None = Field(default=None, description=_URL)
    events: list[str] | None = Field(
        default=None, description=_EVENTS, json_schema_extra=facts.event_list
    )
    site_ids: list[str] | None = Field(
        default=None, description=_SITES, json_schema_extra=facts.site_list
    )
    enabled: bool | None = Field(
        default=None,
        description=f"{_ENABLED}; true again keeps them held until delivered or discarded",
    )
    conditions: dict[str, Any] | None = Field(
        default=None, description=f"{_CONDITIONS}; null removes them"
    )
    retry_policy: RetryPolicyIn | None = Field(
        default=None, description=_RETRY, json_schema_extra=facts.retry_policy
    )
    timeout_seconds: int | None = Field(
        default=None,
        description=_TIMEOUT,
        json_schema_extra=facts.number_range(*facts.TIMEOUT_RANGE),
    )
    format: str | None = Field(
        default=None,
        description="Fixed: only its current value",
        json_schema_extra=facts.enum(facts.FORMAT_NAMES),
    )
    signing: str | None = Field(
        default=None,
        description="A change is a rotation (admin): a new secret of the other kind signs at "
        "once, the old one beside it in webhook-signature until the grace period ends",
        json_schema_extra=facts.enum(facts.SIGNINGS),
    )
    ordering: Ordering | None = Field(
        default=None, description=_ORDERING, json_schema_extra=facts.enum(facts.ORDERINGS)
    )
    coalesce: bool | None = Field(default=None, description=_COALESCE)
    max_age_seconds: dict[str, Any] | None = Field(
        default=None,
        description=f"{_MAX_AGE}; null: no limits",
        json_schema_extra=facts.max_age_map,
    )

    headers: dict[str, str] | None = Field(
        default=None, description='Replaces them all; "[redacted]" keeps a stored value'
    )
    rate_limit_per_second: float | None = Field(
        default=None, ge=0.01, le=1000, description="As on create; null: no limit"
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, le=1000, description="As on create; default: the rate rounded up"
    )
    client_certificate: ClientCertificateIn | None = Field(default=None, description="null: none")


# JW Player's own example (its Management API docs), then HookCast's additions.
_JW_WEBHOOK: JsonDict = {
    "name": "Media Available Webhook",
    "description": "Webhook to notify me when media is ready to be published",
    "webhook_url": "https://my-endpoint.com",
    "events": ["media_available"],
    "site_ids": ["1A23bCD4"],
}
_EVERYWHERE: JsonDict = {
    "name": "Everything, everywhere",
    "webhook_url": "https://my-endpoint.com/hookcast",
    "events": ["*"],
    "site_ids": ["*"],
    "format": "standard",
    "retry_policy": "quick",
}


class WebhookCreate(_Wrapped):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"metadata": _JW_WEBHOOK}, {"metadata": _EVERYWHERE}]}
    )

    metadata: WebhookMetadataCreate = Field(description="The webhook's settings")


class WebhookPatch(_Wrapped):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"metadata": {"site_ids": ["*"]}},
                {"metadata": {"enabled": False}},
                {"metadata": {"events": ["media_available", "media_deleted"]}},
            ]
        }
    )

    metadata: WebhookMetadataPatch = Field(description="The settings to change")


class SiteMetadata(_Strict):
    name: str = Field(description="A name for people, up to 256 characters")


class SiteCreate(_Wrapped):
    id: str | None = Field(
        default=None, description="Optional id of your own: exactly 8 letters or digits"
    )
    metadata: SiteMetadata = Field(description="The property's settings")


class SitePatch(_Wrapped):
    metadata: SiteMetadata = Field(description="The property's new settings")


class ApiKeyMetadata(_Strict):
    name: str = Field(default="", description="A name for people, up to 256 characters")
    role: str = Field(
        description="admin: everything, keys and secrets; editor: webhooks and properties; "
        "publisher: publish events; viewer: read",
        json_schema_extra=facts.enum(facts.ROLES),
    )


class ApiKeyCreate(_Wrapped):
    metadata: ApiKeyMetadata = Field(description="The key's name and role")


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


NULLABLE_PATCH_FIELDS = frozenset(
    {
        "conditions",
        "description",
        "max_age_seconds",
        "headers",
        "rate_limit_per_second",
        "rate_limit_burst",
        "client_certificate",
    }
)


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
        description=(
            "Details delivered under `data` (up to 256 KiB, 64 levels deep and, by default, "
            "10,000 arrays and objects)"
        ),
    )


class PublishedBatch(BaseModel):
    events: list[PublishedEvent] = Field(
        min_length=1, max_length=1000, description="1 to 1000 events, published together"
    )


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
