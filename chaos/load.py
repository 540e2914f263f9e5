"""The load: publishers that POST batches of known events to HookCast's API while faults
strike, and judge every answer.

202: accepted (the events must be delivered). 503 in the API's error format with
Retry-After: a clean refusal (the batch is tried again, same event ids, as a client would;
publishing is idempotent on event_id). No answer (refused, reset, timeout): unknown, also
tried again. Anything else, a 500, or a traceback in a body is a violation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from chaos.ledger import Ledger

_KINDS = ("media_available", "media_created", "channel_active", "thumbnail_created")


def make_event(run: str, number: int, site_id: str, rng: random.Random) -> dict[str, Any]:
    """A catalog event with its own event_id; a third of them tagged "sports"."""
    kind = rng.choice(_KINDS)
    event: dict[str, Any] = {"event": kind, "site_id": site_id, "event_id": f"{run}-{number}"}
    if kind == "channel_active":
        event["channel_id"] = f"CH{number % 1000:06d}"
    elif kind == "thumbnail_created":
        event.update(thumbnail_id=f"TH{number % 1000:06d}", media_id=f"MD{number % 1000:06d}")
    else:
        event["media_id"] = f"MD{number % 1000:06d}"
    tags = ["sports"] if rng.random() < 1 / 3 else ["news"]
    event["data"] = {"tags": tags, "n": number}
    return event


@dataclass
class LoadOptions:
    events: int  # how many distinct events to publish in all
    batch: int = 10
    publishers: int = 2  # concurrent publishing tasks
    pause: float = 0.05  # seconds between one publisher's batches
    tries: int = 20  # per batch, while refused or unanswered
    timeout: float = 30.0  # per request


class Publisher:
    def __init__(
        self,
        ledger: Ledger,
        *,
        urls: Callable[[], Sequence[str]],
        api_key: str,
        site_id: str,
        run: str,
        rng: random.Random,
        options: LoadOptions,
    ) -> None:
        self._ledger = ledger
        self._urls = urls  # the API servers to spread over (like a load balancer)
        self._key = api_key
        self._site = site_id
        self._run = run
        self._rng = rng
        self._options = options
        self._numbers = itertools.count()
        self._turn = itertools.count()
        self.done = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Publishes until every event has been tried or `stop` is set."""
        timeout = aiohttp.ClientTimeout(total=self._options.timeout)
        headers = {"Authorization": f"Bearer {self._key}"}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as client:
            await asyncio.gather(
                *(self._publisher(client, stop) for _ in range(self._options.publishers))
            )
        self.done.set()

    async def _publisher(self, client: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = self._next_batch()
            if not batch:
                return
            await self._publish(client, batch, stop)
            await asyncio.sleep(self._options.pause)

    def _next_batch(self) -> list[dict[str, Any]]:
        batch = []
        for _ in range(self._options.batch):
            number = next(self._numbers)
            if number >= self._options.events:
                break
            event = make_event(self._run, number, self._site, self._rng)
            self._ledger.offer(event)
            batch.append(event)
        return batch

    async def _publish(
        self, client: aiohttp.ClientSession, batch: list[dict[str, Any]], stop: asyncio.Event
    ) -> None:
        for _ in range(self._options.tries):
            wait = await self._try(client, batch)
            if wait is None or stop.is_set():
                return
            await asyncio.sleep(wait)

    async def _try(
        self, client: aiohttp.ClientSession, batch: list[dict[str, Any]]
    ) -> float | None:
        """One POST; None when the batch is settled, else seconds to wait before retrying."""
        urls = self._urls()
        url = urls[next(self._turn) % len(urls)] + "/v2/events/"
        began = time.monotonic()
        try:
            async with client.post(url, json={"events": batch}) as response:
                status, body = response.status, await response.text()
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, OSError, TimeoutError):
            self._ledger.unknown += 1
            return 0.2
        if status == 202:
            now = time.monotonic()
            self._ledger.slowest_publish = max(self._ledger.slowest_publish, now - began)
            for event_id in json.loads(body)["event_ids"]:
                self._ledger.accept(event_id, now)
            return None
        return self._refused(status, body, retry_after)

    def _refused(self, status: int, body: str, retry_after: str | None) -> float | None:
        if "Traceback" in body or 'File "' in body:
            self._ledger.violation(f"a traceback in a {status} answer: {body[:200]!r}")
        if status == 503 and _is_api_error(body) and retry_after is not None:
            self._ledger.refused[status] += 1
            return min(float(retry_after), 1.0)  # honoured, but bounded: the run is short
        self._ledger.refused[status] += 1
        self._ledger.violation(
            f"publish answered {status} (Retry-After {retry_after!r}): {body[:200]!r}"
        )
        return None


def _is_api_error(body: str) -> bool:
    try:
        errors = json.loads(body)["errors"]
        return bool(errors) and all({"code", "description"} <= set(e) for e in errors)
    except (ValueError, KeyError, TypeError):
        return False
