"""What arrived at the throughput receiver in one stretch, from nginx's access log (one line
per request: `$msec $uri $http_webhook_id $signed`): every request, the distinct
deliveries (webhook path and delivery id), the duplicates at-least-once delivery may add,
the unsigned ones, and the arrival times."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# nginx's log format for it (wrk.nginx_config): $signed is 1 when the request carries the
# hex HMAC header every contestant sends.
LOG_FORMAT = "$msec $uri $http_webhook_id $signed"


@dataclass(frozen=True)
class Tally:
    requests: int  # every request logged
    distinct: int  # distinct (path, delivery id) pairs: the deliveries made
    unsigned: int
    times: list[float] = field(default_factory=list)  # each distinct one's first arrival, sorted

    @property
    def duplicates(self) -> int:
        return self.requests - self.distinct

    @property
    def first(self) -> float | None:
        return self.times[0] if self.times else None

    @property
    def last(self) -> float | None:
        return self.times[-1] if self.times else None

    def rate(self) -> float | None:
        """Distinct deliveries/s from the first arrival to the last."""
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return None
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def tally(lines: Iterable[str]) -> Tally:
    """The tally of access-log lines (a line nginx logged without a delivery id counts as a
    request and as a distinct delivery of its own, so nothing is folded away)."""
    first_seen: dict[str, float] = {}
    requests = unsigned = 0
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        requests += 1
        at = float(parts[0])
        uri = parts[1] if len(parts) > 1 else ""
        delivery = parts[2] if len(parts) > 2 and parts[2] != "-" else f"line {requests}"
        if len(parts) < 4 or parts[3] != "1":
            unsigned += 1
        key = f"{uri} {delivery}"
        if key not in first_seen or at < first_seen[key]:
            first_seen[key] = at
    return Tally(requests, len(first_seen), unsigned, sorted(first_seen.values()))


def problems(*, expected: int, arrived: Tally, durable: int | None) -> list[str]:
    """Why a stretch's counts do not match (empty when they do): the distinct deliveries at
    the receiver and the deliveries the contestant recorded (None: it records nothing) must
    both be `expected`, and every delivery must be signed. Duplicates are reported beside the
    counts, not folded into them: at-least-once delivery may send one twice."""
    found = []
    if arrived.distinct != expected:
        found.append(f"{arrived.distinct:,} distinct deliveries arrived, expected {expected:,}")
    if durable is not None and durable != expected:
        found.append(f"{durable:,} recorded as delivered, expected {expected:,}")
    if arrived.unsigned:
        found.append(f"{arrived.unsigned:,} arrived without a signature")
    return found
