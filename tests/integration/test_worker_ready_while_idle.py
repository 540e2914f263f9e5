"""A worker with nothing to do is still a worker going round its loop: /readyz (and the
hookcast_worker_heartbeat_age_seconds gauge operations.md pages on) must not call an idle
`serve` or `hookcast worker` stuck."""

from __future__ import annotations

import time

from delivery_harness import FAST, Deployment

from hookcast.heartbeat import STALE_AFTER_SECONDS, Heartbeat
from support.waiting import eventually


class _Monotonic:
    """time.monotonic() plus an offset the test moves forward (a long idle, quickly)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_an_idle_worker_keeps_its_heartbeat_fresh(database_url: str) -> None:
    monotonic = _Monotonic()
    heartbeat = Heartbeat(monotonic)
    async with Deployment.open(database_url) as hookcast:
        hookcast.start_worker(FAST, heartbeat=heartbeat)
        await eventually(lambda: heartbeat.age() is not None, message="the worker never started")

        # Nothing published: the worker idles. As if it had for longer than /readyz allows:
        monotonic.offset += STALE_AFTER_SECONDS + 1
        # Its loop turns every idle_wait_seconds (0.05 s here): its next turn says it is alive.
        await eventually(
            lambda: heartbeat.stale_reason() is None,
            message=lambda: f"an idle worker is reported stuck: {heartbeat.stale_reason()}",
        )
