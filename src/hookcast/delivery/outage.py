"""A database that went away, said as an operator wants to read it: one line when the worker's
calls to it (claims, heartbeats, outcome writes, rate-limit admissions, edit checks) start
failing, a reminder at most once a minute while they go on (with how long), one line when
one works again. The tracebacks stay at DEBUG. The retention and the mailer of the same
process say theirs on the same one (cli/runtime.py).

Only a database not reached or not serving at all is an outage (`Unreachable`, or the
connection's own error). Any other error (a broken statement, a column a bad migration
lost, a bug) is logged at ERROR with its traceback, once for each distinct error: it was
said as "unavailable" with its traceback at DEBUG, hidden as an outage; said in full each
time, it would fill the log at every claim (a second apart).

Before this, a worker started while PostgreSQL was down logged a claim traceback and a
heartbeat traceback every second: ~1,190 lines in 12 s, and nothing said when it was back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from hookcast.domain.errors import Unreachable

__all__ = ["Outage"]

REMIND_SECONDS = 60.0
# How long calls must have gone through, none failing, before the database is said back. A
# SQLite disk that is full fails the writes that need a new page and lets the rest through:
# said back at the first call that went through, the worker logged "unavailable" and "back
# after 1 s" every second for as long as the disk stayed full (chaos disk-full: 30 lines in
# 10 s, ~7,000 an hour).
BACK_AFTER_SECONDS = 5.0
# What an unreachable database raises: the store's translation of its drivers' errors
# (store/errors.py), or the connection's own. Anything else is a bug, said in full once.
_OUTAGE_ERRORS = (Unreachable, OSError, TimeoutError)
# The distinct errors remembered as said; past that many the oldest is forgotten (said
# again if it comes back), so a stream of different ones cannot grow the process.
_REMEMBERED = 64


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
        back_after_seconds: float = BACK_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._database = database
        self._remind_seconds = remind_seconds
        self._back_after = back_after_seconds
        self._clock = clock
        self._since: float | None = None  # when the calls began failing (clock time)
        self._reminded = 0.0  # when it was last said
        self._failed_at = 0.0  # when a call last failed (clock time)
        self._said: dict[str, None] = {}  # the errors that are no outage said, oldest first

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, doing: str, error: BaseException) -> None:
        """A call to the database failed while `doing` it (e.g. "claiming deliveries")."""
        if not isinstance(error, _OUTAGE_ERRORS):
            self._bug(doing, error)
            return
        self._log.debug("%s failed", doing, exc_info=error)
        now = self._clock()
        self._failed_at = now
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

    def _bug(self, doing: str, error: BaseException) -> None:
        """An error that is no outage: in full the first time, at DEBUG after."""
        key = _distinct(doing, error)
        if key in self._said:
            self._log.debug("%s failed again", doing, exc_info=error)
            return
        self._said[key] = None
        if len(self._said) > _REMEMBERED:
            del self._said[next(iter(self._said))]
        self._log.error(
            "%s failed (not an outage: said once, repeats at DEBUG)", doing, exc_info=error
        )

    def worked(self) -> None:
        """A call to the database went through: it is said back once calls have gone
        through for `back_after_seconds` with none failing (a failure before then is the
        same outage, not a new one)."""
        if self._since is None:
            return
        now = self._clock()
        if now - self._failed_at < self._back_after:
            return
        self._log.warning("%s is back after %s", self._database, _duration(now - self._since))
        self._since = None


def _distinct(doing: str, error: BaseException) -> str:
    """What tells one error from another: what failed, and each error down its chain of
    causes by class and message, numbers left out (a process id, a row count)."""
    parts = [doing]
    seen: BaseException | None = error
    for _ in range(8):  # a chain is a few links; a cycle must not loop
        if seen is None:
            break
        parts.append(f"{type(seen).__qualname__}: {re.sub(r'[0-9]+', '#', str(seen))}")
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def _one_line(error: BaseException) -> str:
    said = " ".join(str(error).split()) or type(error).__name__
    reason = getattr(error, "reason", None)  # Unreachable's, for the operator
    return f"{said} ({reason})" if reason else said


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
