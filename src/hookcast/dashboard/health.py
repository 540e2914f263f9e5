"""Delivery counts reduced to what the dashboard shows: totals per webhook, bars per hour."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryCount

__all__ = ["WINDOW_HOURS", "Health", "HourBar", "hourly", "summarize", "window_start"]

WINDOW_HOURS = 24
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Health:
    succeeded: int = 0
    failed: int = 0
    waiting: int = 0  # pending (retrying), paused, or held for a person to deliver

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.waiting

    @property
    def success_rate(self) -> float | None:
        """Share of finished deliveries that succeeded; None before any finished."""
        done = self.succeeded + self.failed
        return self.succeeded / done if done else None


@dataclass(frozen=True, slots=True)
class HourBar:
    start: datetime
    succeeded: int
    failed: int


def window_start(now: datetime, hours: int = WINDOW_HOURS) -> datetime:
    """The start of the oldest of `hours` whole-hour buckets ending with the current one."""
    return now.replace(minute=0, second=0, microsecond=0) - (hours - 1) * _HOUR


def summarize(counts: Iterable[DeliveryCount]) -> dict[str, Health]:
    totals: dict[str, Health] = {}
    for count in counts:
        current = totals.get(count.webhook_id, Health())
        totals[count.webhook_id] = _add(current, count.status, count.count)
    return totals


def hourly(
    counts: Iterable[DeliveryCount], *, now: datetime, hours: int = WINDOW_HOURS
) -> list[HourBar]:
    """One bar per hour, oldest first, with zero bars for hours that saw no delivery."""
    first = window_start(now, hours)
    by_hour: dict[datetime, Health] = {}
    for count in counts:
        by_hour[count.hour] = _add(by_hour.get(count.hour, Health()), count.status, count.count)
    starts: Sequence[datetime] = [first + i * _HOUR for i in range(hours)]
    return [
        HourBar(start, by_hour.get(start, Health()).succeeded, by_hour.get(start, Health()).failed)
        for start in starts
    ]


def _add(health: Health, status: DeliveryStatus, n: int) -> Health:
    if status is DeliveryStatus.SUCCEEDED:
        return Health(health.succeeded + n, health.failed, health.waiting)
    if status is DeliveryStatus.FAILED:
        return Health(health.succeeded, health.failed + n, health.waiting)
    if status is DeliveryStatus.DISCARDED:  # never sent, on purpose: not a delivery
        return health
    return Health(health.succeeded, health.failed, health.waiting + n)
