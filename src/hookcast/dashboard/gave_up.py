"""When HookCast stopped sending a failed delivery and why, for its log entry: the words
are domain/retry.py's `why_given_up`, which the CLI's `deliveries get` says too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hookcast.domain.models import Attempt, Delivery, DeliveryStatus, RetryPolicySpec
from hookcast.domain.retry import why_given_up

__all__ = ["GaveUp", "gave_up"]


@dataclass(frozen=True, slots=True)
class GaveUp:
    """When HookCast stopped, and why."""

    at: datetime | None
    why: str


def gave_up(
    delivery: Delivery, attempts: Sequence[Attempt], policy: RetryPolicySpec
) -> GaveUp | None:
    """Why `delivery` was given up, or None when it was not (it is not failed)."""
    if delivery.status is not DeliveryStatus.FAILED:
        return None
    last = attempts[-1] if attempts else None
    at = delivery.completed_at or (last.started_at if last else None)
    why = why_given_up(
        last_status=last.status_code if last else None,
        last_error=last.error if last else None,
        attempts_made=delivery.attempts,
        spec=policy,
    )
    return GaveUp(at, why)
