"""The Management API's response shapes (JW Player v2), each declared once.

Each model is what a route returns and what the OpenAPI document describes, and its
`from_domain` classmethod builds it from the domain object: no other code writes these keys.
FastAPI takes a route's response model from its return type and serializes the instance as
is. No field has a default, except the optional ones of `EventOut` (present only for some
event types), and that route serializes with `exclude_unset`, so every other answer has
every key. Only the create responses and the secret routes have a `secret`.

Times are ISO 8601 strings as `format_time` writes them ("2024-08-27T00:15:45+00:00"), kept
as strings so the bytes on the wire are exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hookcast.api import schema_facts as facts
from hookcast.domain import ed25519, jwks
from hookcast.domain.catalog import EVENT_TYPES, EventType
from hookcast.domain.custom_headers import redacted
from hookcast.domain.formats import FORMATS, format_of
from hookcast.domain.formats.examples import format_examples
from hookcast.domain.formats.jwplayer import format_time
from hookcast.domain.jwks import PublishedKey
from hookcast.domain.models import (
    ALL_SITES,
    ApiKey,
    Attempt,
    ClientCertificate,
    LastError,
    Site,
    Webhook,
    WebhookState,
)
from hookcast.domain.retry import retry_policy_to_json
from hookcast.ports import DeliveryRecord, EventSummary, Page, PageRequest
from hookcast.services import NewApiKey
from hookcast.services import TestSent as SentTest

Time = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        examples=["2024-08-27T00:15:45+00:00"],
    ),
]
# A preset's name, or the custom delays in seconds. Ints stay ints (5, not 5.0).
RetryPolicyOut = Annotated[
    str | list[int | float],
    Field(
        description='"standard", "quick", or the custom list of retry delays in seconds',
        json_schema_extra=facts.retry_policy_out,
    ),
]
Role = Literal["admin", "editor", "publisher", "viewer"]
DeliveryStatus = Literal[
    "pending",
    "paused",
    "succeeded",
    "failed",
    "held",
    "discarded",
    "waiting",
    "superseded",
    "expired",
]


EVENT_TYPE_NAMES = sorted(EVENT_TYPES)


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


class _Out(BaseModel):
    """Unknown keys are dropped (pydantic's default): a GET model without `secret` can never
    pass one through. `schema_` is filled by name in `from_domain`, shown as `schema`."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


class _Page(_Out):
    """A list's position; each list adds its items under the resource's plural name."""

    page: int = Field(description="This page's number, from 1")
    page_length: int = Field(description="Items per page asked for (1-1000)")
    total: int = Field(description="How many items all pages hold")


# --- errors -----------------------------------------------------------------------------------


class ErrorItem(_Out):
    code: str = Field(
        description="What went wrong, for programs: invalid, not_found, limit_exceeded...",
        examples=["not_found"],
    )
    description: str = Field(description="What went wrong and what to do, for people")


class ErrorBody(_Out):
    errors: list[ErrorItem] = Field(min_length=1, description="One or more problems")


_ERROR_DESCRIPTIONS = {
    400: "Invalid request: bad JSON, a wrong type or a value the rules refuse",
    401: "Missing or unknown API key (with `WWW-Authenticate: Bearer`)",
    403: "The API key's role may not do this",
    404: "No such resource in this account",
    409: "Conflicts with an existing resource",
    413: "The request body is larger than the configured limit",
    415: "The request body is not JSON",
    429: "Too many requests for this API key (with `Retry-After`)",
    503: "The database is unavailable (with `Retry-After`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the error body."""
    return {
        status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


# Every /v2 route authenticates (401), is rate limited (429) and reads the database (503).
AUTHENTICATED = (401, 429, 503)
# POST and PATCH bodies pass the request rules first: size (413) and JSON only (415).
WITH_BODY = (400, 413, 415)
# Writes may also answer 409: the store turns any constraint violation into a Conflict.


# --- webhooks ---------------------------------------------------------------------------------


class LastErrorOut(_Out):
    """A webhook's most recent failed attempt."""

    at: Time = Field(description="When the attempt started")
    status_code: int | None = Field(description="The response's status; null if none came")
    error: str = Field(
        description="What failed: the HTTP status, or why no response came",
        examples=["HTTP 401", "connection refused"],
    )
    body: str = Field(description="The response body's first 300 characters")

    @classmethod
    def from_domain(cls, error: LastError) -> LastErrorOut:
        return cls(
            at=format_time(error.at),
            status_code=error.status_code,
            error=error.error,
            body=error.body,
        )


class ClientCertificateOut(_Out):
    """What a webhook's client certificate shows: never its key."""

    subject: str = Field(
        description="The certificate's subject (RFC 4514)", examples=["CN=hookcast.example.com"]
    )
    issuer: str = Field(description="Who issued it (RFC 4514)")
    not_after: Time = Field(description="It expires then: deliveries fail TLS after")
    fingerprint_sha256: str = Field(description="Of the certificate (DER), hex")

    @classmethod
    def from_domain(cls, certificate: ClientCertificate) -> ClientCertificateOut:
        return cls(
            subject=certificate.subject,
            issuer=certificate.issuer,
            not_after=format_time(certificate.not_after),
            fingerprint_sha256=certificate.fingerprint,
        )


class WebhookMetadataOut(_Out):
    name: str = Field(description="A name for people")
    description: str = Field(description="What it is for (may be empty)")
    webhook_url: str = Field(description="Where deliveries are POSTed")
    events: list[str] = Field(
        description='Event names in the webhook\'s format, or ["*"] (Flowplayer: ["ALL"]) '
        "for every event",
        json_schema_extra={"items": {"type": "string", "enum": list[Any](facts.EVENT_NAMES)}},
    )
    site_ids: list[str] = Field(
        description='The properties (site ids) whose events it receives, or ["*"] alone for '
        "every property of the account, including those created later. A webhook made with "
        '["*"] shows ["*"] here (not the properties it covers today), so what is read back '
        "can be sent back unchanged"
    )
    enabled: bool = Field(description="false: nothing is sent; new events are held for it")
    disabled_reason: str | None = Field(
        description='Why it is disabled ("disabled by a user", "410 Gone", "no successful '
        'delivery for 5 days"); null while enabled'
    )
    conditions: dict[str, Any] | None = Field(
        description="JSON conditions on the delivery body; null: every matching event goes"
    )
    retry_policy: RetryPolicyOut
    timeout_seconds: int = Field(
        description="Seconds to wait for the receiver's answer",
        json_schema_extra=facts.number_range(*facts.TIMEOUT_RANGE),
    )
    ordering: Literal["none", "resource"] = Field(
        description='"resource": deliveries about one media or channel are sent in publish '
        'order, each after the one before it succeeded or was given up; "none": as soon as '
        "possible"
    )
    coalesce: bool = Field(
        description="Latest wins: of several unsent *_updated events about one media or "
        "channel, only the newest is sent; the others are logged superseded"
    )
    max_age_seconds: dict[str, int] = Field(
        description="Time-to-live in seconds per event type (the format's names): an older "
        "event is not sent and is logged expired"
    )
    last_success: Time | None = Field(description="Read only. The last successful attempt")
    failing_since: Time | None = Field(
        description="Read only. The first failure since the last success; null while healthy"
    )
    held_deliveries: int = Field(
        description="Deliveries published while the webhook was disabled, kept until "
        "delivered (POST .../held/deliver/) or discarded (POST .../held/discard/)"
    )
    format: str = Field(
        description="The wire format: body, headers and event names",
        json_schema_extra=facts.enum(facts.FORMAT_NAMES),
    )
    signing: str = Field(
        description='The signature scheme: "hmac" or "ed25519"',
        json_schema_extra=facts.enum(facts.SIGNINGS),
    )
    public_key: str | None = Field(
        description="For ed25519 signing, the whpk_ public key receivers verify v1a "
        "signatures with (not a secret); null for hmac"
    )
    state: Literal["healthy", "failing", "disabled"] = Field(
        description="Read only. failing: every attempt since failing_since failed; "
        "disabled: nothing is sent (see disabled_reason)"
    )
    last_error: LastErrorOut | None = Field(
        description="Read only. The most recent failed attempt, kept after the webhook "
        "recovers; null if none failed"
    )
    next_attempt_at: Time | None = Field(
        description="Read only. While failing: when the next retry is due (in the past while "
        "it is being sent)"
    )

    headers: dict[str, str] = Field(
        description='Custom headers sent with every delivery: names, each value "[redacted]"'
    )
    rate_limit_per_second: float | None = Field(
        description="At most this many requests per second on average, across every "
        "worker; null: no limit"
    )
    rate_limit_burst: int | None = Field(description="Requests that may go at once")
    client_certificate: ClientCertificateOut | None = Field(
        description="Mutual TLS: the client certificate presented to https endpoints (its "
        "key is never shown); null: none"
    )

    @classmethod
    def from_domain(cls, hook: Webhook) -> WebhookMetadataOut:
        limit, certificate = hook.rate_limit, hook.client_certificate
        return cls(
            headers=redacted(hook.headers),
            rate_limit_per_second=None if limit is None else limit.per_second,
            rate_limit_burst=None if limit is None else limit.burst,
            client_certificate=(
                None if certificate is None else ClientCertificateOut.from_domain(certificate)
            ),
            name=hook.name,
            description=hook.description,
            webhook_url=hook.webhook_url,
            events=list(format_of(hook).to_own(hook.events)),
            site_ids=[ALL_SITES] if hook.all_sites else list(hook.site_ids),
            enabled=hook.enabled,
            disabled_reason=hook.disabled_reason,
            conditions=hook.conditions,
            retry_policy=retry_policy_to_json(hook.retry_policy),
            timeout_seconds=hook.timeout_seconds,
            ordering=hook.ordering.value,
            coalesce=hook.coalesce,
            max_age_seconds=dict(hook.max_age_seconds),
            last_success=_time(hook.last_success),
            failing_since=_time(hook.failing_since),
            held_deliveries=hook.held_deliveries,
            format=hook.format,
            signing=hook.signing,
            state=hook.state.value,
            last_error=LastErrorOut.from_domain(hook.last_error) if hook.last_error else None,
            next_attempt_at=_time(hook.next_retry_at)
            if hook.state is WebhookState.FAILING
            else None,
            public_key=_public_key(hook.secret),
        )


def _public_key(secret: str) -> str | None:
    return ed25519.public_key_of(secret) if ed25519.is_signing_key(secret) else None


class WebhookOut(_Out):
    """A webhook as GET shows it: never its secret."""

    id: str = Field(description="The webhook's 8-character id")
    created: Time = Field(description="When it was created")
    last_modified: Time = Field(description="When its settings last changed")
    metadata: WebhookMetadataOut = Field(description="Its settings and read-only state")
    relationships: dict[str, Any] = Field(description="Always empty (JW Player's shape)")
    schema_: None = Field(alias="schema", description="Always null (JW Player's shape)")
    type: Literal["webhook"] = Field(description="The resource's kind")

    @classmethod
    def from_domain(cls, hook: Webhook) -> WebhookOut:
        return cls(
            id=hook.id,
            created=format_time(hook.created),
            last_modified=format_time(hook.last_modified),
            metadata=WebhookMetadataOut.from_domain(hook),
            relationships={},
            schema_=None,
            type="webhook",
        )


class WebhookCreated(WebhookOut):
    """The create response: the only one that carries the signing secret."""

    secret: str = Field(
        description="Signs its deliveries (whsec_...; Ed25519: the signing key). Shown this "
        "once; an admin may reveal it later"
    )

    @classmethod
    def from_domain(cls, hook: Webhook) -> WebhookCreated:
        return cls(**dict(WebhookOut.from_domain(hook)), secret=hook.secret)


class WebhookList(_Page):
    webhooks: list[WebhookOut] = Field(description="This page's webhooks")

    @classmethod
    def from_domain(cls, found: Page[Webhook], request: PageRequest) -> WebhookList:
        webhooks = [WebhookOut.from_domain(hook) for hook in found.items]
        return cls(**_position(found, request), webhooks=webhooks)


class SecretOut(_Out):
    id: str = Field(description="The webhook's id")
    secret: str = Field(description="Signs its deliveries now")
    previous_secret: str | None = Field(description="Still signs until previous_secret_expires")
    previous_secret_expires: Time | None = Field(
        description="When the previous secret stops signing; null without one"
    )

    @classmethod
    def from_domain(cls, hook: Webhook) -> SecretOut:
        return cls(
            id=hook.id,
            secret=hook.secret,
            previous_secret=hook.previous_secret,
            previous_secret_expires=_time(hook.previous_secret_expires),
        )


class FlowplayerSecretOut(_Out):
    secret: str | None = Field(
        description="Signs every Flowplayer-format webhook's deliveries (X-FP-Webhook-"
        "Signature-Hmac-Sha-256); null: not set, and their deliveries are held"
    )


class ContactOut(_Out):
    email: str | None = Field(
        description="Where HookCast e-mails before a webhook is disabled, when it is and when it "
        "recovers; null: no e-mail"
    )


class JwkOut(_Out):
    """An Ed25519 public key as a JWK (RFC 8037), with the webhook it signs for."""

    kty: Literal["OKP"] = Field(description="Key type: an octet key pair")
    crv: Literal["Ed25519"] = Field(description="The curve")
    x: str = Field(description="The raw 32-byte public key, base64url without padding")
    kid: str = Field(description="The key's RFC 7638 thumbprint")
    use: Literal["sig"] = Field(description="The key verifies signatures")
    alg: Literal["EdDSA"] = Field(description="The signature algorithm")
    webhook_id: str = Field(description="The webhook whose deliveries it verifies")
    expires_at: Time | None = Field(
        description="null for the current key; for the previous key during a rotation's "
        "grace period, when it stops signing"
    )


class JwkSetOut(_Out):
    """The account's webhook public keys (JWKS, RFC 7517)."""

    keys: list[JwkOut] = Field(description="One per signing key, oldest webhook first")

    @classmethod
    def from_domain(cls, keys: Sequence[PublishedKey]) -> JwkSetOut:
        return cls.model_validate(jwks.document(keys))


# --- sites ------------------------------------------------------------------------------------


class SiteMetadataOut(_Out):
    name: str = Field(description="A name for people")


class SiteOut(_Out):
    id: str = Field(description="The property's 8-character id")
    created: Time = Field(description="When it was created")
    last_modified: Time = Field(description="When it was last renamed")
    metadata: SiteMetadataOut = Field(description="Its settings")
    relationships: dict[str, Any] = Field(description="Always empty (JW Player's shape)")
    schema_: None = Field(alias="schema", description="Always null (JW Player's shape)")
    type: Literal["site"] = Field(description="The resource's kind")

    @classmethod
    def from_domain(cls, site: Site) -> SiteOut:
        return cls(
            id=site.id,
            created=format_time(site.created),
            last_modified=format_time(site.last_modified),
            metadata=SiteMetadataOut(name=site.name),
            relationships={},
            schema_=None,
            type="site",
        )


class SiteList(_Page):
    sites: list[SiteOut] = Field(description="This page's properties")

    @classmethod
    def from_domain(cls, found: Page[Site], request: PageRequest) -> SiteList:
        sites = [SiteOut.from_domain(site) for site in found.items]
        return cls(**_position(found, request), sites=sites)


# --- API keys ---------------------------------------------------------------------------------


class ApiKeyMetadataOut(_Out):
    name: str = Field(description="A name for people")
    role: Role = Field(
        description="admin: everything, keys and secrets; editor: webhooks and properties; "
        "publisher: publish events; viewer: read"
    )


class ApiKeyOut(_Out):
    """An API key as listed: never its secret."""

    id: str = Field(description="The key's id (not its secret)")
    created: Time = Field(description="When it was created")
    metadata: ApiKeyMetadataOut = Field(description="Its name and role")
    type: Literal["api_key"] = Field(description="The resource's kind")

    @classmethod
    def from_domain(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            created=format_time(key.created),
            metadata=ApiKeyMetadataOut(name=key.name, role=key.role.value),
            type="api_key",
        )


class ApiKeyCreated(ApiKeyOut):
    """The create response: the only time the key's secret is shown."""

    secret: str = Field(description="The key itself, for the Authorization header; shown once")

    @classmethod
    def from_new(cls, created: NewApiKey) -> ApiKeyCreated:
        return cls(**dict(ApiKeyOut.from_domain(created.key)), secret=created.secret)


class ApiKeyList(_Out):
    api_keys: list[ApiKeyOut] = Field(description="Every key of the account")
    total: int = Field(description="How many there are")

    @classmethod
    def from_domain(cls, keys: Sequence[ApiKey]) -> ApiKeyList:
        return cls(api_keys=[ApiKeyOut.from_domain(key) for key in keys], total=len(keys))


# --- the event catalog ------------------------------------------------------------------------


class EventTypeInFormatOut(_Out):
    name: str = Field(description="The event's name in this format", examples=["VIDEO_READY"])
    example: dict[str, Any] = Field(description="The body this format's receivers get")


class EventTypeOut(_Out):
    name: str = Field(
        description="The catalog (jwplayer) name", json_schema_extra=facts.enum(EVENT_TYPE_NAMES)
    )
    group: str = Field(
        description="What it is about: media, channel, thumbnail, track or webhook",
        examples=["media"],
    )
    id_fields: list[str] = Field(description="The resource ids its events require, primary first")
    description: str = Field(description="When it is published")
    example: dict[str, Any] = Field(description="An example delivery body (jwplayer format)")
    formats: dict[str, EventTypeInFormatOut | None] = Field(
        description="Per format (metadata.format): the event's name and example body; null "
        "where it is not delivered in this format"
    )

    @classmethod
    def from_domain(cls, item: EventType) -> EventTypeOut:
        return cls(
            name=item.name,
            group=item.group,
            id_fields=list(item.id_fields),
            description=item.description,
            example=item.example(),
            formats={
                name: None if shown is None else EventTypeInFormatOut(**asdict(shown))
                for name, shown in format_examples(item, FORMATS).items()
            },
        )


class EventTypeList(_Out):
    event_types: list[EventTypeOut] = Field(description="Every event type, in catalog order")
    total: int = Field(description="How many there are")

    @classmethod
    def from_domain(cls, items: Sequence[EventType]) -> EventTypeList:
        return cls(event_types=[EventTypeOut.from_domain(i) for i in items], total=len(items))


# --- events -----------------------------------------------------------------------------------


class PublishResult(_Out):
    event_ids: list[str] = Field(description="In the order published, one per event")


def _present_only(description: str) -> Any:
    # Not nullable and not required: the key is there for the event types that have it.
    return Field(default=None, description=description, json_schema_extra=_no_default)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class EventOut(_Out):
    """A stored event with how its deliveries ended. Its resource id fields depend on the
    event type (see /v2/event_types/): the four known ones are listed, any other is kept."""

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(description="The publisher's id, or the one HookCast made")
    event: str = Field(
        description="The event type (catalog name)", json_schema_extra=facts.enum(EVENT_TYPE_NAMES)
    )
    site_id: str = Field(description="The property it belongs to")
    # In this order so each event type's ids keep their catalog order (primary first).
    thumbnail_id: str = _present_only("thumbnail_created, thumbnail_deleted")
    track_id: str = _present_only("track_created, track_deleted")
    media_id: str = _present_only("media_* events, thumbnail and track events")
    channel_id: str = _present_only("channel_* events")
    event_time: Time = Field(description="When it happened, as published")
    sequence: int = _present_only(
        "The event's number among its media's or channel's events (1, 2, 3...; events "
        "about no resource have none)"
    )
    created: Time = Field(description="When HookCast stored it")
    data: dict[str, Any] = _present_only("The published data, when there was any")
    deliveries: dict[str, int] = Field(description="Deliveries by status, e.g. {'succeeded': 2}")

    @classmethod
    def from_domain(cls, summary: EventSummary) -> EventOut:
        event = summary.event
        present: dict[str, Any] = dict(event.resource_ids)
        if event.sequence is not None:
            present["sequence"] = event.sequence
        if event.data is not None:
            present["data"] = event.data
        return cls(
            event_id=event.id,
            event=event.type,
            site_id=event.site_id,
            event_time=format_time(event.event_time),
            created=format_time(event.created),
            deliveries={str(status): count for status, count in summary.deliveries.items()},
            **present,
        )


class EventList(_Page):
    events: list[EventOut] = Field(description="This page's events, newest first")

    @classmethod
    def from_domain(cls, found: Page[EventSummary], request: PageRequest) -> EventList:
        events = [EventOut.from_domain(summary) for summary in found.items]
        return cls(**_position(found, request), events=events)


# --- deliveries -------------------------------------------------------------------------------


class AttemptOut(_Out):
    number: int = Field(description="1 for the first attempt, then 2, 3...")
    started_at: Time = Field(description="When the request was sent")
    request_headers: dict[str, str] = Field(description="As sent, with signatures redacted")
    status_code: int | None = Field(description="The response's status; null if none came")
    latency_ms: float = Field(description="Milliseconds until the answer or the failure")
    response_body: str = Field(description="The first 4 KiB")
    error: str | None = Field(
        description='Why it failed ("HTTP 500", "timed out"...); null if it succeeded'
    )

    @classmethod
    def from_domain(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            started_at=format_time(attempt.started_at),
            request_headers=dict(attempt.request_headers),
            status_code=attempt.status_code,
            latency_ms=round(attempt.latency_ms, 2),
            response_body=attempt.response_body,
            error=attempt.error,
        )


class DeliveryOut(_Out):
    id: str = Field(description="The delivery's id, also its webhook-id header")
    webhook_id: str = Field(description="The webhook it goes to")
    event_id: str = Field(description="The event it carries")
    event: str = Field(
        description="The event type (catalog name)", json_schema_extra=facts.enum(EVENT_TYPE_NAMES)
    )
    status: DeliveryStatus = Field(
        description="pending (to be sent or retried), paused (webhook disabled), succeeded, "
        "failed (given up), held (published while disabled), discarded (by a person), "
        "waiting (its turn in an ordered webhook), superseded (latest wins), expired"
    )
    attempts: int = Field(description="Attempts made so far")
    next_attempt_at: Time | None = Field(description="Only while pending")
    last_status_code: int | None = Field(description="The last attempt's status; null if none")
    created: Time = Field(description="When the event was fanned out to the webhook")
    completed_at: Time | None = Field(description="When it reached its final status")
    attempt_log: list[AttemptOut] = Field(
        description="The newest 50 attempts, oldest first (`attempts` counts them all)"
    )

    @classmethod
    def from_domain(cls, record: DeliveryRecord) -> DeliveryOut:
        item = record.delivery
        pending = item.status == "pending"
        return cls(
            id=item.id,
            webhook_id=item.webhook_id,
            event_id=item.event_id,
            event=record.event.type,
            status=str(item.status),
            attempts=item.attempts,
            next_attempt_at=_time(item.next_attempt_at) if pending else None,
            last_status_code=item.last_status_code,
            created=format_time(item.created),
            completed_at=_time(item.completed_at),
            attempt_log=[AttemptOut.from_domain(entry) for entry in record.attempts],
        )


class DeliveryList(_Page):
    deliveries: list[DeliveryOut] = Field(description="This page's deliveries, newest first")

    @classmethod
    def from_domain(cls, found: Page[DeliveryRecord], request: PageRequest) -> DeliveryList:
        deliveries = [DeliveryOut.from_domain(record) for record in found.items]
        return cls(**_position(found, request), deliveries=deliveries)


class TestSent(_Out):
    __test__ = False  # not a pytest test class, despite the name

    event_id: str = Field(description="The test event's id")
    delivery_id: str = Field(description="Its delivery, to follow in the log")

    @classmethod
    def from_domain(cls, sent: SentTest) -> TestSent:
        return cls(event_id=sent.event_id, delivery_id=sent.delivery_id)


class Recovered(_Out):
    recovered: int = Field(description="How many failed deliveries were queued again")


class Replayed(_Out):
    replayed: int = Field(description="How many deliveries were queued to be sent again")


class WouldReplay(_Out):
    would_replay: int = Field(description="How many deliveries a replay would send again")


class HeldDelivered(_Out):
    delivered: int = Field(description="How many held deliveries were queued, in publish order")


class HeldDiscarded(_Out):
    discarded: int = Field(description="How many held deliveries were marked discarded")


# --- operations -------------------------------------------------------------------------------


class HealthOut(_Out):
    status: Literal["ok"] = Field(description="The server answers (and, for /readyz, is ready)")


class NotReady(_Out):
    status: Literal["unavailable"] = Field(description="Not ready to serve")
    reason: str = Field(description="Why, e.g. the database is unreachable")


def _position(found: Page[Any], request: PageRequest) -> dict[str, int]:
    return {"page": request.page, "page_length": request.page_length, "total": found.total}
