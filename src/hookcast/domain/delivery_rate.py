"""A webhook's own rate limit (`metadata.rate_limit_per_second`, `rate_limit_burst`): at
most `burst` requests at once, `per_second` on average after that, across every worker.

The rule is GCRA (the generic cell rate algorithm, a token bucket kept as one number): the
state is the "theoretical arrival time" `tat`, the time at which the bucket would be full
again. A request at `now` may go if `max(tat, now) + interval - now <= burst * interval`,
and then `tat` moves to `max(tat, now) + interval`. One number per webhook is what every
worker shares in the store (store/delivery_rate.py), and a worker asks for several
requests in one decision.

Pure: times are seconds since the epoch, passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import DeliveryRateLimit as RateLimit

__all__ = [
    "MAX_BURST",
    "MAX_PER_SECOND",
    "MIN_PER_SECOND",
    "Admission",
    "RateLimit",
    "admit",
    "parse_rate_limit",
]

MIN_PER_SECOND: Final = 0.01  # one request every 100 s
MAX_PER_SECOND: Final = 1000.0
MAX_BURST: Final = 1000
RATE_FIELD: Final = "rate_limit_per_second"
BURST_FIELD: Final = "rate_limit_burst"


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` decided: how many of the requests asked about may go now (`granted`),
    the bucket's new `tat`, and `next_at`, the earliest time the next request may go."""

    granted: int
    tat: float
    next_at: float


def admit(limit: RateLimit, *, tat: float | None, now: float, count: int = 1) -> Admission:
    """How many of `count` requests may go at `now`, given the bucket's `tat` (None: never
    used); the bucket moves by the ones granted only. Admitting several at once is the same
    as admitting them one after another at `now`: one shared decision per batch."""
    interval = 1.0 / limit.per_second
    start = now if tat is None else max(tat, now)
    # Request j (1, 2, ...) may go if start + j * interval - burst * interval <= now; the
    # epsilon keeps float rounding from refusing the one exactly on time.
    room = math.floor((now - start) / interval + limit.burst + 1e-9)
    granted = max(0, min(count, room))
    new_tat = start + granted * interval
    return Admission(
        granted=granted,
        tat=new_tat,
        next_at=max(now, new_tat + interval - limit.burst * interval),
    )


def parse_rate_limit(per_second: object, burst: object) -> RateLimit | None:
    """The rate limit from the two metadata fields (None for `per_second`: no limit).
    `burst` None: the rate rounded up, at least 1 (a second's worth)."""
    if per_second is None:
        if burst is not None:
            raise ValidationFailed(
                f"metadata.{BURST_FIELD} needs metadata.{RATE_FIELD}", field=BURST_FIELD
            )
        return None
    if isinstance(per_second, bool) or not isinstance(per_second, int | float):
        raise ValidationFailed(f"metadata.{RATE_FIELD} must be a number", field=RATE_FIELD)
    rate = float(per_second)
    if not (math.isfinite(rate) and MIN_PER_SECOND <= rate <= MAX_PER_SECOND):
        raise ValidationFailed(
            f"metadata.{RATE_FIELD} must be between {MIN_PER_SECOND:g} and "
            f"{MAX_PER_SECOND:g} requests per second",
            field=RATE_FIELD,
        )
    if burst is None:
        return RateLimit(per_second=rate, burst=max(1, math.ceil(rate)))
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
        raise ValidationFailed(
            f"metadata.{BURST_FIELD} must be an integer between 1 and {MAX_BURST}",
            field=BURST_FIELD,
        )
    return RateLimit(per_second=rate, burst=burst)
