"""The "Gave up" line of a failed delivery's log entry: when HookCast stopped and why, read
back from its attempts and its webhook's retry policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hookcast.dashboard.gave_up import gave_up
from hookcast.domain.leases import lost_attempt
from hookcast.domain.models import Attempt, Delivery, DeliveryStatus, RetryPolicySpec
from hookcast.domain.retry import parse_retry_policy

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
DONE = START + timedelta(minutes=5)


def _delivery(status: DeliveryStatus, attempts: int) -> Delivery:
    return Delivery(
        id="dlv_1",
        account_id="acc",
        event_id="evt_1",
        webhook_id="hook",
        status=status,
        attempts=attempts,
        next_attempt_at=START,
        created=START,
        completed_at=DONE if status is DeliveryStatus.FAILED else None,
    )


def _attempts(*codes: int | None) -> list[Attempt]:
    return [
        Attempt(
            delivery_id="dlv_1",
            number=number,
            started_at=START + timedelta(seconds=number),
            request_headers={},
            status_code=code,
            latency_ms=1.0,
            response_body="",
            error=None if code else "connection refused",
        )
        for number, code in enumerate(codes, start=1)
    ]


@pytest.mark.parametrize("status", [s for s in DeliveryStatus if s is not DeliveryStatus.FAILED])
def test_only_a_failed_delivery_was_given_up(status: DeliveryStatus) -> None:
    assert gave_up(_delivery(status, 1), _attempts(500), parse_retry_policy("quick")) is None


@pytest.mark.parametrize(
    ("policy", "codes", "said"),
    [
        ("quick", (500, None, 500), "3 attempts, all that the quick retry policy makes"),
        ("standard", (500,) * 8, "8 attempts, all that the standard retry policy makes"),
        ([1], (502, 500), "2 attempts, all that the custom retry policy makes"),
    ],
)
def test_retries_used_up_say_how_many_and_whose_policy(
    policy: object, codes: tuple[int | None, ...], said: str
) -> None:
    stopped = gave_up(
        _delivery(DeliveryStatus.FAILED, len(codes)), _attempts(*codes), parse_retry_policy(policy)
    )
    assert stopped is not None
    assert stopped.at == DONE
    assert stopped.why == f"Retries used up: {said}"


def test_a_policy_changed_since_is_not_blamed_for_fewer_attempts() -> None:
    # Given up after 3 (quick), then the webhook moved to standard (8): not "all it makes".
    stopped = gave_up(
        _delivery(DeliveryStatus.FAILED, 3), _attempts(500, 500, 500), parse_retry_policy(None)
    )
    assert stopped is not None
    assert stopped.why == "Retries used up: 3 attempts, all that its retry policy made then"


def test_a_410_says_the_endpoint_asked_to_stop() -> None:
    stopped = gave_up(
        _delivery(DeliveryStatus.FAILED, 1), _attempts(410), RetryPolicySpec("standard", ())
    )
    assert stopped is not None
    assert "410 Gone" in stopped.why
    assert "disabled" in stopped.why


def test_lost_leases_say_the_workers_lost_it() -> None:
    delivery = _delivery(DeliveryStatus.FAILED, 5)
    lost = lost_attempt(_delivery(DeliveryStatus.PENDING, 4), losses=5, now=DONE)
    stopped = gave_up(delivery, [*_attempts(500, 500, 500, 500), lost], parse_retry_policy(None))
    assert stopped is not None
    assert stopped.why.startswith("Its sending was lost by 5 workers;")
    assert "Retries used up" not in stopped.why


def test_without_a_completion_time_the_last_attempt_says_when() -> None:
    delivery = replace(_delivery(DeliveryStatus.FAILED, 2), completed_at=None)
    stopped = gave_up(delivery, _attempts(500, 500), parse_retry_policy([1]))
    assert stopped is not None
    assert stopped.at == START + timedelta(seconds=2)
