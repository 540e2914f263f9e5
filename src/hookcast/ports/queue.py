"""The worker's port: the leased deliveries it sends, what it learned from sending them, and
the queue it claims them from."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol, TypeAlias

from hookcast.domain.frozen import quick_init
from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import (
    Attempt,
    Delivery,
    DeliveryRateLimit,
    DeliveryStatus,
    Event,
    JSONObject,
    Webhook,
)

# Where a claim left a delivery's row, as its store names it: on PostgreSQL the leased
# version's ctid (text), on SQLite its rowid. A claim hands it to the worker
# (`ClaimedDelivery.row`), the worker back with the result (`DeliveryResult.row`), and the
# recording reaches the row there instead of looking it up by its id.
StoredRow: TypeAlias = str | int


class ClaimedDelivery(NamedTuple):
    """A due delivery leased to one worker until `lease_token` is released or expires: one
    flat object per claimed delivery, with what the worker reads of the delivery, its event
    (as `EventFields`, which the formats render) and its webhook.

    A named tuple, not a dataclass: SQLite's claim makes it in C, by joining slices of the
    claim's row and the event's loaded row (store/sql_store.py), where a Delivery, an Event
    and a dataclass around them cost ~5 us per delivery and this ~1 us (docs/benchmarks/
    embedded-delivery.md, "Fourteenth pass"). The event's values (its `data` above all) are
    the same objects in every delivery of that event in a claim. Fields are read by name;
    the order is the claim's (the row's columns first)."""

    delivery_id: str
    account_id: str
    event_id: str
    webhook_id: str
    attempts: int  # made before this claim
    created: datetime  # the delivery's
    # Where the claim left the delivery's row (`StoredRow`), handed back with its result
    # (`DeliveryResult.row`). None: not known (a publish's hand-over, the memory queue).
    row: StoredRow | None
    lease_token: str
    site_id: str
    type: str
    resource_ids: Mapping[str, str]
    event_time: datetime
    data: JSONObject | None
    sequence: int | None  # the event's (ordering numbers every event about a resource)
    traceparent: str | None  # the publish's span (ports/tracing.py)
    webhook: Webhook

    @classmethod
    def of(
        cls,
        delivery: Delivery,
        lease_token: str,
        event: Event,
        webhook: Webhook,
        row: StoredRow | None = None,
    ) -> ClaimedDelivery:
        """The claimed delivery of whole objects (a publish's hand-over, the memory queue)."""
        return cls(
            delivery.id,
            delivery.account_id,
            delivery.event_id,
            delivery.webhook_id,
            delivery.attempts,
            delivery.created,
            row,
            lease_token,
            *event_fields(event),
            webhook,
        )


EventValues: TypeAlias = tuple[
    str, str, Mapping[str, str], datetime, JSONObject | None, int | None, str | None
]


def event_fields(event: Event) -> EventValues:
    """The values a `ClaimedDelivery` carries of its event, in its order."""
    return (
        event.site_id,
        event.type,
        event.resource_ids,
        event.event_time,
        event.data,
        event.sequence,
        event.traceparent,
    )


@quick_init
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
    # When the delivery was created (ClaimedDelivery.created): on PostgreSQL the
    # day partition it is in, so recording it reads that day alone. None: any day.
    created: datetime | None = None
    # ClaimedDelivery.row: the recording reaches the row there (PostgreSQL: a TID scan;
    # SQLite: by rowid) instead of probing the primary key's index for it, and checks that
    # the row found is this delivery's with its lease held; if the row moved or names
    # another delivery meanwhile, it is looked up by its id. None: looked up.
    row: StoredRow | None = None


@dataclass(frozen=True, slots=True)
class Beat:
    """What a beat did and saw: the deliveries it took back from workers found dead, when
    the beating worker's registration began (later than the worker last saw: it was found
    dead meanwhile and its leases were taken back; the beat, or a claim, registered it
    again), and, from `beat_and_read_due`, the next due time as `next_due_at` gives it
    after the beat and the take-back (None from `beat_worker`). `expiring`: from
    `start_sole_worker`, the deliveries left leased to workers whose process may still run
    (their leases expire instead of being taken back)."""

    taken: int
    registered: datetime
    next_due: datetime | None = None
    expiring: int = 0


class DeliveryQueue(Protocol):
    """The due deliveries, as a worker sees them: claim a batch under a lease, record what
    each attempt taught, hand back what was not sent, and wait for more to become due.
    `Store` extends it; `hookcast.delivery.memory_queue` holds it in memory, and one
    contract suite (tests/contract/test_delivery_queue.py) runs both."""

    async def claim_due_deliveries(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        worker_id: str | None = None,
        per_account: int = 0,
        holding: Collection[str] | None = None,
    ) -> Sequence[ClaimedDelivery]:
        """Leases up to `limit` pending deliveries due at `now` to `worker_id`, oldest first.
        With `per_account`, the claim first takes up to that many of each account's due
        deliveries (its oldest), then fills the batch with the oldest due of anyone: one
        account's backlog cannot keep another's deliveries out of a claim. When more accounts
        wait than `limit` holds, which of them get their share varies from claim to claim.
        With `holding` too (the accounts whose deliveries the worker already holds), only
        the shares of the other accounts are taken, and nothing fills the batch.
        A lease that is neither recorded nor released makes the delivery due again when it
        expires, or when its worker is found dead (`take_back_leases`); either counts as a
        lost lease, and a delivery found lost `MAX_LEASE_LOSSES` times (domain/leases.py) is
        failed with an attempt saying so instead of being handed out again."""

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        """Writes attempts and new delivery states for results whose lease is still held,
        and applies the webhooks' health (failing since, disabled) in the same transaction."""

    async def beat_worker(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        """Registers the worker, or records that it is alive at `now`; with `stale_before`,
        then takes back the leases of the workers silent since (`take_back_leases`) in the
        same transaction. Returns how many deliveries were taken back, and when this
        worker's registration began."""

    async def start_sole_worker(
        self,
        worker_id: str,
        now: datetime,
        *,
        alive_after: datetime,
        running: Callable[[str], bool] | None = None,
    ) -> Beat | datetime:
        """The start of the only worker there may be (SQLite: one delivering process):
        unless another registered worker beat at or after `alive_after`, registers this one,
        forgets every other worker and takes back their leases, in one write (on SQLite the
        write lock makes the check and the registration one step: of two starting at once,
        the second sees the first). Those of a worker for which `running(worker_id)` is true
        (its process may still run: stalled, its requests may be in flight) are not taken
        back: they stay with their tokens, unnamed, and are claimed again once they expire,
        while the worker may still record what it sent under them. Returns that beat, or,
        when another worker beat since `alive_after`, its latest beat, having changed
        nothing."""

    async def beat_and_read_due(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        """`beat_worker`, and `next_due_at` read after the beat was sent: an idle worker's
        look at the next due time rides on its beat (PostgreSQL: in the beat's own
        statement, one round trip a second instead of two)."""

    async def resign_worker(self, worker_id: str) -> None:
        """A worker that stopped says so: its registration is left as stale as can be, so
        the next start of a sole worker need not wait for it to go stale, and takes back
        whatever it still held."""

    async def take_back_leases(self, *, now: datetime, stale_before: datetime) -> int:
        """Forgets the workers whose last beat is before `stale_before`, and makes every
        pending delivery leased to a worker not registered due at `now` (a lost lease).
        Returns how many deliveries were taken back."""

    async def still_leased(self, leases: Sequence[tuple[str, str]]) -> Collection[tuple[str, str]]:
        """Those (delivery_id, lease_token) leases that still hold: the delivery pending
        under that token, not taken back, expired and claimed again, or recorded. A
        delivery asked about under two tokens holds under one at most."""

    async def disown_losses(self, leases: Sequence[tuple[str, str]]) -> None:
        """Takes back the lease loss counted against each of those (delivery_id,
        lease_token) leases when it was taken back from its worker found dead
        (`take_back_leases`), if that is still the delivery's last loss: the worker came
        back alive and drops them unsent, so they are no evidence of a delivery whose
        sending kills workers. The count never goes below 0; a lease lost otherwise (expired,
        or taken back from another worker since) is left as counted."""

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        """Gives back (delivery_id, lease_token) leases unattempted, due at `now`."""

    async def park_deliveries(self, leases: Sequence[tuple[str, str]]) -> Sequence[str]:
        """Gives back, unattempted, leases claimed with their webhook disabled: paused while
        it still is (the webhook's enabling resumes them), else due as they were. A
        person's test or example (`Delivery.by_hand`), which goes even while its webhook
        is disabled, stays leased: the ids of those, for the caller to send."""

    async def admit_requests(
        self, webhook_id: str, *, limit: DeliveryRateLimit, now: datetime, count: int = 1
    ) -> tuple[int, datetime]:
        """For a webhook with a rate limit: how many of `count` requests may go at `now`
        (those count against the webhook's bucket, which every worker shares), and the
        earliest time the next one may."""

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending delivery is due (leased ones included), or None."""

    async def current_webhooks(self, webhook_ids: Collection[str]) -> Mapping[str, Webhook]:
        """The webhooks with these ids as they are now, by id; a deleted one is missing. A
        worker compares them with those its queued deliveries were claimed with."""

    def watch_edits(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Calls `listener(webhook_id)` once a change or deletion of a webhook made through
        this object has committed, before the call that made it returns; returns the
        function that stops it. Changes made through other objects are not told (`serve`
        forwards its API store's to its delivery thread's: cli/delivery_thread.py); other
        processes' are found by `current_webhooks`."""

    async def wait_for_deliveries(self, timeout: float) -> bool:
        """Returns True when new deliveries may be due (publish, retry), False after
        `timeout`."""

    def holding_wakeups(self) -> AbstractContextManager[None]:
        """While the block runs, wake-ups from other processes wait unread (PostgreSQL's
        NOTIFYs stay in the LISTEN connection's socket) and reach the next wait together:
        for a worker that will not claim before the block ends anyway (its pacing delay),
        each publish's wake-up was a wake-up of its process for nothing."""
