"""Leases lost too often: a delivery whose lease was lost (its worker died, or let the lease
expire unrecorded) `MAX_LEASE_LOSSES` times is failed with this attempt instead of being
handed to yet another worker. A delivery whose sending crashes its worker would otherwise
loop forever, taking a worker down each time."""

from __future__ import annotations

from datetime import datetime

from hookcast.domain.models import Attempt, Delivery

__all__ = ["LOST_BY", "MAX_LEASE_LOSSES", "lost_attempt"]

MAX_LEASE_LOSSES = 5
LOST_BY = "lost by "  # how the attempt's error begins: the dashboard tells it apart by this


def lost_attempt(delivery: Delivery, *, losses: int, now: datetime) -> Attempt:
    """The attempt recorded when `delivery` is failed after `losses` lost leases."""
    return Attempt(
        delivery_id=delivery.id,
        number=delivery.attempts + 1,
        started_at=now,
        request_headers={},
        status_code=None,
        latency_ms=0.0,
        response_body="",
        error=(
            f"{LOST_BY}{losses} workers; each died or stalled before recording an attempt, "
            "so it is failed rather than sent again"
        ),
    )
