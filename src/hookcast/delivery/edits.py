"""Edits of webhooks reaching the deliveries a worker already holds queued.

A claim (or a publish's hand-over) gives each delivery its webhook as it was then, and the
delivery may wait in its endpoint's queue (scheduler.py) for up to half a lease. A webhook
edited, disabled or deleted meanwhile must not get them as it was: its queued deliveries
are handed back unattempted instead (their leases released, as the store's rules say: an
enabled webhook's are due again at once and claimed with the webhook as it is now, a
disabled one's stay paused, a deleted one's are gone with it). What is in flight stays.

Two ways to learn of an edit:
- told (`edited`): the worker's store calls it once an edit made through it committed,
  or one made through `serve`'s API store, which forwards its edits to the delivery
  thread's store (cli/delivery_thread.py), reaching the worker on its next turn; a claim
  under way then, or a publish's hand-over in `serve`, may bring copies read before the
  edit, which are not queued yet: the worker hands those back as it receives them
  (`edited_since`);
- looked for (`run`): every `edit_check_seconds` while deliveries wait, their webhooks are
  read again (one statement on PostgreSQL while nothing changed: store/claimed_webhooks.py)
  and compared; this finds edits made by other processes within about that period. While
  none wait, it sleeps with no timer until some are queued (`filled`): an idle worker's
  loop woke every second for it to find nothing (docs/benchmarks/postgres-low-rates.md, "The idle
  look in the beat").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from operator import attrgetter

from hookcast.delivery.outage import Outage
from hookcast.delivery.waiting import first_of
from hookcast.domain.models import Webhook
from hookcast.ports import DeliveryQueue

__all__ = ["EditWatch", "is_outdated"]

_log = logging.getLogger("hookcast.worker")


def is_outdated(claimed: Webhook, current: Webhook | None) -> bool:
    """Whether a delivery claimed with `claimed` may no longer be sent with it: the webhook
    was deleted (`current` None), disabled, or changed in anything but its standing (what
    recording attempts writes: last success, failing since, last error, next retry)."""
    if current is None or not current.enabled:
        return True
    return _settings(current) != _settings(claimed)


# Every field a request or its outcome is made from: the webhook's equality without the
# standing, plus the account's Flowplayer secret (read with it, left out of its equality).
# One tuple each, compared at once: a `replace` and a dataclass comparison per queued
# webhook cost ~30 µs each, 3 ms a look at 100 webhooks.
_settings = attrgetter(
    *(
        name
        for name, spec in Webhook.__dataclass_fields__.items()
        if spec.compare and name not in {"last_success", "failing_since"}
    ),
    "organization_secret",
)


class EditWatch:
    """Hands back the queued deliveries of webhooks edited since they were claimed."""

    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        queued: Callable[[], list[Webhook]],
        drop: Callable[[Collection[str]], None],
        period: float,
        outage: Outage | None = None,
    ) -> None:
        """`queued()`: the webhooks the queued deliveries were claimed with; `drop(ids)`:
        hands back those webhooks' queued deliveries; `period`: seconds between looks."""
        self._queue = queue
        self._queued = queued
        self._drop = drop
        self._period = period
        self._outage = outage or Outage(_log)  # where failed reads are said
        # Webhook id: loop time of its latest edit told, oldest first, kept _TOLD_FOR.
        self._told: OrderedDict[str, float] = OrderedDict()
        self._filled = asyncio.Event()  # deliveries were queued (`filled`)

    def filled(self) -> None:
        """Deliveries were queued: if none were, `run` looks at them a period from now."""
        self._filled.set()

    def edited(self, webhook_id: str) -> None:
        """The store committed an edit or deletion of the webhook: no need to compare."""
        told = self._told
        now = asyncio.get_running_loop().time()
        told[webhook_id] = now
        told.move_to_end(webhook_id)
        while next(iter(told.values())) < now - _TOLD_FOR:
            told.popitem(last=False)
        self._drop({webhook_id})

    def edited_since(self, at: float) -> set[str]:
        """The webhooks told edited at or after loop time `at` (from the latest back, so a
        tenant's stream of edits costs a claim only those made while it was under way).
        Deliveries brought by a claim asked for then, or handed over by a publish leased
        then, may carry copies read before such an edit committed; `edited` found nothing
        of them to drop (they were not queued yet), so the worker hands them back as it
        receives them."""
        edited: set[str] = set()
        for webhook_id, told_at in reversed(self._told.items()):
            if told_at < at:
                break
            edited.add(webhook_id)
        return edited

    async def run(self, stop: asyncio.Event) -> None:
        """Looks for edits every period until `stop`."""
        while not stop.is_set():
            # Pacing, not synchronisation: the period bounds how stale a queued copy gets.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._period)
            if not stop.is_set() and not await self.look():
                # Nothing was queued, and nothing can have been since: `look` found that
                # without yielding to the loop. Until some are, no timer.
                self._filled.clear()
                await first_of(stop, self._filled)

    async def look(self) -> bool:
        """Compares the queued deliveries' webhooks with the stored ones once; whether any
        deliveries were queued."""
        claimed = self._queued()
        if not claimed:
            return False
        try:
            current = await self._queue.current_webhooks({hook.id for hook in claimed})
        except Exception as error:  # the database may be down: the next period looks again
            self._outage.failed("reading the queued deliveries' webhooks", error)
            return True
        self._outage.worked()
        self._drop(_outdated(claimed, current))
        return True


# How long an edit told is kept for edited_since: longer than a claim or a publish takes,
# and than the shortest lease (what it brought is claimed afresh after that anyway).
_TOLD_FOR = 120.0


def _outdated(claimed: list[Webhook], current: Mapping[str, Webhook]) -> set[str]:
    return {hook.id for hook in claimed if is_outdated(hook, current.get(hook.id))}
