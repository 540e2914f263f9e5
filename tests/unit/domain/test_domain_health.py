"""How a batch of attempts changes each webhook's health: table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hookcast.domain.health import HealthSignal, WebhookHealth, on_standing, summarize
from hookcast.domain.models import LastError

T0 = datetime(2024, 8, 27, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
GONE = "endpoint answered 410 Gone"
STALE = "no successful delivery for 5 days"


def ok(at: datetime) -> HealthSignal:
    return HealthSignal(webhook_id="w", at=at, succeeded=True)


def failed(at: datetime, reason: str | None = None, *, gone: bool = False) -> HealthSignal:
    return HealthSignal(webhook_id="w", at=at, succeeded=False, disable_reason=reason, gone=gone)


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        ([ok(T0), ok(T1)], WebhookHealth("w", T1, None, None)),
        ([failed(T1), failed(T0)], WebhookHealth("w", None, T0, None)),
        ([failed(T0), ok(T1)], WebhookHealth("w", T1, None, None)),
        ([failed(T0, STALE)], WebhookHealth("w", None, T0, STALE)),
        # a success in the same batch shows the endpoint is not dead after all
        ([failed(T0, STALE), ok(T1)], WebhookHealth("w", T1, None, None)),
        # but 410 Gone is the endpoint asking to stop: it wins over a success
        ([ok(T0), failed(T1, GONE, gone=True)], WebhookHealth("w", T0, None, GONE)),
        ([failed(T0, STALE), failed(T1, GONE, gone=True)], WebhookHealth("w", None, T0, GONE)),
    ],
)
def test_a_batch_reduces_to_one_change_per_webhook(
    signals: list[HealthSignal], expected: WebhookHealth
) -> None:
    assert summarize(signals) == [expected]


def test_webhooks_are_reduced_separately() -> None:
    other = HealthSignal(webhook_id="v", at=T0, succeeded=True)
    assert {change.webhook_id for change in summarize([failed(T1), other])} == {"w", "v"}


def test_failures_report_their_latest_error_and_soonest_retry() -> None:
    first = LastError(T0, 401, "HTTP 401", "bad signature")
    second = LastError(T1, None, "connection refused", "")
    signals = [
        HealthSignal("w", T0, succeeded=False, error=first, retry_at=T1 + timedelta(minutes=5)),
        HealthSignal("w", T1, succeeded=False, error=second, retry_at=T1 + timedelta(minutes=1)),
    ]

    (health,) = summarize(signals)

    assert (health.last_error, health.retry_at) == (second, T1 + timedelta(minutes=1))
    # A success in the batch: the webhook is healthy, nothing failing to report.
    (recovered,) = summarize([*signals, ok(T1)])
    assert (recovered.last_error, recovered.retry_at) == (None, None)


def _reckoned(at: datetime, since: datetime) -> HealthSignal:
    return HealthSignal(
        webhook_id="w", at=at, succeeded=False, disable_reason=STALE, streak_since=since
    )


def test_a_disable_keeps_the_streak_it_was_reckoned_from() -> None:
    (health,) = summarize([_reckoned(T1, T0)])

    assert (health.disable_reason, health.streak_since) == (STALE, T0)


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        (T0, True),  # the streak it was reckoned from: still failing since then
        (T0 - timedelta(days=1), True),  # stored older still: the disable stands
        (None, False),  # recovered since
        (T1, False),  # recovered, and a new streak began later
    ],
)
def test_a_disable_stands_only_on_the_streak_it_was_reckoned_from(
    stored: datetime | None, kept: bool
) -> None:
    (health,) = summarize([_reckoned(T1, T0)])

    applied = on_standing(health, stored)

    assert (applied.disable_reason == STALE) is kept
    assert applied.failed_at == T1  # the failure itself is recorded either way


def test_a_410s_disable_stands_whatever_the_stored_streak() -> None:
    (health,) = summarize([failed(T1, GONE, gone=True)])

    assert on_standing(health, None).disable_reason == GONE


def test_of_two_streaks_in_a_batch_only_the_later_ones_decisions_stand() -> None:
    # A handover's cached copy says failing since T0 (that streak ended); a claim's copy
    # says since T1, the stored streak, within a day of its disable.
    later = T1 + timedelta(days=4)
    warned = HealthSignal(
        "w", later, succeeded=False, disable_at=T1 + timedelta(days=5), streak_since=T1
    )

    (health,) = summarize([_reckoned(later, T0), warned])
    applied = on_standing(health, T1)

    assert (health.streak_since, health.disable_reason) == (T1, None)
    assert (applied.disable_reason, applied.disable_at) == (None, T1 + timedelta(days=5))


def _failures(at: datetime, *, retry: datetime | None = None) -> WebhookHealth:
    """A batch of failures at `at` alone, as reckoned from a failing streak since T0 with
    a disable and its warning ahead."""
    error = LastError(at, 503, "HTTP 503", "")
    signal = HealthSignal(
        "w", at, succeeded=False, error=error, retry_at=retry, disable_reason=STALE,
        disable_at=at + timedelta(days=1), streak_since=T0,
    )  # fmt: skip
    (health,) = summarize([signal])
    return health


@pytest.mark.parametrize("stored_error", [None, T0])
def test_failures_older_than_the_stored_last_success_leave_the_webhook_healthy(
    stored_error: datetime | None,
) -> None:
    # Written after a success made later (a retried write-ahead write, another worker).
    health = _failures(T1, retry=T1 + timedelta(minutes=5))

    applied = on_standing(health, T0, last_success=T1, last_error_at=stored_error)

    assert applied.failed_at is None  # no failing streak, so no webhook_failing
    assert (applied.retry_at, applied.disable_reason, applied.disable_at) == (None, None, None)
    assert applied.last_error == health.last_error  # still the latest error there was


def test_an_older_failure_does_not_replace_a_later_stored_error() -> None:
    applied = on_standing(_failures(T0), None, last_success=T1, last_error_at=T1)

    assert (applied.failed_at, applied.last_error) == (None, None)


def test_a_batch_failing_also_after_the_stored_success_starts_a_streak_after_it() -> None:
    first = HealthSignal("w", T0, succeeded=False, error=LastError(T0, 503, "HTTP 503", ""))
    later = T1 + timedelta(seconds=1)
    second = HealthSignal("w", later, succeeded=False, error=LastError(later, 503, "HTTP 503", ""))
    (health,) = summarize([first, second])

    applied = on_standing(health, None, last_success=T1)

    assert (applied.failed_at, applied.last_error) == (later, health.last_error)


def test_failures_after_the_stored_last_success_are_applied_as_they_came() -> None:
    health = _failures(T1)

    assert on_standing(health, T0, last_success=T0) == health


def test_an_older_410_still_disables() -> None:
    (health,) = summarize([failed(T0, GONE, gone=True)])

    assert on_standing(health, None, last_success=T1) == health


def test_a_success_older_than_the_stored_streak_moves_the_last_success_alone() -> None:
    # Written after a failure made later: the webhook has failed since T1, and still does.
    (health,) = summarize([ok(T0)])

    applied = on_standing(health, T1, last_success=T0 - timedelta(days=1))

    assert (applied.succeeded_at, applied.earlier_success) == (None, T0)


@pytest.mark.parametrize("stored", [None, T0])
def test_a_success_since_the_stored_streak_began_ends_it(stored: datetime | None) -> None:
    (health,) = summarize([ok(T1)])

    assert on_standing(health, stored) == health


def _timed_out(sent: datetime, ended: datetime) -> HealthSignal:
    error = LastError(ended, None, "timed out after 5 s", "")
    return HealthSignal("w", ended, succeeded=False, error=error, sent_at=sent)


def test_a_failure_sent_before_the_stored_success_starts_no_streak_however_late_it_ended() -> None:
    # A request made while the endpoint hung times out after the endpoint answered again
    # (chaos2: three failing periods, each told and mailed, in the second after a heal).
    (health,) = summarize([_timed_out(T0, T1 + timedelta(seconds=4))])

    applied = on_standing(health, None, last_success=T1)

    assert (applied.failed_at, applied.retry_at) == (None, None)
    assert applied.last_error == health.last_error  # still the latest error there was


def test_a_failure_sent_after_the_stored_success_starts_a_streak() -> None:
    later = T1 + timedelta(seconds=1)
    (health,) = summarize([_timed_out(T0, T1 + timedelta(seconds=4)), _timed_out(later, later)])

    applied = on_standing(health, None, last_success=T1)

    assert (applied.failed_at, applied.last_sent) == (later, later)
