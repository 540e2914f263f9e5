"""What the SDK returns: frozen dataclasses built from the API's JSON (JW Player v2 shapes).

Each dataclass is the SDK's one description of an answer: `sdk/_wire.py` reads the JSON by
its fields and their annotations (settings come from the resource's `metadata`), and
tests/unit/sdk/test_sdk_wire.py checks each against the API's OpenAPI document.

Times are timezone-aware `datetime`s; lists are tuples so values stay immutable. Secrets are
kept out of `repr` so logging a value never leaks one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, NotRequired, Required, TypedDict, TypeVar

from hookcast.domain import ed25519
from hookcast.sdk._wire import REST, wire

__all__ = [
    "ApiKey",
    "Attempt",
    "ClientCertificate",
    "ClientCertificateIn",
    "Delivery",
    "EventRecord",
    "EventType",
    "LastError",
    "Page",
    "PortalLink",
    "PortalSettings",
    "PublishResult",
    "Site",
    "TestSent",
    "Webhook",
    "WebhookChanges",
    "WebhookFields",
    "WebhookSecret",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: `items`, and where it sits among `total` items."""

    items: tuple[T, ...]
    page: int
    page_length: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_length < self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Site:
    """A property (JW Player's "site"): events are published for one."""

    id: str
    name: str
    created: datetime
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: str  # "admin", "editor", "publisher" or "viewer"
    created: datetime
    secret: str | None = field(default=None, repr=False)  # only when just created


@dataclass(frozen=True, slots=True)
class LastError:
    """A webhook's most recent failed attempt."""

    at: datetime
    status_code: int | None  # None when no response came
    error: str  # "HTTP 401", "connection refused", ...
    body: str  # the response body's first 300 characters


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    name: str
    description: str | None
    webhook_url: str
    events: tuple[str, ...]
    # Property ids, or ("*",): every property, including ones created later (`every_site`).
    site_ids: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    conditions: Mapping[str, Any] | None
    retry_policy: str | tuple[float, ...]
    timeout_seconds: int
    last_success: datetime | None
    failing_since: datetime | None
    created: datetime
    last_modified: datetime
    secret: str | None = field(default=None, repr=False)  # only in create's answer
    # "resource": each media's or channel's deliveries go in publish order; "none": at once.
    ordering: str = "none"
    # Latest wins: of several unsent *_updated events about one resource only the newest goes.
    coalesce: bool = False
    # Time-to-live in seconds per event type (the format's names): older events are not sent.
    max_age_seconds: Mapping[str, int] | None = None
    # Deliveries published while the webhook was disabled, waiting for deliver_held_deliveries
    # or discard_held_deliveries.
    held_deliveries: int = 0
    # The wire format ("jwplayer", "apivideo", "flowplayer", "mediamanager", "standard"):
    # `events` are named in it.
    format: str = "jwplayer"
    # "hmac", or "ed25519": Standard Webhooks v1a signatures, verified with `public_key`.
    signing: str = "hmac"
    state: str = "healthy"  # "healthy", "failing" (since failing_since) or "disabled"
    last_error: LastError | None = None  # kept after the webhook recovers
    next_attempt_at: datetime | None = None  # while failing: the next retry
    public_key: str | None = None  # whpk_..., for ed25519 signing (not a secret)
    # Per-webhook controls: custom header names (each value "[redacted]"), the rate limit,
    # and the mutual-TLS client certificate as shown (never its key).
    headers: Mapping[str, str] | None = None
    rate_limit_per_second: float | None = None
    rate_limit_burst: int | None = None
    client_certificate: ClientCertificate | None = None

    @property
    def every_site(self) -> bool:
        """Whether it hears every property of the account, including ones created later
        (site_ids ["*"]), rather than the listed ones."""
        return self.site_ids == ("*",)


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A webhook's mutual-TLS client certificate as the API shows it (never its key)."""

    subject: str
    issuer: str
    not_after: datetime
    fingerprint_sha256: str


class ClientCertificateIn(TypedDict):
    """A client certificate to set: PEM text of the chain (leaf first) and its key."""

    certificate: str
    private_key: str


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """A webhook's signing secret, and the previous one during a rotation's grace period."""

    webhook_id: str = field(metadata=wire("id"))
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_expires: datetime | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret a receiver should accept now, current first."""
        return (self.secret,) + ((self.previous_secret,) if self.previous_secret else ())

    @property
    def public_keys(self) -> tuple[str, ...]:
        """The `whpk_` public keys of the Ed25519 signing keys among `secrets`, current
        first: what receivers of an ed25519 webhook verify with (none for an HMAC one)."""
        signing_keys = (key for key in self.secrets if ed25519.is_signing_key(key))
        return tuple(ed25519.public_key_of(key) for key in signing_keys)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request HookCast made for a delivery (signature headers redacted)."""

    number: int
    started_at: datetime
    request_headers: Mapping[str, str]
    status_code: int | None
    latency_ms: float
    response_body: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one webhook: its status and every attempt so far."""

    id: str
    webhook_id: str
    event_id: str
    event: str
    status: str  # "pending", "paused", "waiting", "succeeded", "failed", "held", "discarded",
    # "superseded" (latest wins) or "expired" (time-to-live)
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    created: datetime
    completed_at: datetime | None
    attempt_log: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class EventType:
    """One entry of the event catalog."""

    name: str
    group: str
    id_fields: tuple[str, ...]
    description: str
    example: Mapping[str, Any]  # the jwplayer format's body
    # Per format: {"name": ..., "example": {...}}, or None where it is not delivered.
    formats: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A published event as HookCast stored it, with its deliveries counted by status."""

    event_id: str
    event: str
    site_id: str
    resource_ids: Mapping[str, str] = field(metadata=wire(REST))  # flat on the wire
    event_time: datetime
    created: datetime
    data: Mapping[str, Any] | None
    deliveries: Mapping[str, int]
    sequence: int | None = None  # its number among its media's or channel's events


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The ids of the published events, in the order they were sent (all committed)."""

    event_ids: tuple[str, ...]

    @property
    def event_id(self) -> str:
        """The id of the first (for a single publish: the only) event."""
        return self.event_ids[0]


@dataclass(frozen=True, slots=True)
class PortalLink:
    """A link that opens the customer portal without an API key, until `expires`."""

    url: str = field(repr=False)  # a bearer credential: keep it secret
    expires: datetime
    role: str  # "editor" (webhooks and deliveries) or "viewer" (read only)
    # The origins allowed to show it in an iframe; None: the account's default.
    frame_ancestors: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """The portal's brand (None: HookCast's) and the origins that may frame it by default."""

    name: str | None
    logo: str | None  # an https or data: URL
    accent_colour: str | None  # "#rrggbb"
    frame_ancestors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TestSent:
    """A `webhook_test` event queued for one webhook."""

    __test__ = False  # not a pytest test class, despite the name

    event_id: str
    delivery_id: str


class WebhookFields(TypedDict, total=False):
    """A webhook's settings, as `create_webhook` and `update_webhook` take them."""

    name: Required[str]
    webhook_url: Required[str]
    events: Required[list[str]]
    site_ids: Required[list[str]]  # ["*"]: every property, including ones created later
    description: NotRequired[str | None]
    enabled: NotRequired[bool]
    conditions: NotRequired[dict[str, Any] | None]
    retry_policy: NotRequired[str | list[float]]
    timeout_seconds: NotRequired[int]
    format: NotRequired[str]  # chosen here, fixed after
    signing: NotRequired[str]
    ordering: NotRequired[str]  # "none" (the default) or "resource"
    coalesce: NotRequired[bool]  # latest wins for *_updated events (default false)
    max_age_seconds: NotRequired[dict[str, int] | None]  # {"channel_active": 600}
    headers: NotRequired[dict[str, str] | None]  # sent with every delivery
    rate_limit_per_second: NotRequired[float | None]  # 0.01-1000; None: no limit
    rate_limit_burst: NotRequired[int | None]  # 1-1000; default: the rate rounded up
    client_certificate: NotRequired[ClientCertificateIn | None]  # mutual TLS


class WebhookChanges(TypedDict, total=False):
    """The settings `update_webhook` changes; the others keep their value."""

    name: str
    webhook_url: str
    events: list[str]
    site_ids: list[str]  # ["*"]: every property, including ones created later
    description: str | None  # None clears it
    enabled: bool
    conditions: dict[str, Any] | None  # None clears them
    retry_policy: str | list[float]
    timeout_seconds: int
    format: str  # fixed at create: only the current value is accepted
    signing: str  # a change is a rotation to a secret of the other kind (admin)
    ordering: str
    coalesce: bool
    max_age_seconds: dict[str, int] | None  # None clears them
    headers: dict[str, str] | None  # replaces them all; "[redacted]" keeps a stored value
    rate_limit_per_second: float | None  # None: no limit
    rate_limit_burst: int | None
    client_certificate: ClientCertificateIn | None  # None: no client certificate
