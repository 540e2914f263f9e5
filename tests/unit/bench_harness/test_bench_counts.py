"""The throughput harness's counts: what nginx's access log says arrived, and when a stretch
counts as matching (otherwise no rate or ratio may be taken from it)."""

from __future__ import annotations

import pytest
from benchmarks.arrivals import problems, tally


def _line(at: float, delivery: str, *, path: str = "/hook/0", signed: int = 1) -> str:
    return f"{at:.3f} {path} {delivery} {signed}\n"


def test_a_delivery_sent_twice_is_a_duplicate_not_a_second_delivery() -> None:
    arrived = tally([_line(10.0, "d1"), _line(10.5, "d2"), _line(11.0, "d1")])

    assert (arrived.requests, arrived.distinct, arrived.duplicates) == (3, 2, 1)
    # The rate is taken over first arrivals: the duplicate neither adds to it nor stretches it.
    assert arrived.times == [10.0, 10.5]
    assert arrived.rate() == pytest.approx(2.0)


def test_the_same_delivery_id_on_two_webhooks_is_two_deliveries() -> None:
    arrived = tally([_line(1.0, "d1", path="/hook/0"), _line(1.1, "d1", path="/hook/1")])

    assert (arrived.distinct, arrived.duplicates) == (2, 0)


def test_requests_without_a_signature_or_an_id_are_counted_not_dropped() -> None:
    arrived = tally([_line(1.0, "-", signed=1), _line(1.2, "-", signed=0), "\n"])

    assert (arrived.requests, arrived.distinct, arrived.unsigned) == (2, 2, 1)


def test_a_stretch_with_every_delivery_once_and_recorded_matches() -> None:
    arrived = tally([_line(1.0, "d1"), _line(2.0, "d2"), _line(2.5, "d2")])

    # At-least-once may send one twice: reported beside the counts, not a mismatch.
    assert problems(expected=2, arrived=arrived, durable=2) == []
    # A contestant that records nothing (the raw client) is checked at the receiver only.
    assert problems(expected=2, arrived=arrived, durable=None) == []


@pytest.mark.parametrize(
    ("lines", "durable", "expected_problem"),
    [
        ([_line(1.0, "d1")], 2, "1 distinct deliveries arrived, expected 2"),
        ([_line(1.0, "d1"), _line(1.0, "d2")], 1, "1 recorded as delivered, expected 2"),
        ([_line(1.0, "d1"), _line(1.0, "d2", signed=0)], 2, "1 arrived without a signature"),
        (
            [_line(1.0, "d1"), _line(1.0, "d2"), _line(1.0, "d3")],
            2,
            "3 distinct deliveries arrived, expected 2",
        ),
    ],
)
def test_a_stretch_whose_counts_differ_says_which(
    lines: list[str], durable: int, expected_problem: str
) -> None:
    assert problems(expected=2, arrived=tally(lines), durable=durable) == [expected_problem]
