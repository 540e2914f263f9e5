"""The contestants (HookCast embedded or scaled out, Celery, the raw aiohttp client), each
started for one phase and stopped after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from benchmarks.config import CELERY, RAW
from benchmarks.contestants.base import Contestant
from benchmarks.contestants.celery import CeleryContestant
from benchmarks.contestants.hookcast import HookcastContestant
from benchmarks.contestants.raw import RawContestant
from benchmarks.run import Run

__all__ = [
    "CeleryContestant",
    "Contestant",
    "HookcastContestant",
    "RawContestant",
    "create",
    "started",
]


@contextlib.contextmanager
def started(
    run: Run,
    name: str,
    *,
    backlog: int,
    phase: str,
    webhooks: int = 1,
    target: str | None = None,
) -> Iterator[Contestant]:
    """Contestant `name` with `backlog` pending deliveries, running, delivering to `target`
    (a base URL; the run's Python receiver by default); stopped on the way out."""
    contestant = create(run, name, backlog=backlog, phase=phase, webhooks=webhooks, target=target)
    try:
        contestant.start()
        yield contestant
    finally:
        contestant.stop()


def create(
    run: Run, name: str, *, backlog: int, phase: str, webhooks: int = 1, target: str | None = None
) -> Contestant:
    """Contestant `name`, not started yet."""
    url = target or run.receiver.url
    if name == CELERY:
        return CeleryContestant(run, backlog=backlog, phase=phase, target=url)
    if name == RAW:
        return RawContestant(run, count=backlog, phase=phase, target=url)
    return HookcastContestant(
        run, name, backlog=backlog, phase=phase, webhooks=webhooks, target=url
    )
