"""Waiting for something to happen: poll the condition itself, never sleep a guessed time.

A fixed `sleep` waits too long on an idle machine and not long enough on a loaded one; a
poll of the condition returns as soon as it holds and, bounded, fails with a message that
says what never happened. `eventually` is for coroutines on the event loop, `wait_until`
for code off it (subprocesses, threads, a browser driven synchronously).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

__all__ = ["DEADLINE", "STARTING", "eventually", "wait_until"]

DEADLINE = 15.0  # seconds: generous for a loaded 2-core machine, still ends a hung test
# Seconds for a `hookcast` process a test started to come up and act: a few on a quiet
# machine, but at load 10-19 on 2 cores its imports alone took ~11 s, and DEADLINE ran
# out on a worker's first delivery and on its first beats (2 CPU hogs beside, load ~12).
STARTING = 45.0

T = TypeVar("T")

Message = Callable[[], str] | str


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = DEADLINE,
    interval: float = 0.05,
    message: Message = "the condition never held",
) -> None:
    """Polls `condition` (plain or async) every `interval` seconds until it holds; fails
    the test after `timeout` seconds with `message`."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(_failure(timeout, message))
        await asyncio.sleep(interval)


def wait_until(
    condition: Callable[[], T | Literal[False] | None],
    *,
    timeout: float = DEADLINE,
    interval: float = 0.1,
    message: Message = "the condition never held",
) -> T:
    """Calls `condition` every `interval` seconds until it returns something true, and
    returns that; fails the test after `timeout` seconds with `message`. Blocks the
    calling thread: not for use on an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(_failure(timeout, message))
        time.sleep(interval)


def _failure(timeout: float, message: Message) -> str:
    return f"after {timeout:g} s: {message() if callable(message) else message}"
