"""`expire`: a delivery whose event outlived its webhook's time-to-live ends without a send,
logged as expired with the reason, and without touching the endpoint's health."""

from __future__ import annotations

from datetime import timedelta

from hookcast.delivery.attempt import expire
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import ClaimedDelivery
from support import factories as make

NOW = make.later(0)


def _claimed(age_seconds: float, *, type_: str = "channel_active") -> ClaimedDelivery:
    hook = make.webhook("acc", max_age_seconds={"channel_active": 600})
    event = make.event(
        "acc",
        type=type_,
        resource_ids={"channel_id": "YijbmYHJ"},
        event_time=NOW - timedelta(seconds=age_seconds),
    )
    return ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)


def test_an_event_older_than_its_limit_is_expired_not_sent() -> None:
    concluded = expire(_claimed(601), NOW)

    assert concluded is not None
    result = concluded.result
    assert (result.status, result.completed_at, result.lease_token) == (
        DeliveryStatus.EXPIRED,
        NOW,
        "lease",
    )
    assert result.attempt.status_code is None
    assert result.attempt.request_headers == {}  # nothing was sent
    assert result.attempt.error == (
        "expired, not sent: the event was 601 s old, over this webhook's max_age_seconds "
        "for channel_active (600 s)"
    )
    assert concluded.report.outcome_name == "expired"
    assert not concluded.applies  # its health signal is not applied: the endpoint did nothing


def test_a_young_event_or_one_without_a_limit_is_sent() -> None:
    assert expire(_claimed(599), NOW) is None
    assert expire(_claimed(10_000, type_="channel_idle"), NOW) is None
