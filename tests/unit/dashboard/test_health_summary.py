"""The webhook list's 24-hour health: what each delivery status counts as."""

from __future__ import annotations

from hookcast.dashboard import health
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryCount
from support import factories as make


def test_held_deliveries_wait_and_discarded_ones_are_not_deliveries() -> None:
    counts = [
        DeliveryCount("hook", make.NOW, status, n)
        for status, n in (
            (DeliveryStatus.SUCCEEDED, 3),
            (DeliveryStatus.FAILED, 1),
            (DeliveryStatus.HELD, 4),
            (DeliveryStatus.PAUSED, 1),
            (DeliveryStatus.DISCARDED, 7),
        )
    ]

    summary = health.summarize(counts)["hook"]

    assert (summary.succeeded, summary.failed, summary.waiting, summary.total) == (3, 1, 5, 9)
    assert summary.success_rate == 0.75
