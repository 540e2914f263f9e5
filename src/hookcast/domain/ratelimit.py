"""A token bucket: `rate` requests per second on average, bursts of up to `burst`.

Pure: the caller passes the time (monotonic seconds), so tests walk it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # the most tokens the bucket holds; a full bucket at the start
    tokens: float = -1.0  # -1: not used yet, start full
    updated: float = 0.0

    def take(self, now: float) -> float:
        """Takes one token if there is one and returns 0.0; otherwise returns how many
        seconds until one is available (nothing is taken)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens = self.burst
        else:
            elapsed = max(0.0, now - self.updated)
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
