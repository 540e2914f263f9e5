"""Why HookCast stopped sending a failed delivery, in words for its log entry.

A failed delivery stores no reason of its own: the retry decision that ended it
(domain/retry.py) is read back from its last attempt and its webhook's policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hookcast.domain.leases import LOST_BY
from hookcast.domain.models import Attempt, Delivery, DeliveryStatus, RetryPolicySpec
from hookcast.domain.retry import GONE_STATUS, attempts_allowed

__all__ = ["GaveUp", "gave_up"]

_GONE = "the webhook was disabled"


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
    if last is not None and last.status_code == GONE_STATUS:
        return GaveUp(at, f"The endpoint answered 410 Gone, which asks for nothing more: {_GONE}")
    if last is not None and last.status_code is None and (last.error or "").startswith(LOST_BY):
        return GaveUp(at, f"Its sending was {last.error}")
    allowed = attempts_allowed(policy)
    made = delivery.attempts
    tried = f"{made} attempt{'' if made == 1 else 's'}"
    if made >= allowed:
        return GaveUp(
            at, f"Retries used up: {tried}, all that the {policy.name} retry policy makes"
        )
    # The policy was changed since, to one that makes more attempts than it then made.
    return GaveUp(at, f"Retries used up: {tried}, all that its retry policy made then")
