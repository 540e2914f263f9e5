"""Delivery counts reduced to what the dashboard shows: totals per webhook, bars per hour.

Success rates and bars count attempts, not finished deliveries: a delivery still being
retried has already failed, and an endpoint failing 30% of requests shows about 70%.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookcast.domain.models import Delivery, DeliveryStatus, WebhookState
from hookcast.ports import DeliveryCount

__all__ = [
    "WINDOW_HOURS",
    "Health",
    "HourBar",
    "hourly",
    "newest_beside_state",
    "summarize",
    "window_start",
]

WINDOW_HOURS = 24
# Final without a send, by choice: discarded by a person, superseded by a newer update,
# expired past the webhook's time-to-live. Neither a success nor a failure of the endpoint.
_NOT_SENT = frozenset({DeliveryStatus.DISCARDED, DeliveryStatus.SUPERSEDED, DeliveryStatus.EXPIRED})
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Health:
    succeeded: int = 0  # deliveries
    failed: int = 0  # deliveries the retry policy gave up on
    waiting: int = 0  # pending (retrying), paused, or held for a person to deliver
    attempts_succeeded: int = 0
    attempts_failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.waiting

    @property
    def attempts(self) -> int:
        return self.attempts_succeeded + self.attempts_failed

    @property
    def success_rate(self) -> float | None:
        """Share of attempts that succeeded; None before any attempt."""
        return self.attempts_succeeded / self.attempts if self.attempts else None


@dataclass(frozen=True, slots=True)
class HourBar:
    start: datetime
    succeeded: int  # attempts
    failed: int  # attempts


def window_start(now: datetime, hours: int = WINDOW_HOURS) -> datetime:
    """The start of the oldest of `hours` whole-hour buckets ending with the current one."""
    return now.replace(minute=0, second=0, microsecond=0) - (hours - 1) * _HOUR


def summarize(counts: Iterable[DeliveryCount]) -> dict[str, Health]:
    totals: dict[str, Health] = {}
    for count in counts:
        totals[count.webhook_id] = _add(totals.get(count.webhook_id, Health()), count)
    return totals


def hourly(
    counts: Iterable[DeliveryCount], *, now: datetime, hours: int = WINDOW_HOURS
) -> list[HourBar]:
    """One bar of attempts per hour, oldest first, with zero bars for hours that saw no
    delivery (attempts fall in the hour their delivery was created)."""
    first = window_start(now, hours)
    by_hour: dict[datetime, Health] = {}
    for count in counts:
        by_hour[count.hour] = _add(by_hour.get(count.hour, Health()), count)
    starts: Sequence[datetime] = [first + i * _HOUR for i in range(hours)]
    return [
        HourBar(
            start,
            by_hour.get(start, Health()).attempts_succeeded,
            by_hour.get(start, Health()).attempts_failed,
        )
        for start in starts
    ]


def _add(health: Health, count: DeliveryCount) -> Health:
    n, status = count.count, count.status
    if status in _NOT_SENT:  # never sent, on purpose: not a delivery
        return health
    # A succeeded delivery's last attempt succeeded and every earlier one failed; every
    # attempt of any other delivery failed.
    ok = n if status is DeliveryStatus.SUCCEEDED else 0
    return Health(
        succeeded=health.succeeded + ok,
        failed=health.failed + (n if status is DeliveryStatus.FAILED else 0),
        waiting=health.waiting + (n if status not in _DONE else 0),
        attempts_succeeded=health.attempts_succeeded + ok,
        attempts_failed=health.attempts_failed + max(0, count.attempts - ok),
    )


_DONE = frozenset({DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED})


def newest_beside_state(state: WebhookState, newest: Delivery | None) -> str | None:
    """What reconciles a webhook's newest delivery with its state, when they seem to
    disagree; None when they do not.

    The state follows attempts as they were made (domain/health.py: failing means every
    attempt since `failing_since` failed), the newest delivery is the newest published. A
    failing webhook's newest delivery can have succeeded (before retries of older ones
    began to fail), and a healthy one's can have failed (before another one succeeded):
    side by side, "Failing since ..." and "Succeeded HTTP 200" read as a contradiction.
    """
    if newest is None:
        return None
    if state is WebhookState.FAILING and newest.status is DeliveryStatus.SUCCEEDED:
        return "but retries of older deliveries still fail"
    tried_and_failed = newest.status is DeliveryStatus.FAILED or (
        newest.status is DeliveryStatus.PENDING and newest.attempts > 0
    )
    if state is WebhookState.HEALTHY and tried_and_failed:
        return "but other deliveries have succeeded since"
    return None
