"""A fake of the Sender port for the worker's unit tests: it keeps every request it is given
and answers each as the test says, so a test can wait for requests instead of for time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection

from hookcast.ports import OutboundRequest, SendOutcome

__all__ = ["Answer", "RecordingSender", "ok"]

Answer = Callable[[OutboundRequest], Awaitable[SendOutcome]]
WAIT = 10.0  # seconds a wait gives up after: far above what any of the tests takes


async def ok(_request: OutboundRequest) -> SendOutcome:
    """A 200 at once."""
    return SendOutcome(status_code=200, latency_ms=1.0)


class RecordingSender:
    """Records each request, then answers it with `answer` (which may wait or raise)."""

    def __init__(self, answer: Answer = ok) -> None:
        self._answer = answer
        self.requests: list[OutboundRequest] = []
        self._arrived = asyncio.Condition()

    async def send(self, request: OutboundRequest) -> SendOutcome:
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        return await self._answer(request)

    async def close(self) -> None:
        return None

    def count(self, urls: Collection[str] | None = None) -> int:
        """Requests so far, all or only those to `urls`."""
        if urls is None:
            return len(self.requests)
        return sum(1 for request in self.requests if request.url in urls)

    async def wait_for(self, count: int, *, urls: Collection[str] | None = None) -> None:
        """Returns once `count` requests (to `urls`, if given) have arrived."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.count(urls) >= count), WAIT)
