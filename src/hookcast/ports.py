"""The narrow seams between HookCast's core and the outside world.

`services` and `delivery` depend on these Protocols only; `store/` and `delivery/sender.py`
implement them. One contract test suite (tests/contract) runs every Store implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from hookcast.domain.fanout import Lease as Lease  # a Handoff grants it
from hookcast.domain.health import WebhookHealth as WebhookHealth  # the store applies it
from hookcast.domain.models import (
    Account,
    ApiKey,
    Attempt,
    Delivery,
    DeliveryStatus,
    Event,
    Site,
    Webhook,
)

T = TypeVar("T")

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC. Injected so tests control time."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1  # 1-based
    page_length: int = 10


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    account_id: str
    page: PageRequest = PageRequest()
    sort: str = "created"  # "created", "last_modified" or "name"
    descending: bool = True
    event: str | None = None  # webhooks subscribed to this event (literally, "*" included)
    site_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    account_id: str
    page: PageRequest = PageRequest()
    type: str | None = None
    site_id: str | None = None
    resource_id: str | None = None  # matches any of the event's resource ids


@dataclass(frozen=True, slots=True)
class EventSummary:
    event: Event
    deliveries: Mapping[DeliveryStatus, int]  # how many deliveries are in each status


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    account_id: str
    webhook_id: str
    page: PageRequest = PageRequest()
    status: DeliveryStatus | None = None
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery with its event and every attempt, oldest attempt first."""

    delivery: Delivery
    event: Event
    attempts: Sequence[Attempt]


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """How many of one webhook's deliveries created in one UTC hour are in one status."""

    webhook_id: str
    hour: datetime  # the start of the hour
    status: DeliveryStatus
    count: int


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery leased to one worker until `lease_token` is released or expires."""

    delivery: Delivery
    lease_token: str
    event: Event
    webhook: Webhook


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a worker learned from one attempt, and what happens next.

    `status` PENDING with `next_attempt_at` schedules a retry; SUCCEEDED or FAILED completes.
    """

    delivery_id: str
    lease_token: str
    attempt: Attempt
    status: DeliveryStatus
    next_attempt_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """The delivery backlog at one moment, for metrics (read at scrape time)."""

    pending: int  # deliveries waiting for an attempt, leased ones included
    oldest_due_age_seconds: float  # how long the most overdue delivery has waited; 0 if none
    disabled_webhooks: int


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention batch deleted."""

    deliveries: int  # completed deliveries, with their attempts
    events: int  # events left without any delivery

    @property
    def total(self) -> int:
        return self.deliveries + self.events


Fanout = Callable[[Sequence[Event]], Sequence[Delivery]]
"""Given the events a publish newly stored, the deliveries to create for them (pure)."""


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """An account's configuration version (keys, sites, webhooks) as a publish last read it."""

    account_id: str
    version: int


class Handoff(Protocol):
    """A worker in the publishing process, taking deliveries straight from the publish that
    created them, leased to it in the publishing transaction: sent without a claim."""

    def lease(self) -> Lease | None:
        """A lease for the deliveries of one publish, or None (not running, or no room)."""

    def take(self, leased: Sequence[ClaimedDelivery]) -> None:
        """The committed deliveries created under a lease from `lease()`."""


class ConfigChanged(Exception):
    """append_events refused a call, storing nothing: the account's keys, sites or webhooks
    changed since the publish read them (`ConfigVersion`). Read them again and retry."""


class Store(Protocol):
    """Durable state. Every method is one transaction; none leaks driver exceptions."""

    # accounts and keys
    async def create_account(self, account: Account) -> None: ...
    async def get_account(self, account_id: str) -> Account | None: ...
    async def list_accounts(self) -> Sequence[Account]: ...
    async def create_api_key(self, key: ApiKey) -> None: ...
    async def find_api_key(self, secret_hash: str) -> ApiKey | None: ...
    async def list_api_keys(self, account_id: str) -> Sequence[ApiKey]: ...
    async def delete_api_key(self, account_id: str, key_id: str) -> bool: ...
    async def count_api_keys(self) -> int: ...
    async def config_version(self, account_id: str) -> int:
        """Moves (within the changing transaction) whenever the account's keys, sites or
        webhooks change, including a webhook the worker disables."""

    # sites
    async def create_site(self, site: Site) -> None:
        """Raises `Conflict` if the id is taken (by any account)."""

    async def get_site(self, account_id: str, site_id: str) -> Site | None: ...
    async def list_sites(self, account_id: str, page: PageRequest) -> Page[Site]: ...
    async def update_site(self, site: Site) -> None: ...
    async def delete_site(self, account_id: str, site_id: str) -> bool:
        """Deletes the site and removes it from every webhook's site_ids."""

    async def existing_site_ids(self, account_id: str, site_ids: Sequence[str]) -> set[str]: ...

    # webhooks
    async def create_webhook(self, webhook: Webhook) -> None: ...
    async def get_webhook(self, account_id: str, webhook_id: str) -> Webhook | None: ...
    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]: ...
    async def update_webhook(self, webhook: Webhook, now: datetime) -> None:
        """Saves every field. Disabling pauses the webhook's pending deliveries; enabling
        resumes them as due at `now`."""

    async def delete_webhook(self, account_id: str, webhook_id: str) -> bool:
        """Deletes the webhook with its deliveries and attempts."""

    async def enabled_webhooks(self, account_id: str) -> Sequence[Webhook]: ...

    # events
    async def append_events(
        self, events: Sequence[Event], fanout: Fanout, *, expect: ConfigVersion | None = None
    ) -> Sequence[str]:
        """Stores the events whose (account_id, id) is new and, in the same transaction, the
        deliveries `fanout` returns for them. Returns the ids of the newly stored events.

        With `expect`, the transaction first checks the account's configuration version and
        raises `ConfigChanged`, storing nothing, if it moved: `fanout` was built from what
        the publish read at that version."""

    async def list_events(self, query: EventQuery) -> Page[EventSummary]: ...

    # deliveries
    async def claim_due_deliveries(
        self, *, now: datetime, limit: int, lease_seconds: float
    ) -> Sequence[ClaimedDelivery]:
        """Leases up to `limit` pending deliveries due at `now`, oldest first. A lease that
        is neither recorded nor released makes the delivery due again when it expires."""

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        """Writes attempts and new delivery states for results whose lease is still held."""

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        """Gives back (delivery_id, lease_token) leases unattempted, due at `now`."""

    async def next_due_at(self) -> datetime | None: ...
    async def list_deliveries(self, query: DeliveryQuery) -> Page[DeliveryRecord]: ...
    async def get_delivery(self, account_id: str, delivery_id: str) -> DeliveryRecord | None: ...
    async def reschedule_delivery(self, account_id: str, delivery_id: str, now: datetime) -> bool:
        """Makes the delivery pending and due at `now` (a manual retry)."""

    async def count_deliveries_by_hour(
        self, account_id: str, webhook_ids: Sequence[str], since: datetime
    ) -> Sequence[DeliveryCount]:
        """Counts the webhooks' deliveries created at or after `since`, by hour and status
        (hours with no delivery are left out)."""

    async def recover_deliveries(
        self, account_id: str, webhook_id: str, since: datetime, now: datetime
    ) -> int:
        """Makes every FAILED delivery of the webhook created at or after `since` due again."""

    # operations
    async def delivery_stats(self, now: datetime) -> DeliveryStats:
        """The backlog: pending deliveries, the oldest due one's age, disabled webhooks."""

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        """Deletes, in one short transaction, up to `limit` succeeded or failed deliveries
        created before `before` (with their attempts), then up to `limit` events created
        before it that no delivery refers to any more. Pending and paused deliveries, and
        their events, are never deleted."""

    # wake-ups
    async def wait_for_deliveries(self, timeout: float) -> None:
        """Returns when new deliveries may be due (publish, retry) or after `timeout`."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: Mapping[str, str]
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What came back: a status (any HTTP status) or an error, never an exception."""

    status_code: int | None
    latency_ms: float
    response_body: str = ""
    error: str | None = None
    retry_after: str | None = None  # the raw Retry-After header, if any
    headers: Mapping[str, str] = field(default_factory=dict)


class Sender(Protocol):
    async def send(self, request: OutboundRequest) -> SendOutcome: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """One recorded attempt, as metrics and logs see it: ids and numbers, never a secret,
    a signature or a URL."""

    delivery_id: str
    event_id: str
    webhook_id: str
    attempt: int  # 1 for the first attempt
    status_code: int | None  # None when no response came back (see `error`)
    latency_ms: float
    outcome: DeliveryStatus  # SUCCEEDED, PENDING (a retry is scheduled) or FAILED
    error: str | None = None

    @property
    def outcome_name(self) -> str:
        """What happened to the delivery: "succeeded", "retrying" or "failed"."""
        return "retrying" if self.outcome is DeliveryStatus.PENDING else str(self.outcome)

    @property
    def status_class(self) -> str:
        """The response's class, "2xx" to "5xx", or "error" when none came back."""
        code = self.status_code
        return f"{code // 100}xx" if code is not None and 100 <= code <= 599 else "error"


class DeliveryObserver(Protocol):
    """Told about attempts once they are recorded (metrics); must not block or raise."""

    def on_attempts(self, reports: Sequence[AttemptReport]) -> None: ...


class PublishObserver(Protocol):
    """Told about the events a publish newly stored (metrics); must not block or raise."""

    def on_published(self, events: Sequence[Event]) -> None: ...


class NoObserver:
    """The default DeliveryObserver and PublishObserver: ignores everything."""

    def on_attempts(self, reports: Sequence[AttemptReport]) -> None:
        return None

    def on_published(self, events: Sequence[Event]) -> None:
        return None


class Resolver(Protocol):
    async def resolve(self, host: str) -> Sequence[str]:
        """IP addresses for `host`; an empty sequence when it does not resolve."""
