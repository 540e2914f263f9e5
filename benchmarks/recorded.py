"""Claimed deliveries recorded as sent, for the benchmarks that time the store's claim and
recording without sending anything (benchmarks.pg_steps, benchmarks.sqlite_record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from hookcast.domain.models import Attempt, DeliveryStatus
from hookcast.ports import ClaimedDelivery, DeliveryResult


def succeeded(
    claimed: Sequence[ClaimedDelivery], *, at: datetime, headers: Mapping[str, str]
) -> list[DeliveryResult]:
    """Each claimed delivery's result as a 204 at `at`, its attempt storing `headers`, its
    row where the claim left it (as the worker hands it back)."""
    return [
        DeliveryResult(
            delivery_id=c.delivery_id,
            lease_token=c.lease_token,
            attempt=Attempt(
                delivery_id=c.delivery_id,
                number=c.attempts + 1,
                started_at=at,
                request_headers=dict(headers),
                status_code=204,
                latency_ms=1.0,
                response_body="",
                error=None,
            ),
            status=DeliveryStatus.SUCCEEDED,
            next_attempt_at=None,
            completed_at=at,
            created=c.created,
            row=c.row,
        )
        for c in claimed
    ]
