"""ClaimPacing: a worker that keeps losing claims to another claims later and later after a
wake-up, up to a ceiling; one claim that brings several deliveries puts it back to claiming
at once, one that brings a single delivery (a race won) two doublings back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


@pytest.mark.parametrize(
    ("counts", "base", "losing"),
    [
        ([], 0.005, False),
        ([0], 0.005, True),
        ([0, 0, 2], 0.005, False),
        ([0, 0, 0, 1], 0.005, True),  # two doublings back, not all the way
        ([0] * 5, 0.0, False),  # a sole worker races nobody
    ],
)
def test_a_worker_is_losing_while_its_claims_come_back_empty(
    counts: list[int], base: float, losing: bool
) -> None:
    pacing = ClaimPacing(base=base, ceiling=0.1)
    for count in counts:
        pacing.claimed(count)
    assert pacing.losing is losing


_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _looks(looks: list[tuple[datetime | None, float]], *, now: datetime = _NOW) -> list[bool]:
    """worth_claiming for each (oldest due time read, monotonic time of the read)."""
    pacing = ClaimPacing(base=0.005, ceiling=0.1, help_after=0.05)
    return [pacing.worth_claiming(due, now=now, seen_at=at) for due, at in looks]


def test_a_losing_worker_claims_what_has_waited_past_help_after_by_the_claims_clock() -> None:
    assert _looks([(_NOW - timedelta(seconds=0.06), 0.0)]) == [True]
    assert _looks([(_NOW - timedelta(seconds=0.01), 0.0)]) == [False]


def test_nothing_due_is_never_worth_a_claim() -> None:
    later = _NOW + timedelta(seconds=1)
    assert _looks([(None, 0.0), (None, 1.0), (later, 2.0), (later, 3.0)]) == [False] * 4


def test_the_same_oldest_due_seen_help_after_apart_is_worth_a_claim_whatever_the_clocks() -> None:
    """The publisher's clock 2 s ahead of the worker's, then behind by a hair: the due time
    says it has hardly waited, but it stayed the oldest due one for 0.05 s of the worker's
    own time: the other worker is not taking it (stopped, or falling behind)."""
    due = _NOW
    assert _looks([(due, 10.0), (due, 10.03), (due, 10.06)]) == [False, False, True]


def test_a_new_oldest_due_starts_the_wait_again() -> None:
    """The others took the oldest meanwhile: they keep up, and the next one gets its own
    help_after before this worker claims."""
    first, second = _NOW - timedelta(seconds=0.02), _NOW - timedelta(seconds=0.01)
    assert _looks([(first, 0.0), (second, 0.04), (second, 0.06)]) == [False, False, False]


def _gathering(counts: list[int], since_claim: float, *, base: float = 0.005) -> float:
    """The delay after `counts`, `since_claim` seconds after the latest claim was asked for,
    with claims of fewer than 32 gathered for 0.01 s."""
    pacing = ClaimPacing(base=base, ceiling=0.1, gather=0.01, gather_below=32)
    for count in counts:
        pacing.claimed(count)
    return pacing.delay(since_claim)


@pytest.mark.parametrize(
    ("counts", "since_claim", "delay"),
    [
        ([1], 0.0, 0.01),  # a single publish: the next claim 10 ms after this one's
        ([9], 0.004, 0.006),  # the rest of the 10 ms since it was asked for
        ([31], 0.0, 0.01),
        ([1, 1, 1], 0.002, 0.008),  # winning one by one still gathers
        ([9], 0.01, 0.0),  # the last claim is old enough: claim at once
        ([9], 0.5, 0.0),  # a low rate: a publish after a pause never waits
        ([32], 0.0, 0.0),  # a claim of a good size: claim at once
        ([512], 0.0, 0.0),  # a full one (a backlog): at once
        ([], 0.0, 0.0),  # nothing claimed yet
        ([0], 0.0, 0.005),  # an empty claim: the losing worker's backoff, not the gather
        ([0, 0, 0, 1], 0.0, 0.005),  # still losing: its backoff
        ([0, 0, 1], 0.0, 0.01),  # no longer losing, and its claim was small: gathers
    ],
)
def test_after_a_small_claim_the_next_comes_no_sooner_than_the_gather(
    counts: list[int], since_claim: float, delay: float
) -> None:
    assert _gathering(counts, since_claim) == pytest.approx(delay)


def test_a_sole_worker_never_gathers() -> None:
    """`serve` on SQLite: its worker's gather is 0 (worker.py); nothing else claims there."""
    pacing = ClaimPacing(base=0.0, ceiling=0.1, gather=0.0, gather_below=32)
    pacing.claimed(1)
    assert pacing.delay(0.0) == 0.0
