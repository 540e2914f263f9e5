"""The ordered-delivery scenario of issue 17: many media, six events each, to one ordered
webhook whose endpoint fails 30% of requests at random; one media's first event fails until
its retry policy gives up. Shared by the suite (tests/integration/test_delivery_ordering.py)
and its long run under `make chaos`.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A media's life, in publish order.
LIFE = (
    "media_created",
    "conversions_complete",
    "media_available",
    "media_updated",
    "media_updated",
    "media_deleted",
)
DOOMED = "MEDIA000"  # its first event fails until given up
# Short retries: 9 attempts ~0.4 s apart for a head that always fails (about 3 s in all).
RETRY_DELAYS = [0.4] * 8
FAILURE_RATE = 0.3
MAX_FAILURES_IN_A_ROW = 3  # others always get through within the retry policy


def media_ids(count: int) -> list[str]:
    return [f"MEDIA{n:03d}" for n in range(count)]


def rounds(count: int) -> list[list[dict[str, Any]]]:
    """Event k of every media, for k = 1..6: publishes interleave the media."""
    return [[{"event": name, "media_id": media} for media in media_ids(count)] for name in LIFE]


@dataclass
class FlakyEndpoint:
    """A receiver's behaviour: 500 for 30% of requests (seeded), at most three times in a
    row per event; always 500 for the doomed media's first event. Records the order of
    first successful receipts per media, and when the doomed head was last tried."""

    seed: int
    rng: random.Random = field(init=False)
    failures: Counter[str] = field(default_factory=Counter)
    succeeded: set[str] = field(default_factory=set)
    first_successes: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    finished_at: dict[str, float] = field(default_factory=dict)  # media: its sixth success
    doomed_tries: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def __call__(self, _number: int, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        media, sequence = body["media_id"], int(body["sequence"])
        if media == DOOMED and sequence == 1:
            self.doomed_tries.append(time.monotonic())
            return web.Response(status=500, text="this one never works")
        event_id = body["event_id"]
        if self.failures[event_id] < MAX_FAILURES_IN_A_ROW and self.rng.random() < FAILURE_RATE:
            self.failures[event_id] += 1
            return web.Response(status=500, text="random failure")
        if event_id not in self.succeeded:
            self.succeeded.add(event_id)
            self.first_successes[media].append(sequence)
            if len(self.first_successes[media]) == len(LIFE) - (media == DOOMED):
                self.finished_at[media] = time.monotonic()
        return web.Response(status=200, text="ok")

    def done(self, count: int) -> bool:
        return len(self.finished_at) == count


def check(endpoint: FlakyEndpoint, count: int, *, crashed: bool = False) -> None:
    """Issue 17's proof: per media, first successful receipts in publish order; the doomed
    media's later events went once its head was given up; others did not wait for it. A
    worker killed (`crashed`) may have sent one attempt of the doomed head without recording
    it (an ordered webhook has one request per media at a time): that one goes again."""
    for media in media_ids(count):
        expected = list(range(2 if media == DOOMED else 1, len(LIFE) + 1))
        assert endpoint.first_successes[media] == expected, (media, endpoint.first_successes[media])
    attempts = 1 + len(RETRY_DELAYS)
    assert attempts <= len(endpoint.doomed_tries) <= attempts + crashed, endpoint.doomed_tries
    given_up = endpoint.doomed_tries[-1]
    assert endpoint.finished_at[DOOMED] > given_up
    # Not held back: other media went all the way through while the doomed head failed.
    through_meanwhile = [m for m, at in endpoint.finished_at.items() if at < given_up]
    assert through_meanwhile, "every other media waited for the doomed one"


Publish = Callable[[list[dict[str, Any]]], Awaitable[list[str]]]


async def publish_all(publish: Publish, count: int, *, batch: int = 100) -> list[str]:
    """Every media's six events, event k of all media before event k + 1 of any."""
    ids: list[str] = []
    for events in rounds(count):
        for start in range(0, len(events), batch):
            ids += await publish(events[start : start + batch])
    return ids
