"""A webhook's rate limit as GCRA: bursts up to `burst`, then `per_second` on average."""

from __future__ import annotations

import pytest

from hookcast.domain.delivery_rate import admit, parse_rate_limit
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import DeliveryRateLimit


def _sent_at(limit: DeliveryRateLimit, times: list[float]) -> list[float]:
    """Each request tried at its time and, if refused, again when admit says it may go."""
    tat: float | None = None
    sent: list[float] = []
    for at in times:
        admission = admit(limit, tat=tat, now=at)
        if not admission.granted:
            at = admission.next_at
            admission = admit(limit, tat=tat, now=at)
        assert admission.granted
        tat = admission.tat
        sent.append(at)
    return sent


def test_a_burst_goes_at_once_then_the_rate_spaces_the_rest() -> None:
    limit = DeliveryRateLimit(per_second=2.0, burst=3)

    sent = _sent_at(limit, [100.0] * 7)

    assert sent[:3] == [100.0] * 3
    assert sent[3:] == pytest.approx([100.5, 101.0, 101.5, 102.0])


@pytest.mark.parametrize(("rate", "burst"), [(1.0, 1), (5.0, 5), (0.5, 2), (50.0, 10)])
def test_no_window_holds_more_than_the_burst_plus_the_rate(rate: float, burst: int) -> None:
    limit = DeliveryRateLimit(per_second=rate, burst=burst)
    sent = _sent_at(limit, [10.0 + 0.01 * n for n in range(200)])

    for window in (0.5, 1.0, 3.0):
        for start in sent:
            inside = sum(1 for at in sent if start <= at < start + window)
            assert inside <= burst + rate * window + 1e-9


def test_a_refusal_moves_nothing() -> None:
    limit = DeliveryRateLimit(per_second=1.0, burst=1)
    first = admit(limit, tat=None, now=0.0)

    refused = admit(limit, tat=first.tat, now=0.2)

    assert refused.granted == 0
    assert refused.tat == first.tat
    assert refused.next_at == pytest.approx(1.0)
    assert admit(limit, tat=first.tat, now=1.0).granted == 1


def test_a_batch_is_decided_as_its_requests_one_by_one() -> None:
    limit = DeliveryRateLimit(per_second=4.0, burst=5)
    tat: float | None = None
    for now, count in ((0.0, 8), (0.1, 3), (1.0, 10), (1.2, 1), (9.0, 2)):
        together = admit(limit, tat=tat, now=now, count=count)
        alone, one_tat = 0, now if tat is None else tat
        for _ in range(count):
            single = admit(limit, tat=one_tat, now=now)
            alone += single.granted
            one_tat = single.tat
        assert together.granted == alone, now
        assert together.tat == pytest.approx(one_tat), now
        tat = together.tat
    assert admit(limit, tat=None, now=0.0, count=8).next_at == pytest.approx(0.25)


def test_the_fields_are_checked_and_the_burst_defaults_to_a_seconds_worth() -> None:
    assert parse_rate_limit(None, None) is None
    assert parse_rate_limit(2.5, None) == DeliveryRateLimit(2.5, 3)
    assert parse_rate_limit(0.1, None) == DeliveryRateLimit(0.1, 1)
    assert parse_rate_limit(10, 40) == DeliveryRateLimit(10.0, 40)
    for rate, burst, says in (
        (0, None, "between 0.01 and 1000"),
        (1001, None, "between 0.01 and 1000"),
        (float("nan"), None, "between"),
        ("10", None, "a number"),
        (True, None, "a number"),
        (10, 0, "between 1 and 1000"),
        (10, 1.5, "integer"),
        (None, 5, "needs metadata.rate_limit_per_second"),
    ):
        with pytest.raises(ValidationFailed, match=says):
            parse_rate_limit(rate, burst)
