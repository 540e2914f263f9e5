"""ClaimPacing: a worker that keeps losing claims to another claims later and later after a
wake-up, up to a ceiling; one claim that brings something puts it back to claiming at once."""

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
        ([0, 0, 0, 1], 0.0),  # a claim that brings something: at once again
        ([0, 0, 0, 1, 0], 0.005),
    ],
)
def test_delay_doubles_with_empty_claims_until_a_claim_brings_something(
    counts: list[int], delay: float
) -> None:
    assert _after(counts) == pytest.approx(delay)


def test_a_sole_worker_never_waits() -> None:
    assert _after([0] * 5, base=0.0) == 0.0
