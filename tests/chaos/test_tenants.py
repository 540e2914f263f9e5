"""How the chaos report counts a tenant's accepted events from its delivery rows: what
`make chaos` fails on is an accepted event neither delivered nor failed with a reason."""

from __future__ import annotations

from chaos.tenants import tally


def test_delivered_and_failed_with_a_reason_settle_a_tenant() -> None:
    rows = [
        ("e1", "succeeded", None),
        ("e1", "failed", "HTTP 500"),
        ("e2", "succeeded", None),
        ("e2", "failed", "DNS lookup of n0.black-hole.test timed out"),
    ]

    found = tally({"e1": 2, "e2": 2}, rows)

    assert found.settled
    assert found.report() == {
        "accepted": 2,
        "deliveries": 4,
        "delivered": 2,
        "failed": 2,
        "undelivered": 0,
        "failed_by_reason": {"HTTP 500": 1, "DNS lookup of n0.black-hole.test timed out": 1},
        "undelivered_by_state": {},
    }
    assert found.problems("A") == []


def test_a_pending_delivery_and_an_event_without_its_deliveries_are_undelivered() -> None:
    rows = [
        ("e1", "pending", None),
        ("e1", "pending", "timed out"),
        ("e2", "succeeded", None),
    ]

    found = tally({"e1": 2, "e2": 2, "e3": 1}, rows)

    assert not found.settled
    assert found.report()["undelivered_by_state"] == {
        "pending": 1,
        "pending, last: timed out": 1,
        "no delivery": 2,
    }
    assert found.report()["undelivered"] == 4
    (problem,) = found.problems("B")
    assert problem.startswith("B: 4 undelivered")


def test_a_failure_without_a_recorded_reason_fails_the_run() -> None:
    found = tally({"e1": 1}, [("e1", "failed", None)])

    assert found.settled
    assert found.problems("A") == ["A: 1 failed without a reason recorded"]


def test_deliveries_of_events_never_accepted_are_not_counted() -> None:
    # A publish whose answer never came may still have been stored.
    found = tally({"e1": 1}, [("e1", "succeeded", None), ("e9", "pending", None)])

    assert found.settled
    assert found.report()["deliveries"] == found.report()["delivered"] == 1
