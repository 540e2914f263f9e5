from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import RetryPolicySpec
from hookcast.domain.retry import (
    MAX_RETRY_AFTER,
    QUICK_DELAYS,
    STANDARD_DELAYS,
    Completed,
    GiveUp,
    OutcomeKind,
    RetryAt,
    classify,
    decide,
    failing_too_long,
    parse_retry_after,
    parse_retry_policy,
    retry_policy_to_json,
)

NOW = datetime(2024, 8, 27, 0, 15, 45, tzinfo=UTC)
STANDARD = RetryPolicySpec("standard", STANDARD_DELAYS)
QUICK = RetryPolicySpec("quick", QUICK_DELAYS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, STANDARD),
        ("standard", STANDARD),
        ("quick", QUICK),
        ([60], RetryPolicySpec("custom", (60.0,))),
        ([1, 1.5, 604800], RetryPolicySpec("custom", (1.0, 1.5, 604800.0))),
        ([1] * 10, RetryPolicySpec("custom", (1.0,) * 10)),
    ],
)
def test_parse_retry_policy(raw: object, expected: RetryPolicySpec) -> None:
    assert parse_retry_policy(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("fast", 'retry_policy "fast" is unknown'),
        ("Standard", "is unknown"),
        ([], "between 1 and 10 delays, not 0"),
        ([1] * 11, "between 1 and 10 delays, not 11"),
        ([0] * 25, "between 1 and 10 delays, not 25"),
        ([5, 0], "retry_policy[1] must be a number of seconds between 1 and 604800"),
        ([0.5], "retry_policy[0] must be a number of seconds between 1 and 604800"),
        ([5, -1], "retry_policy[1] must be a number of seconds between 1 and 604800"),
        ([604801], "retry_policy[0] must be a number of seconds"),
        ([True], "retry_policy[0]"),
        (["5"], "retry_policy[0]"),
        ([float("nan")], "retry_policy[0]"),
        (5, 'retry_policy must be "standard", "quick" or a list'),
        ({"delays": [5]}, "retry_policy must be"),
    ],
)
def test_parse_retry_policy_refuses(raw: object, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_retry_policy(raw)
    assert message in caught.value.description
    assert caught.value.field == "retry_policy"


def test_the_minimum_delay_can_be_lowered_for_local_testing() -> None:
    assert parse_retry_policy([0.1, 0], min_delay=0).delays == (0.1, 0.0)
    with pytest.raises(ValidationFailed, match="between 5 and"):
        parse_retry_policy([1], min_delay=5)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (STANDARD, "standard"),
        (RetryPolicySpec("standard", ()), "standard"),
        (QUICK, "quick"),
        (RetryPolicySpec("custom", (5.0, 1.5)), [5, 1.5]),
    ],
)
def test_retry_policy_to_json(spec: RetryPolicySpec, expected: object) -> None:
    assert retry_policy_to_json(spec) == expected


@given(
    st.sampled_from(["standard", "quick", None])
    | st.lists(st.floats(1, 604800) | st.integers(1, 604800), min_size=1, max_size=10)
)
def test_policy_json_round_trips(raw: object) -> None:
    spec = parse_retry_policy(raw)
    assert parse_retry_policy(retry_policy_to_json(spec)) == spec


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, OutcomeKind.SUCCESS),
        (204, None, OutcomeKind.SUCCESS),
        (299, None, OutcomeKind.SUCCESS),
        (410, None, OutcomeKind.GONE),
        (429, None, OutcomeKind.THROTTLED),
        (502, None, OutcomeKind.THROTTLED),
        (503, None, OutcomeKind.THROTTLED),
        (504, None, OutcomeKind.THROTTLED),
        (301, None, OutcomeKind.REDIRECT),
        (308, None, OutcomeKind.REDIRECT),
        (100, None, OutcomeKind.FAILURE),
        (400, None, OutcomeKind.FAILURE),
        (404, None, OutcomeKind.FAILURE),
        (500, None, OutcomeKind.FAILURE),
        (None, "timeout after 10 s", OutcomeKind.FAILURE),
        (None, "connection refused", OutcomeKind.FAILURE),
        (None, None, OutcomeKind.FAILURE),
        (200, "response body truncated", OutcomeKind.SUCCESS),
    ],
)
def test_classify(status: int | None, error: str | None, expected: OutcomeKind) -> None:
    assert classify(status, error) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Tue, 27 Aug 2024 00:16:45 GMT", 60.0),
        ("Tue, 27 Aug 2024 00:15:00 GMT", 0.0),  # in the past
        ("Tue, 27 Aug 2024 01:15:45 -0000", 3600.0),
        ("soon", None),
        ("", None),
        ("1e9", None),
        ("Tue, 99 Aug 2024 00:16:45 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def _decide(
    spec: RetryPolicySpec,
    attempts: int,
    outcome: OutcomeKind = OutcomeKind.FAILURE,
    retry_after: float | None = None,
    jitter: float = 0.5,
) -> object:
    return decide(
        spec,
        attempts_made=attempts,
        outcome=outcome,
        retry_after=retry_after,
        now=NOW,
        jitter_sample=jitter,
    )


def _at(seconds: float) -> RetryAt:
    return RetryAt(NOW + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("spec", "attempts", "outcome", "retry_after", "jitter", "expected"),
    [
        (STANDARD, 1, OutcomeKind.SUCCESS, None, 0.5, Completed()),
        (STANDARD, 8, OutcomeKind.SUCCESS, None, 0.5, Completed()),
        # the standard schedule, jitter in the middle (no change)
        (STANDARD, 1, OutcomeKind.FAILURE, None, 0.5, _at(5)),
        (STANDARD, 2, OutcomeKind.FAILURE, None, 0.5, _at(300)),
        (STANDARD, 3, OutcomeKind.REDIRECT, None, 0.5, _at(1800)),
        (STANDARD, 4, OutcomeKind.FAILURE, None, 0.5, _at(7200)),
        (STANDARD, 5, OutcomeKind.FAILURE, None, 0.5, _at(18000)),
        (STANDARD, 6, OutcomeKind.FAILURE, None, 0.5, _at(36000)),
        (STANDARD, 7, OutcomeKind.THROTTLED, None, 0.5, _at(36000)),
        (STANDARD, 8, OutcomeKind.FAILURE, None, 0.5, GiveUp("no success after 8 attempts")),
        # ±20% jitter at the extremes
        (STANDARD, 2, OutcomeKind.FAILURE, None, 0.0, _at(240)),
        (STANDARD, 2, OutcomeKind.FAILURE, None, 1.0, _at(360)),
        # the model's default spec has no delays: the preset is resolved by name
        (RetryPolicySpec("standard", ()), 1, OutcomeKind.FAILURE, None, 0.5, _at(5)),
        # quick and custom schedules are exact
        (QUICK, 1, OutcomeKind.FAILURE, None, 0.0, _at(3)),
        (QUICK, 2, OutcomeKind.FAILURE, None, 1.0, _at(3)),
        (QUICK, 3, OutcomeKind.FAILURE, None, 0.5, GiveUp("no success after 3 attempts")),
        (RetryPolicySpec("custom", (10.0,)), 1, OutcomeKind.FAILURE, None, 0.0, _at(10)),
        (
            RetryPolicySpec("custom", (10.0,)),
            2,
            OutcomeKind.FAILURE,
            None,
            0.0,
            GiveUp("no success after 2 attempts"),
        ),
        # Retry-After pushes later, never earlier, and is capped
        (QUICK, 1, OutcomeKind.THROTTLED, 120.0, 0.5, _at(120)),
        (QUICK, 1, OutcomeKind.THROTTLED, 1.0, 0.5, _at(3)),
        (QUICK, 1, OutcomeKind.THROTTLED, 86400.0, 0.5, _at(MAX_RETRY_AFTER)),
        (STANDARD, 6, OutcomeKind.THROTTLED, 86400.0, 0.5, _at(36000)),
        (QUICK, 1, OutcomeKind.THROTTLED, float("inf"), 0.5, _at(3)),
        (QUICK, 3, OutcomeKind.THROTTLED, 60.0, 0.5, GiveUp("no success after 3 attempts")),
        # 410 Gone stops and disables, whatever remains of the schedule
        (
            STANDARD,
            1,
            OutcomeKind.GONE,
            None,
            0.5,
            GiveUp("endpoint answered 410 Gone", "endpoint answered 410 Gone"),
        ),
    ],
)
def test_decide(
    spec: RetryPolicySpec,
    attempts: int,
    outcome: OutcomeKind,
    retry_after: float | None,
    jitter: float,
    expected: object,
) -> None:
    assert _decide(spec, attempts, outcome, retry_after, jitter) == expected


@given(attempts=st.integers(1, 7), jitter=st.floats(0, 1))
def test_standard_jitter_stays_within_20_percent(attempts: int, jitter: float) -> None:
    decision = _decide(STANDARD, attempts, jitter=jitter)
    assert isinstance(decision, RetryAt)
    wait = (decision.at - NOW).total_seconds()
    delay = STANDARD_DELAYS[attempts - 1]
    assert delay * 0.8 - 1e-6 <= wait <= delay * 1.2 + 1e-6


@pytest.mark.parametrize(("attempts", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.5)])
def test_decide_refuses_impossible_inputs(attempts: int, jitter: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        _decide(STANDARD, attempts, jitter=jitter)


@pytest.mark.parametrize(
    ("failing_for", "threshold", "expected"),
    [
        (None, timedelta(days=5), None),
        (timedelta(days=4, hours=23), timedelta(days=5), None),
        (timedelta(days=5), timedelta(days=5), "no successful delivery for 5 days"),
        (timedelta(days=9), timedelta(days=1), "no successful delivery for 1 day"),
        (timedelta(hours=13), timedelta(hours=12), "no successful delivery for 12 hours"),
        (timedelta(hours=2), timedelta(minutes=90), "no successful delivery for 90 minutes"),
        (timedelta(hours=2), timedelta(seconds=45), "no successful delivery for 45 seconds"),
    ],
)
def test_failing_too_long(
    failing_for: timedelta | None, threshold: timedelta, expected: str | None
) -> None:
    since = None if failing_for is None else NOW - failing_for
    assert failing_too_long(failing_since=since, now=NOW, threshold=threshold) == expected
