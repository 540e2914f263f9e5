"""The sender's name lookups: answers kept for a while, failures for a short while, one
lookup per name at a time, and a bounded number of names remembered.

Every account chooses its own host names, so none of this may grow with them or let one
name's slowness reach another's: a name whose lookup is slow costs one query however many
deliveries wait on it, and a failure is remembered briefly so retries do not ask again.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hookcast.ports import LookupTimeout, Resolver

__all__ = ["HostLookups", "LookupTimedOut", "NotResolved"]


class NotResolved(OSError):
    """The name has no address (NXDOMAIN or no records)."""


class LookupTimedOut(OSError):
    """No DNS answer came in time: a temporary failure, retried like a refused connection."""


@dataclass(frozen=True, slots=True)
class _Answer:
    expires: float
    addresses: Sequence[str]  # empty: the lookup failed
    timed_out: bool = False


class HostLookups:
    """Looks names up through `resolver`, keeping answers `ttl` seconds, failures
    `failure_ttl` seconds, and at most `max_hosts` names (the least recently used go)."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        ttl: float = 30.0,
        failure_ttl: float = 5.0,
        max_hosts: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._max_hosts = max_hosts
        self._clock = clock
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._pending: dict[str, asyncio.Task[_Answer]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    async def addresses(self, host: str) -> Sequence[str]:
        """The addresses of `host`; NotResolved or LookupTimedOut when there are none."""
        answer = self._answers.get(host)
        if answer is None or answer.expires <= self._clock():
            answer = await self._lookup(host)
        else:
            self._answers.move_to_end(host)
        if answer.timed_out:
            raise LookupTimedOut(f"DNS lookup of {host} timed out")
        if not answer.addresses:
            raise NotResolved(f"{host} does not resolve")
        return answer.addresses

    async def _lookup(self, host: str) -> _Answer:
        task = self._pending.get(host)
        if task is None:
            task = self._pending[host] = asyncio.create_task(self._ask(host))
            task.add_done_callback(functools.partial(self._forget, host))
        # Shielded: one waiter giving up (its own deadline) must not cancel everyone's lookup.
        return await asyncio.shield(task)

    def _forget(self, host: str, task: asyncio.Task[_Answer]) -> None:
        del self._pending[host]
        if not task.cancelled():
            task.exception()  # retrieved: a resolver's bug reaches the waiters, not the log

    async def _ask(self, host: str) -> _Answer:
        try:
            found, timed_out = await self._resolver.resolve(host), False
        except LookupTimeout:
            found, timed_out = (), True
        ttl = self._ttl if found else self._failure_ttl
        answer = _Answer(self._clock() + ttl, tuple(found), timed_out)
        self._answers[host] = answer
        self._answers.move_to_end(host)
        while len(self._answers) > self._max_hosts:
            self._answers.popitem(last=False)
        return answer
