"""The webhook list's 24-hour health: what each delivery status counts as, and why the
success rate counts attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hookcast.dashboard import health
from hookcast.domain.models import DeliveryStatus, WebhookState
from hookcast.ports import DeliveryCount
from support import factories as make


def test_held_deliveries_wait_and_discarded_ones_are_not_deliveries() -> None:
    counts = [
        DeliveryCount("hook", make.NOW, status, n, attempts)
        for status, n, attempts in (
            (DeliveryStatus.SUCCEEDED, 3, 3),
            (DeliveryStatus.FAILED, 1, 1),
            (DeliveryStatus.HELD, 4, 0),
            (DeliveryStatus.PAUSED, 1, 0),
            (DeliveryStatus.DISCARDED, 7, 0),
        )
    ]

    summary = health.summarize(counts)["hook"]

    assert (summary.succeeded, summary.failed, summary.waiting, summary.total) == (3, 1, 5, 9)
    assert summary.success_rate == 0.75


def test_retries_in_progress_count_as_failed_attempts() -> None:
    # An endpoint that always answers 401: nothing finished yet, 16 attempts failed.
    always_401 = [DeliveryCount("hook", make.NOW, DeliveryStatus.PENDING, 8, 16)]
    assert health.summarize(always_401)["hook"].success_rate == 0.0
    # One failing 30% of requests: 100 deliveries succeeded after 143 attempts.
    flaky = [DeliveryCount("hook", make.NOW, DeliveryStatus.SUCCEEDED, 100, 143)]
    assert round(health.summarize(flaky)["hook"].success_rate or 0, 2) == 0.70


def test_bars_count_attempts_in_the_hour_their_delivery_was_created() -> None:
    counts = [
        DeliveryCount("hook", make.NOW, DeliveryStatus.SUCCEEDED, 2, 3),
        DeliveryCount("hook", make.NOW, DeliveryStatus.PENDING, 1, 4),
    ]

    bars = health.hourly(counts, now=make.NOW + timedelta(hours=1), hours=2)

    assert [(bar.start, bar.succeeded, bar.failed) for bar in bars] == [
        (make.NOW, 2, 5),
        (make.NOW + timedelta(hours=1), 0, 0),
    ]


def test_superseded_and_expired_deliveries_are_neither_successes_nor_failures() -> None:
    counts = [
        DeliveryCount("hook", make.NOW, status, n)
        for status, n in (
            (DeliveryStatus.SUCCEEDED, 1),
            (DeliveryStatus.WAITING, 2),
            (DeliveryStatus.SUPERSEDED, 4),
            (DeliveryStatus.EXPIRED, 5),
        )
    ]

    summary = health.summarize(counts)["hook"]

    assert (summary.succeeded, summary.failed, summary.waiting, summary.total) == (1, 0, 2, 3)
    assert summary.success_rate == 1.0


@pytest.mark.parametrize(
    ("state", "status", "attempts", "said"),
    [
        (WebhookState.FAILING, DeliveryStatus.SUCCEEDED, 1, "retries of older deliveries"),
        (WebhookState.HEALTHY, DeliveryStatus.FAILED, 5, "other deliveries have succeeded"),
        (WebhookState.HEALTHY, DeliveryStatus.PENDING, 1, "other deliveries have succeeded"),
        (WebhookState.HEALTHY, DeliveryStatus.PENDING, 0, None),  # not tried yet
        (WebhookState.HEALTHY, DeliveryStatus.SUCCEEDED, 1, None),
        (WebhookState.FAILING, DeliveryStatus.PENDING, 2, None),
        (WebhookState.DISABLED, DeliveryStatus.SUCCEEDED, 1, None),
    ],
)
def test_the_newest_delivery_is_reconciled_with_the_state_only_where_they_seem_to_disagree(
    state: WebhookState, status: DeliveryStatus, attempts: int, said: str | None
) -> None:
    newest = make.delivery(make.event("account"), "hook", status=status, attempts=attempts)

    note = health.newest_beside_state(state, newest)

    if said is None:
        assert note is None
    else:
        assert note is not None
        assert said in note
    assert health.newest_beside_state(state, None) is None
