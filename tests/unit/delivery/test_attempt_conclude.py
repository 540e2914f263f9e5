"""What `conclude` records of a response is storable whatever the receiver answered."""

from __future__ import annotations

from datetime import timedelta

from hookcast.delivery.attempt import Concluded, conclude, prepare
from hookcast.domain.models import ERROR_EXCERPT, DeliveryStatus
from hookcast.ports import ClaimedDelivery, SendOutcome
from support import factories as make

NOW = make.later(10)


def _claimed() -> ClaimedDelivery:
    hook = make.webhook("acc")  # the standard policy: a failure is retried
    event = make.event("acc")
    return ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)


def _concluded(outcome: SendOutcome, claimed: ClaimedDelivery | None = None) -> Concluded:
    """`claimed`'s attempt (a fresh claimed delivery's by default) concluded with `outcome`,
    at NOW."""
    claimed = claimed or _claimed()
    return conclude(
        claimed,
        request=prepare(claimed, NOW),
        outcome=outcome,
        started_at=NOW,
        now=NOW,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    )


def _conclude(outcome: SendOutcome) -> tuple[str, str | None, DeliveryStatus]:
    concluded = _concluded(outcome)
    attempt = concluded.result.attempt
    assert concluded.report.error == attempt.error  # what the log line says is what is stored
    return attempt.response_body, attempt.error, concluded.result.status


def test_nul_and_lone_surrogates_in_a_response_body_are_replaced() -> None:
    outcome = SendOutcome(status_code=200, latency_ms=1.0, response_body="a\x00b\ud800c")

    body, error, status = _conclude(outcome)

    assert body == "a\ufffdb" + "\ufffd" * 3 + "c"
    assert (error, status) == (None, DeliveryStatus.SUCCEEDED)


def test_nul_in_an_error_is_replaced() -> None:
    outcome = SendOutcome(status_code=None, latency_ms=1.0, error="reset by \x00peer")

    body, error, status = _conclude(outcome)

    assert (body, error, status) == ("", "reset by \ufffdpeer", DeliveryStatus.PENDING)


def test_a_plain_response_is_recorded_as_it_came() -> None:
    outcome = SendOutcome(status_code=500, latency_ms=1.0, response_body="nope é")

    assert _conclude(outcome) == ("nope é", "HTTP 500", DeliveryStatus.PENDING)


def test_a_failure_tells_the_webhook_its_error_and_next_retry() -> None:
    outcome = SendOutcome(status_code=401, latency_ms=1.0, response_body="x" * 1000)

    concluded = _concluded(outcome)

    error = concluded.health.error
    assert error is not None
    assert (error.at, error.status_code, error.error) == (NOW, 401, "HTTP 401")
    assert error.body == "x" * ERROR_EXCERPT
    assert concluded.health.retry_at == concluded.result.next_attempt_at
    assert concluded.health.retry_at is not None
    assert concluded.health.retry_at > NOW


def test_a_disable_for_failing_too_long_names_the_streak_it_was_reckoned_from() -> None:
    since = NOW - timedelta(days=6)
    hook = make.webhook("acc", failing_since=since)
    event = make.event("acc")
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)

    concluded = _concluded(SendOutcome(status_code=503, latency_ms=1.0), claimed)

    assert concluded.health.disable_reason is not None
    assert concluded.health.streak_since == since
