"""Waiting for the first of several events: the worker's loops (liveness.py, edits.py)
sleep until a stop, a wake-up or a timeout, whichever comes first."""

from __future__ import annotations

import asyncio

__all__ = ["first_of"]


async def first_of(*events: asyncio.Event, seconds: float | None = None) -> None:
    """Until one of `events` is set, at most `seconds` (none if not above 0; no bound when
    None). Returns at once if one is set already."""
    if (seconds is not None and seconds <= 0) or any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
