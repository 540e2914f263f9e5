"""Domain values: frozen dataclasses with no behaviour that touches the outside world."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from hookcast.domain.frozen import quick_init

JSONObject = Mapping[str, Any]


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    PUBLISHER = "publisher"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"
    PUBLISH = "publish"
    WRITE = "write"
    # The platform's own set-up: properties and the account's settings. Editors have it;
    # a portal session never does (its customer manages webhooks, not the platform).
    PLATFORM = "platform"
    ADMIN = "admin"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset(
        {Permission.READ, Permission.PUBLISH, Permission.WRITE, Permission.PLATFORM}
    ),
    Role.PUBLISHER: frozenset({Permission.READ, Permission.PUBLISH}),
    Role.VIEWER: frozenset({Permission.READ}),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or leased by a worker right now)
    PAUSED = "paused"  # its webhook is disabled; resumes when the webhook is enabled again
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the retry policy gave up
    # Published while its webhook was disabled: kept, never sent, until a person delivers
    # (PENDING) or discards (DISCARDED) it; pruned after the retention period if neither.
    HELD = "held"
    DISCARDED = "discarded"  # a held delivery a person chose not to send
    # Ordered webhooks (Ordering.RESOURCE): queued behind an unfinished delivery about the
    # same resource; never claimed. Made PENDING when the one before it finishes.
    WAITING = "waiting"
    # Latest wins (Webhook.coalesce): a newer update about the same resource was published
    # before this one was sent; final, never sent (domain/freshness.py).
    SUPERSEDED = "superseded"
    # Time-to-live (Webhook.max_age_seconds): the event was older than its type's limit when
    # it would have been sent; final, never sent (domain/freshness.py).
    EXPIRED = "expired"


# Final: sent, given up, discarded by a person, or not worth sending any more. Replay resends
# these; retention prunes these (and held ones nobody acted on).
FINISHED_STATUSES: Final = (
    DeliveryStatus.SUCCEEDED,
    DeliveryStatus.FAILED,
    DeliveryStatus.DISCARDED,
    DeliveryStatus.SUPERSEDED,
    DeliveryStatus.EXPIRED,
)


class Ordering(enum.StrEnum):
    """Whether a webhook's deliveries about one resource go strictly in publish order."""

    NONE = "none"
    RESOURCE = "resource"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Site:
    """A property (JW Player's term): events are published for one site."""

    id: str
    account_id: str
    name: str
    created: datetime
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    role: Role
    secret_hash: str = field(repr=False)
    created: datetime
    last_used: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicySpec:
    """What the customer chose: a preset name or an explicit list of retry delays (seconds).

    `delays` are the waits before retries 2..n; the first attempt is always immediate.
    """

    name: str  # "standard", "quick" or "custom"
    delays: tuple[float, ...]


class WebhookState(enum.StrEnum):
    """What a person needs to know first about a webhook."""

    HEALTHY = "healthy"  # its latest attempts succeeded, or none was made yet
    FAILING = "failing"  # every attempt since `failing_since` failed; retries go on
    DISABLED = "disabled"  # nothing is sent (by a person, or after 410 Gone or days failing)


ERROR_EXCERPT = 300  # characters of a failed attempt's response kept with its webhook


@quick_init
@dataclass(frozen=True, slots=True)
class LastError:
    """A webhook's most recent failed attempt, kept with the webhook so every list shows it
    without reading the delivery log."""

    at: datetime
    status_code: int | None  # None when no response came (timeout, refused, ...)
    error: str  # "HTTP 401", "connection refused", ...
    body: str  # the response body's first ERROR_EXCERPT characters


# A webhook's site_ids in the API, alone: every property of the account, including those
# created after the webhook (Webhook.all_sites).
ALL_SITES: Final = "*"


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A TLS client certificate (mutual TLS) a webhook presents to its HTTPS endpoint: the
    PEM chain (the certificate first) and its private key, with what people are shown."""

    certificate_pem: str
    private_key_pem: str = field(repr=False)
    fingerprint: str  # SHA-256 of the certificate's DER, hex: names it (and its TLS context)
    subject: str
    issuer: str
    not_after: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRateLimit:
    """At most `burst` requests at once, `per_second` on average (domain/delivery_rate.py)."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    account_id: str
    name: str
    description: str
    webhook_url: str
    # Catalog event names (whatever the format), or ("*",) for every event: fan-out matches
    # on them; the format translates them to and from its own names at the edges.
    events: tuple[str, ...]
    # The properties it hears; empty when `all_sites`. A property's deletion removes it here.
    site_ids: tuple[str, ...]
    secret: str = field(repr=False)
    created: datetime
    last_modified: datetime
    enabled: bool = True
    disabled_reason: str | None = None
    conditions: JSONObject | None = None
    retry_policy: RetryPolicySpec = RetryPolicySpec("standard", ())
    timeout_seconds: int = 10
    ordering: Ordering = Ordering.NONE
    # Latest wins: of several unsent `*_updated` deliveries about one resource, only the
    # newest goes (domain/freshness.py).
    coalesce: bool = False
    # Time-to-live per event type, in the webhook's format's event names: seconds.
    max_age_seconds: Mapping[str, int] = field(default_factory=dict)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_expires: datetime | None = None
    last_success: datetime | None = None
    failing_since: datetime | None = None
    # The wire format (domain/formats: "jwplayer", "apivideo", ...), chosen at create and
    # fixed: the secret's shape and the receivers differ between formats.
    format: str = "jwplayer"
    signing: str = "hmac"  # the signature scheme: "hmac", or an asymmetric one
    # Every property of the account, including those created after the webhook (the API's
    # site_ids ["*"]); then `site_ids` is empty.
    all_sites: bool = False
    # The account's Flowplayer organization secret, for a "flowplayer" webhook (which signs
    # with it, not its own secret): read with the webhook, never written with it.
    organization_secret: str | None = field(default=None, repr=False, compare=False)
    # Deliveries held while it was disabled (DeliveryStatus.HELD): read with the webhook for
    # showing it, never written with it, and not part of its identity.
    held_deliveries: int = field(default=0, compare=False)
    # Written only by recording attempts (never by saving the webhook), read for showing it.
    last_error: LastError | None = field(default=None, compare=False)
    next_retry_at: datetime | None = field(default=None, compare=False)  # while failing
    # Per-webhook controls (docs/delivery.md): headers sent with every delivery (values are
    # secrets: stored encrypted, shown redacted), a rate limit shared by every worker, and a
    # client certificate for mutual TLS. Empty / None: none, and no cost on the hot path.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    rate_limit: DeliveryRateLimit | None = None
    client_certificate: ClientCertificate | None = None

    @property
    def state(self) -> WebhookState:
        if not self.enabled:
            return WebhookState.DISABLED
        return WebhookState.FAILING if self.failing_since else WebhookState.HEALTHY

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """Secrets that sign deliveries now: the current one, plus the old one in its grace."""
        if (
            self.previous_secret
            and self.previous_secret_expires
            and now < self.previous_secret_expires
        ):
            return (self.secret, self.previous_secret)
        return (self.secret,)


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened on the platform, as published (and stored) once."""

    id: str  # the public event_id: the publisher's own, or one HookCast generated
    account_id: str
    site_id: str
    type: str
    resource_ids: Mapping[str, str]  # e.g. {"media_id": "MNYaMSQl"}, in catalog order
    event_time: datetime
    data: JSONObject | None
    created: datetime
    # Per (account, resource) publish number, 1, 2, 3... with no gaps (domain/ordering.py);
    # assigned by the store when the event is first stored. None: not stored yet, or an
    # event about no resource (webhook_test). Not part of what was published (equality).
    sequence: int | None = field(default=None, compare=False)
    # The W3C traceparent of the publish's fan-out span, kept so that attempts, in any
    # process and however much later, continue the publisher's trace (ports/tracing.py).
    # None when the publishing process does not trace. Not part of what was published.
    traceparent: str | None = field(default=None, compare=False)

    @property
    def event_id(self) -> str:
        """`id`, under the name `EventFields` reads it by."""
        return self.id


class EventFields(Protocol):
    """What a delivery's body, headers and time-to-live read of its event: an `Event`, or a
    claimed delivery (ports/queue.py `ClaimedDelivery`), which carries these values itself
    so that a claim makes one object per delivery instead of three."""

    @property
    def event_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def site_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def resource_ids(self) -> Mapping[str, str]: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def data(self) -> JSONObject | None: ...
    @property
    def sequence(self) -> int | None: ...
    @property
    def traceparent(self) -> str | None: ...


@quick_init
@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one webhook."""

    id: str
    account_id: str
    event_id: str
    webhook_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created: datetime
    last_status_code: int | None = None
    completed_at: datetime | None = None
    # Set on a delivery created already leased to the worker in the publishing process
    # (fanout.Lease), with the id of that worker; stored, never read back: claims issue
    # their own.
    lease_token: str | None = None
    lease_worker: str | None = None
    # Set on deliveries to an ordered webhook only: the event's resource (domain/ordering.py)
    # and sequence, which say what the delivery waits behind.
    resource_key: str | None = None
    sequence: int | None = None
    # Set on `*_updated` deliveries to a coalescing webhook (domain/freshness.py), with
    # `sequence`: a newer one of the same key supersedes this one while it is unsent.
    coalesce_key: str | None = None
    # A test or example a person sent to this one webhook (domain/fanout.py
    # `direct_delivery`): it goes even while the webhook is disabled, never paused. Stored,
    # not read back (reads and claims leave it False): the store's statements read the
    # column themselves (store/pausable.py), the claim's per-delivery work unchanged.
    by_hand: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request and what came of it, recorded as data."""

    delivery_id: str
    number: int
    started_at: datetime
    request_headers: Mapping[str, str]  # signatures redacted
    status_code: int | None
    latency_ms: float
    response_body: str  # first 4 KiB
    error: str | None
