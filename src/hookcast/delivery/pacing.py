"""How soon a worker claims after a wake-up, and whether it claims at all, so that the cost
of claiming follows the load.

Every worker on PostgreSQL is woken by every publish's NOTIFY, and all of them used to claim
at once: one got the new deliveries, the others an empty claim (measured: 4,148 claims and
11,066 transactions for 2,500 events at 250 events/s with 2 workers). A worker whose claims
keep coming back empty lost those races: it waits a little longer after each such claim
before claiming on the next wake-up (doubling up to a ceiling), and claims at once again as
soon as a claim brings more than one delivery. At a low rate one worker then takes the
publishes as they come and the others look now and then; once that worker cannot keep up,
the others' claims find several deliveries, and they all claim at once again. A claim that
brings a single one mostly won a race for a publish the other worker was about to take: it
shortens the wait by two doublings only (measured at 50 events/s: resetting the wait on it
made the worker that looks now and then race again for every publish a few times a second,
1.14 claims per event where one is needed).

A worker that is losing (`losing`) no longer claims to look: it reads first the oldest
due time (a read: ~200 µs of PostgreSQL's time at 50 events/s against 1,000-1,500 µs for a
claim, found or not) and claims only when that
delivery has been due for `help_after` seconds, or was already the oldest due one
`help_after` seconds before by the worker's own monotonic clock (`worth_claiming`): then the
others are not keeping up, or not claiming at all. The second holds whatever the clock of
the publisher that set the due time.

A worker that wins with small claims gathers before its next one: after a claim that
brought fewer than `gather_below` deliveries (one or more), it claims again no sooner than
`gather` seconds after that claim was asked for, so that the publishes committing meanwhile
come in one claim. A claim costs PostgreSQL ~0.75 ms whatever it brings plus ~15 µs per
delivery (`benchmarks.pg_steps`: 109 µs per delivery in claims of 8, 16 in claims of 512);
with single events published through the API the workers claimed about once per publish
transaction, 8-10 deliveries at a time, ~0.1 claims per event: the largest share of
PostgreSQL's CPU per single event (docs/benchmarks/postgres-publishing.md, "Where PostgreSQL's time
per single event goes"). At low rates the last claim is older than `gather`, and nothing waits; a
claim that came back larger, or full (the worker claims again at once then), never waits, so a
backlog drains as before; a sole worker (SQLite, `serve`'s own) never gathers.

Pure bookkeeping with no clock: the worker sleeps for `delay()` itself.
"""

from __future__ import annotations

import math
from datetime import datetime

__all__ = ["ClaimPacing"]


class ClaimPacing:
    """The delay before a worker's next claim after a wake-up, from its claims' results."""

    __slots__ = (
        "_at_ceiling",
        "_base",
        "_ceiling",
        "_empty",
        "_gather",
        "_gather_below",
        "_help_after",
        "_last",
        "_oldest_seen",
    )

    def __init__(
        self,
        *,
        base: float,
        ceiling: float,
        help_after: float = 0.0,
        gather: float = 0.0,
        gather_below: int = 0,
    ) -> None:
        """`base` seconds after the first empty claim, doubling to `ceiling`; a `base` of 0
        never delays (a sole worker races nobody). `help_after`: how long the oldest due
        delivery must have waited before a losing worker claims. `gather`: the least time
        between a claim that brought fewer than `gather_below` deliveries (and some) and
        the next."""
        self._base = base
        self._ceiling = ceiling
        self._help_after = help_after
        self._gather = gather
        self._gather_below = gather_below
        self._last = 0  # what the latest claim brought
        # The oldest due time a losing worker read, and when (monotonic) it first read it.
        self._oldest_seen: tuple[datetime, float] | None = None
        self._empty = 0  # claims that found nothing, less two per single delivery found
        # The count at which the delay reaches the ceiling: it is not counted past it.
        doublings = math.ceil(math.log2(ceiling / base)) if 0 < base < ceiling else 0
        self._at_ceiling = 1 + doublings

    @property
    def losing(self) -> bool:
        """Whether this worker's claims lately came back empty: another takes the work."""
        return self._empty > 0 and self._base > 0

    def worth_claiming(self, next_due: datetime | None, *, now: datetime, seen_at: float) -> bool:
        """Whether a losing worker should claim, given the oldest due time it read
        (`next_due`) at `now` (the clock claims use) and `seen_at` (a monotonic clock):
        when something is due and has been for `help_after` seconds, or was already the
        oldest that long ago."""
        if next_due is None or next_due > now:
            self._oldest_seen = None
            return False
        if (now - next_due).total_seconds() >= self._help_after:
            return True
        seen = self._oldest_seen
        if seen is None or seen[0] != next_due:
            self._oldest_seen = (next_due, seen_at)
            return self._help_after <= 0
        return seen_at - seen[1] >= self._help_after

    def claimed(self, count: int) -> None:
        """Notes how many deliveries a claim brought (0 too for a claim not made because
        nothing had waited long enough: `losing` then stays)."""
        self._last = count
        if count > 1:
            self._empty = 0
        elif count == 1:
            self._empty = max(0, self._empty - 2)
        else:  # counted up to the ceiling only: a single one always brings it down
            self._empty = min(self._empty + 1, self._at_ceiling)

    def delay(self, since_claim: float = math.inf) -> float:
        """Seconds to wait after a wake-up before claiming, `since_claim` seconds after the
        latest claim was asked for."""
        if self._empty > 0 and self._base > 0:
            doubled: float = self._base * 2.0 ** (self._empty - 1)
            return min(self._ceiling, doubled)
        if 0 < self._last < self._gather_below:
            return max(0.0, self._gather - since_claim)
        return 0.0
