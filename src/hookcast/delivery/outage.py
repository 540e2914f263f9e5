"""A database that went away, said as an operator wants to read it: one line when the worker's
calls to it (claims, heartbeats, outcome writes, rate-limit admissions, edit checks) start
failing, a reminder at most once a minute while they go on (with how long), one line when
one works again. The tracebacks stay at DEBUG.

Before this, a worker started while PostgreSQL was down logged a claim traceback and a
heartbeat traceback every second: ~1,190 lines in 12 s, and nothing said when it was back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from hookcast.domain.errors import Unavailable

__all__ = ["Outage"]

REMIND_SECONDS = 60.0
# What an unreachable database raises: the store's translation of its drivers' errors
# (store/errors.py), or the connection's own. Anything else is a bug, said in full each time.
_OUTAGE_ERRORS = (Unavailable, OSError, TimeoutError)


class Outage:
    """Shared by a worker's calls to the database: `failed` after each one that failed,
    `worked` after each one that went through. `database` names it (cli/database.describe:
    never the password)."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        database: str = "the database",
        remind_seconds: float = REMIND_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._database = database
        self._remind_seconds = remind_seconds
        self._clock = clock
        self._since: float | None = None  # when the calls began failing (clock time)
        self._reminded = 0.0  # when it was last said

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, doing: str, error: BaseException) -> None:
        """A call to the database failed while `doing` it (e.g. "claiming deliveries")."""
        if not isinstance(error, _OUTAGE_ERRORS):
            self._log.error("%s failed", doing, exc_info=error)
            return
        self._log.debug("%s failed", doing, exc_info=error)
        now = self._clock()
        reason = _one_line(error)
        if self._since is None:
            self._since = self._reminded = now
            self._log.error(
                "%s is unavailable (%s: %s); retrying until it is back",
                self._database,
                doing,
                reason,
            )
        elif now - self._reminded >= self._remind_seconds:
            self._reminded = now
            self._log.error(
                "%s still unavailable after %s (%s: %s); retrying",
                self._database,
                _duration(now - self._since),
                doing,
                reason,
            )

    def worked(self) -> None:
        """A call to the database went through."""
        if self._since is None:
            return
        self._log.warning(
            "%s is back after %s", self._database, _duration(self._clock() - self._since)
        )
        self._since = None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
