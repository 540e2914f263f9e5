"""Per-webhook rate limits on the worker's side: before a rate-limited webhook's delivery is
sent, the queue's bucket for that webhook (shared by every worker: store/delivery_rate.py)
must admit it. One it does not admit is not sent and not failed: its lease goes back, due
when the bucket will let a request through, with no attempt counted.

The deliveries of one webhook that ask in the same turn of the event loop (the scheduler
starts many at once) are admitted together, in one transaction: the decision is the same as
admitting them one by one at that instant, for a fraction of the writes.

A sole worker (SQLite, where one process delivers: WorkerOptions.sole_worker) keeps the
buckets in its own memory instead: nobody else sends, so nothing needs sharing, and a
decision costs no transaction (which on SQLite waits for its one writer). A restart starts
with full buckets: at most one extra burst.

Webhooks without a rate limit never reach this module (the worker checks
`webhook.rate_limit` first), so their hot path costs nothing more.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime, timedelta

from hookcast.delivery.outage import Outage
from hookcast.domain.delivery_rate import admit
from hookcast.domain.models import DeliveryRateLimit
from hookcast.ports import ClaimedDelivery, Clock, DeliveryQueue

__all__ = ["RateGate"]

_log = logging.getLogger("hookcast.worker")
# Webhooks whose own bucket and last deferral are kept (bounded: tenants make webhooks).
_KEPT = 4096
# Past the bucket's own time, so that float rounding cannot refuse the request again.
_MARGIN = timedelta(milliseconds=1)
_AFTER_ERROR = timedelta(seconds=1)

_Waiter = asyncio.Future[datetime | None]


class RateGate:
    """Asks the queue's shared bucket, in batches per webhook, and spreads what it holds
    back."""

    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        clock: Clock,
        shared: bool = True,
        outage: Outage | None = None,
    ) -> None:
        self._queue = queue
        self._outage = outage or Outage(_log)  # where failed admissions are said
        self._clock = clock
        # None: the queue's buckets, shared by every worker; else this worker's own: per
        # webhook, the limit its tat was counted under and the tat. A bucket emptied under
        # a slower limit is not the raised limit's (0.01/s with a burst of 1,000 leaves its
        # tat a day ahead): another limit starts a full bucket, in the webhook's one entry.
        self._own: dict[str, tuple[DeliveryRateLimit, float]] | None = None if shared else {}
        self._asking: dict[str, list[_Waiter]] = {}  # per webhook: the batch being formed
        self._batches: set[asyncio.Task[None]] = set()  # referenced until done
        # The latest due time this worker gave a held-back delivery, per webhook: the next
        # one held back goes one interval later, so a batch held back together comes back
        # at the webhook's rate instead of all at once (and is refused again, but one).
        self._last_deferred: dict[str, datetime] = {}

    async def hold_until(self, claimed: ClaimedDelivery) -> datetime | None:
        """None if the delivery may be sent now (its webhook's bucket counted it); else when
        to try it again."""
        webhook = claimed.webhook
        if webhook.rate_limit is None:
            return None
        if self._own is not None:
            return self._admit_here(webhook.id, webhook.rate_limit)
        waiter: _Waiter = asyncio.get_running_loop().create_future()
        batch = self._asking.get(webhook.id)
        if batch is None:
            batch = self._asking[webhook.id] = []
            task = asyncio.create_task(self._admit(webhook.id, webhook.rate_limit))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        batch.append(waiter)
        return await waiter

    def kept(self) -> int:
        """How many webhooks' buckets this worker keeps itself (0: the queue keeps them)."""
        return len(self._own or ())

    async def close(self) -> None:
        """Waits for the admissions under way (before the queue they use is closed)."""
        await asyncio.gather(*self._batches, return_exceptions=True)

    async def _admit(self, webhook_id: str, limit: DeliveryRateLimit) -> None:
        # Runs after the current turn of the loop: every delivery of this webhook started
        # in it has joined the batch by then.
        await asyncio.sleep(0)
        waiters = self._asking.pop(webhook_id)
        now = self._clock()
        try:
            granted, next_at = await self._queue.admit_requests(
                webhook_id, limit=limit, now=now, count=len(waiters)
            )
        except Exception as error:  # the database may be down for a while: wait, do not send
            self._outage.failed("admitting rate-limited deliveries", error)
            granted, next_at = 0, now + _AFTER_ERROR
        else:
            self._outage.worked()
        interval = timedelta(seconds=1.0 / limit.per_second)
        for number, waiter in enumerate(waiters):
            if waiter.done():  # cancelled (shutting down): its grant, if any, goes unused
                continue
            if number < granted:
                waiter.set_result(None)
            else:
                waiter.set_result(self._spread(webhook_id, next_at + _MARGIN, interval))

    def _admit_here(self, webhook_id: str, limit: DeliveryRateLimit) -> datetime | None:
        assert self._own is not None
        now = self._clock()
        kept = self._own.pop(webhook_id, None)  # put back last: the least recent go first
        tat = kept[1] if kept is not None and kept[0] == limit else None
        admission = admit(limit, tat=tat, now=now.timestamp())
        if admission.granted:
            if len(self._own) >= _KEPT:
                self._forget_full(now.timestamp())
            self._own[webhook_id] = (limit, admission.tat)
            return None
        if kept is not None:
            self._own[webhook_id] = kept
        next_at = datetime.fromtimestamp(admission.next_at, UTC)
        return self._spread(webhook_id, next_at + _MARGIN, timedelta(seconds=1 / limit.per_second))

    def _forget_full(self, now: float) -> None:
        """Drops the buckets that are full again (their tat is past): forgetting one
        changes no decision, since a missing bucket is a full one. If that frees less than
        half, the least recently admitted go too, down to half: each of those may send one
        burst more, as after a restart. Unbounded, buckets still filling were kept for
        ever, and every admission of a new webhook (or of a new limit, which was a key of
        its own) scanned them all on the event loop: an editor changing a webhook's limit
        in a loop grew them without end and the worker's loop spent ever more time on the
        scan (attack 10)."""
        assert self._own is not None
        for webhook_id, (_, tat) in list(self._own.items()):
            if tat <= now:
                del self._own[webhook_id]
        excess = len(self._own) - _KEPT // 2
        if excess > 0:
            for webhook_id in list(itertools.islice(self._own, excess)):
                del self._own[webhook_id]

    def _spread(self, webhook_id: str, ready_at: datetime, interval: timedelta) -> datetime:
        last = self._last_deferred.get(webhook_id)
        due = ready_at if last is None or last < ready_at else last + interval
        if len(self._last_deferred) >= _KEPT:
            self._forget_past()
        self._last_deferred[webhook_id] = due
        return due

    def _forget_past(self) -> None:
        now = self._clock()
        for webhook_id, due in list(self._last_deferred.items()):
            if due <= now:
                del self._last_deferred[webhook_id]
        if len(self._last_deferred) >= _KEPT:
            self._last_deferred.clear()  # every one in the future: a spread is only a hint
