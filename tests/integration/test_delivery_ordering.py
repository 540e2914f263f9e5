"""Ordered delivery end to end (issue 17): 200 media x 6 events to an ordered webhook whose
endpoint fails 30% of requests; each media's events first succeed in publish order, and one
media whose first event is given up holds back no other. Then the same with kill -9 of the
worker in the middle, on SQLite and PostgreSQL (a longer run is part of `make chaos`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from delivery_harness import Deployment, processes
from ordering_scenario import RETRY_DELAYS, FlakyEndpoint, check, publish_all
from receivers import DEADLINE
from test_delivery_guarantees import SUBPROCESS_ENV

from support.waiting import eventually

MEDIA = 200
# The crash runs: fewer media in the suite, all 200 under `make chaos`.
CRASH_MEDIA = int(os.environ.get("HOOKCAST_ORDERING_CRASH_MEDIA", "40"))
ORDERED = {"ordering": "resource", "retry_policy": RETRY_DELAYS}


@pytest.mark.timeout(120)
async def test_each_media_arrives_in_publish_order_through_random_failures(
    hookcast: Deployment,
) -> None:
    endpoint = FlakyEndpoint(seed=17)
    receiver = await hookcast.receiver(endpoint)
    await hookcast.hook_for(receiver, **ORDERED)
    hookcast.start_worker()

    async def publish(events: list[dict[str, Any]]) -> list[str]:
        return await hookcast.publish(*events)

    await publish_all(publish, MEDIA)
    await eventually(
        lambda: endpoint.done(MEDIA),
        timeout=90,
        message=lambda: f"{len(endpoint.finished_at)} of {MEDIA} media went through",
    )

    check(endpoint, MEDIA)
    receiver.assert_all_verified()


@pytest.mark.timeout(180)
async def test_kill_9_of_the_worker_keeps_each_media_in_order(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **SUBPROCESS_ENV) as procs,
    ):
        endpoint = FlakyEndpoint(seed=23)
        receiver = await hookcast.receiver(endpoint)
        await hookcast.hook_for(receiver, **ORDERED)

        async def publish(events: list[dict[str, Any]]) -> list[str]:
            return await hookcast.publish(*events)

        await publish_all(publish, CRASH_MEDIA)
        first = procs.worker()
        # Killed a third of the way through: heads are leased, sent or being recorded.
        await eventually(
            lambda: len(receiver.received) >= 2 * CRASH_MEDIA,
            timeout=60,
            message=lambda: f"{len(receiver.received)} arrived:\n{first.log_tail()}",
        )
        first.kill()
        assert await first.wait_exit(DEADLINE) == -9
        assert not endpoint.done(CRASH_MEDIA), "the crash came too late to test anything"
        second = procs.worker()
        await eventually(
            lambda: endpoint.done(CRASH_MEDIA),
            timeout=120,
            message=lambda: (
                f"{len(endpoint.finished_at)} of {CRASH_MEDIA} media went through\n"
                + second.log_tail()
            ),
        )

        check(endpoint, CRASH_MEDIA, crashed=True)
