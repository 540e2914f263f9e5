"""Per-webhook rate limits on the worker's side: before a rate-limited webhook's delivery is
sent, the queue's bucket for that webhook (shared by every worker: store/delivery_rate.py)
must admit it. One it does not admit is not sent and not failed: its lease goes back, due
when the bucket will let a request through, with no attempt counted.

Webhooks without a rate limit never reach this module (the worker checks
`webhook.rate_limit` first), so their hot path costs nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hookcast.ports import ClaimedDelivery, Clock, DeliveryQueue

__all__ = ["RateGate"]

_log = logging.getLogger("hookcast.worker")
_KEPT = 4096  # webhooks whose last deferral is remembered (bounded: tenants make webhooks)
# Past the bucket's own time, so that float rounding cannot refuse the request again.
_MARGIN = timedelta(milliseconds=1)
_AFTER_ERROR = timedelta(seconds=1)


class RateGate:
    """Asks the queue's shared bucket, and spreads what it holds back."""

    def __init__(self, queue: DeliveryQueue, *, clock: Clock) -> None:
        self._queue = queue
        self._clock = clock
        # The latest due time this worker gave a held-back delivery, per webhook: the next
        # one held back goes one interval later, so a batch held back together comes back
        # at the webhook's rate instead of all at once (and is refused again, but one).
        self._last_deferred: dict[str, datetime] = {}

    async def hold_until(self, claimed: ClaimedDelivery) -> datetime | None:
        """None if the delivery may be sent now (its webhook's bucket counted it); else when
        to try it again."""
        webhook = claimed.webhook
        limit = webhook.rate_limit
        if limit is None:
            return None
        now = self._clock()
        try:
            ready_at = await self._queue.admit_request(webhook.id, limit=limit, now=now)
        except Exception:  # the database may be down for a while: wait, do not send
            _log.exception("admitting a rate-limited delivery failed; trying again shortly")
            ready_at = now + _AFTER_ERROR
        if ready_at is None:
            return None
        return self._spread(webhook.id, ready_at + _MARGIN, interval=1.0 / limit.per_second)

    def _spread(self, webhook_id: str, ready_at: datetime, *, interval: float) -> datetime:
        last = self._last_deferred.get(webhook_id)
        due = ready_at if last is None or last < ready_at else last + timedelta(seconds=interval)
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
