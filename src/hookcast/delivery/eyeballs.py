"""Connecting to a host with several addresses, as RFC 8305 ("Happy Eyeballs") describes:
attempts start a short delay apart, or at once when the one before has failed; the first
connection made wins and every other one is closed.

Without it a dead first address (packets dropped, no refusal) cost the whole request
timeout although the next address answered at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["CONNECT_STAGGER_SECONDS", "first_connected", "interleave"]

CONNECT_STAGGER_SECONDS = 0.25  # RFC 8305's recommended "Connection Attempt Delay"

T = TypeVar("T")


def interleave(addresses: Sequence[str]) -> list[str]:
    """`addresses` in their order, but alternating IPv6 and IPv4 from the family of the
    first (RFC 8305 section 4), so one dead family does not delay all of the other."""
    first: list[str] = []
    other: list[str] = []
    first_v6 = ":" in addresses[0] if addresses else True
    for address in addresses:
        (first if (":" in address) == first_v6 else other).append(address)
    mixed = [a for pair in zip(first, other, strict=False) for a in pair]
    rest = first[len(other) :] if len(first) > len(other) else other[len(first) :]
    return mixed + rest


async def first_connected(
    attempts: Sequence[Callable[[], Awaitable[T]]],
    *,
    delay: float,
    discard: Callable[[T], None],
) -> T:
    """The result of the first of `attempts` to succeed, started `delay` seconds apart (or
    as soon as every running one has failed). The others are cancelled, and `discard` gets
    any that succeed anyway. All failing raises the last attempt's error."""
    if len(attempts) == 1:
        return await attempts[0]()  # the common case: no tasks, no timers
    waiting = iter(attempts)
    running: set[asyncio.Future[T]] = set()
    errors: list[BaseException] = []
    try:
        while True:
            start = next(waiting, None)
            if start is not None:
                running.add(asyncio.ensure_future(start()))
            elif not running:
                raise errors[-1]
            done, running = await asyncio.wait(
                running,
                timeout=delay if start is not None else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            winner = _pick(done, errors, discard)
            if winner is not None:
                return winner[0]
    finally:
        for attempt in running:
            attempt.cancel()
            attempt.add_done_callback(functools.partial(_discard_late, discard))


def _pick(
    done: set[asyncio.Future[T]], errors: list[BaseException], discard: Callable[[T], None]
) -> tuple[T] | None:
    winner: tuple[T] | None = None
    for attempt in done:
        error = attempt.exception()
        if error is not None:
            errors.append(error)
        elif winner is None:
            winner = (attempt.result(),)
        else:
            discard(attempt.result())  # two finished together: the first one seen wins
    return winner


def _discard_late(discard: Callable[[T], None], attempt: asyncio.Future[T]) -> None:
    if not attempt.cancelled() and attempt.exception() is None:
        discard(attempt.result())
