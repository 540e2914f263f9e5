"""What the store's reads return beyond the domain objects themselves: summaries, counts and
the results of operations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hookcast.domain.models import Attempt, Delivery, DeliveryStatus, Event


@dataclass(frozen=True, slots=True)
class EventSummary:
    event: Event
    deliveries: Mapping[DeliveryStatus, int]  # how many deliveries are in each status


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery with its event and every attempt, oldest attempt first."""

    delivery: Delivery
    event: Event
    attempts: Sequence[Attempt]


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """How many of one webhook's deliveries created in one UTC hour are in one status, and
    how many attempts they made."""

    webhook_id: str
    hour: datetime  # the start of the hour
    status: DeliveryStatus
    count: int
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """The delivery backlog at one moment, for metrics (read at scrape time)."""

    pending: int  # deliveries waiting for an attempt, leased ones included
    oldest_due_age_seconds: float  # how long the most overdue delivery has waited; 0 if none
    disabled_webhooks: int
    held: int = 0  # deliveries held for a disabled webhook, waiting for a person to decide
    # Delivering processes whose heartbeat reached the database within WORKER_ALIVE_SECONDS.
    workers_alive: int = 0


# A worker beats every half second (delivery/options.py); one silent this long is stuck or
# gone. The same limit /readyz applies to a `serve` process's own worker (heartbeat.py).
WORKER_ALIVE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention batch deleted."""

    deliveries: int  # completed deliveries, with their attempts
    events: int  # events left without any delivery
    mails: int = 0  # e-mails sent or given up

    @property
    def total(self) -> int:
        return self.deliveries + self.events + self.mails
