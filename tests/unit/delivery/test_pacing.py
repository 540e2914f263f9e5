"""ClaimPacing: a worker that keeps losing claims to another claims later and later after a
wake-up, up to a ceiling; one claim that brings several deliveries puts it back to claiming
at once, one that brings a single delivery (a race won) two doublings back."""

from __future__ import annotations

import pytest

from hookcast.delivery.pacing import ClaimPacing


def _after(counts: list[int], *, base: float = 0.005, ceiling: float = 0.1) -> float:
    pacing = ClaimPacing(base=base, ceiling=ceiling)
    for count in counts:
        pacing.claimed(count)
    return pacing.delay()


@pytest.mark.parametrize(
    ("counts", "delay"),
    [
        ([], 0.0),
        ([3], 0.0),
        ([0], 0.005),
        ([0, 0], 0.01),
        ([0, 0, 0], 0.02),
        ([0] * 10, 0.1),  # the ceiling
        ([0] * 1000, 0.1),  # no overflow however long it loses
        ([0, 0, 0, 2], 0.0),  # a claim that brings several: at once again
        ([0, 0, 0, 2, 0], 0.005),
        ([0, 0, 0, 1], 0.005),  # a single one: two doublings back
        ([0, 0, 1], 0.0),
        ([0] * 1000 + [1], 0.04),  # from the ceiling, however long it lost: two doublings
        ([0] * 1000 + [1, 1], 0.01),
        ([1, 1, 1], 0.0),  # the worker that takes the publishes one by one: never waits
    ],
)
def test_delay_doubles_with_empty_claims_until_a_claim_brings_something(
    counts: list[int], delay: float
) -> None:
    assert _after(counts) == pytest.approx(delay)


def test_a_sole_worker_never_waits() -> None:
    assert _after([0] * 5, base=0.0) == 0.0
