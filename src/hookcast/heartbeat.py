"""A worker's sign of life: a monotonic timestamp it refreshes on every turn of its loop, and
that readiness checks read (a worker stuck for longer than the limit is not ready)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["STALE_AFTER_SECONDS", "Heartbeat"]

STALE_AFTER_SECONDS = 30.0


class Heartbeat:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last: float | None = None

    def beat(self) -> None:
        self._last = self._monotonic()

    def age(self) -> float | None:
        """Seconds since the last beat; None before the first one."""
        return None if self._last is None else self._monotonic() - self._last

    def stale_reason(self, limit: float = STALE_AFTER_SECONDS) -> str | None:
        """Why the worker is not ready, or None when it beat within `limit` seconds."""
        age = self.age()
        if age is None:
            return "the delivery worker has not started"
        if age > limit:
            return f"the delivery worker last made progress {age:.0f} s ago (limit {limit:g} s)"
        return None
