"""The contestants (HookCast embedded or scaled out, Celery), each started for one phase
and stopped after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from benchmarks.config import CELERY
from benchmarks.contestants.base import Contestant
from benchmarks.contestants.celery import CeleryContestant
from benchmarks.contestants.hookcast import HookcastContestant
from benchmarks.run import Run

__all__ = ["CeleryContestant", "Contestant", "HookcastContestant", "started"]


@contextlib.contextmanager
def started(
    run: Run, name: str, *, backlog: int, phase: str, webhooks: int = 1
) -> Iterator[Contestant]:
    """Contestant `name` with `backlog` pending deliveries, running; stopped on the way out."""
    contestant: Contestant
    if name == CELERY:
        contestant = CeleryContestant(run, backlog=backlog, phase=phase)
    else:
        contestant = HookcastContestant(run, name, backlog=backlog, phase=phase, webhooks=webhooks)
    try:
        contestant.start()
        yield contestant
    finally:
        contestant.stop()
