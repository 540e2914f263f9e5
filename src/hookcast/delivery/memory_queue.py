"""A `DeliveryQueue` held in memory: the worker's whole view of the store, for unit tests of
the worker and its scheduler, and for embedding HookCast's delivery without a database.

It keeps the store's lease rules (tests/contract states them for the SQL store): a claim
moves the delivery's due time to the lease's expiry, so a lease neither recorded nor
released simply makes it due again; results and releases apply only while their lease is
held.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hookcast.domain.delivery_rate import admit
from hookcast.domain.health import WebhookHealth
from hookcast.domain.leases import MAX_LEASE_LOSSES, lost_attempt
from hookcast.domain.models import (
    Attempt,
    Delivery,
    DeliveryRateLimit,
    DeliveryStatus,
    Event,
    Webhook,
)
from hookcast.ports import Beat, ClaimedDelivery, DeliveryResult


@dataclass
class _Entry:
    delivery: Delivery
    event: Event
    webhook: Webhook
    worker: str | None = None  # the lease holder's id
    lease_losses: int = 0
    lost_lease: str | None = None  # the token of the lease last taken back (the store's)


class MemoryDeliveryQueue:
    """DeliveryQueue in memory. `add` puts deliveries in; `delivery`, `attempts`, `health`
    and `claimed` tell what the worker made of them."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._tokens = (f"lease-{n}" for n in itertools.count(1))
        self._due = asyncio.Event()
        self.attempts: list[Attempt] = []  # every recorded attempt, in recording order
        self.health: list[WebhookHealth] = []  # every health update, in recording order
        self.claimed = 0  # deliveries handed out by claims, re-claims included
        self.workers: dict[str, datetime] = {}  # worker id: last beat
        self.registered: dict[str, datetime] = {}  # worker id: its registration's first beat
        self._rates: dict[str, float] = {}  # rate-limited webhooks' buckets (their GCRA tat)
        self._webhooks: dict[str, Webhook] = {}  # each webhook as it is now, by id
        self._edit_listeners: list[Callable[[str], None]] = []

    def add(self, *, delivery: Delivery, event: Event, webhook: Webhook) -> None:
        """Queues a pending delivery of `event` to `webhook`, due at its `next_attempt_at`."""
        self._entries[delivery.id] = _Entry(delivery, event, webhook)
        self._webhooks.setdefault(webhook.id, webhook)
        self._due.set()

    def edit_webhook(self, webhook: Webhook, *, now: datetime | None = None) -> None:
        """Saves a change to a webhook, as the API does: later claims hand its deliveries
        out with it, a disabled one's pending deliveries are paused, an enabled one's paused
        deliveries are pending again (due at `now`, as the store's resume makes them, else
        when they were due), and watchers are told."""
        self._webhooks[webhook.id] = webhook
        for entry in self._entries.values():
            if entry.webhook.id != webhook.id:
                continue
            entry.webhook = webhook
            delivery = entry.delivery
            if not webhook.enabled and _is_pending(delivery) and not delivery.by_hand:
                entry.delivery = replace(delivery, status=DeliveryStatus.PAUSED)
            elif webhook.enabled and delivery.status is DeliveryStatus.PAUSED:
                due = delivery.next_attempt_at if now is None else now
                entry.delivery = replace(
                    delivery, status=DeliveryStatus.PENDING, next_attempt_at=due
                )
                self._due.set()
        self._edited(webhook.id)

    def delete_webhook(self, webhook_id: str) -> None:
        """Deletes a webhook with its deliveries, as the API does; watchers are told."""
        self._webhooks.pop(webhook_id, None)
        self._entries = {k: e for k, e in self._entries.items() if e.webhook.id != webhook_id}
        self._edited(webhook_id)

    def delivery(self, delivery_id: str) -> Delivery:
        """The delivery as the worker last left it."""
        return self._entries[delivery_id].delivery

    async def claim_due_deliveries(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        worker_id: str | None = None,
        per_account: int = 0,
        holding: Collection[str] | None = None,
    ) -> Sequence[ClaimedDelivery]:
        """Leases up to `limit` pending deliveries due at `now` to `worker_id`, oldest first,
        after up to `per_account` of each account's (only those, of accounts not in
        `holding`, if given); fails those lost `MAX_LEASE_LOSSES` times."""
        due = sorted(
            (e for e in self._entries.values() if _is_due(e.delivery, now)),
            key=lambda e: (e.delivery.next_attempt_at, e.delivery.created, e.delivery.id),
        )
        shares, rest = _shares(due, per_account)
        if holding is not None:
            shares, rest = [e for e in shares if e.delivery.account_id not in holding], []
        due = (shares + rest)[:limit]
        token = next(self._tokens)
        until = now + timedelta(seconds=lease_seconds)
        for entry in due:
            if entry.delivery.lease_token is not None:  # its lease expired unrecorded
                entry.lease_losses += 1
            entry.delivery = replace(entry.delivery, next_attempt_at=until, lease_token=token)
            entry.worker = worker_id
        lost = [e for e in due if e.lease_losses >= MAX_LEASE_LOSSES]
        for entry in lost:
            self._fail_lost(entry, now)
        due = [e for e in due if e.lease_losses < MAX_LEASE_LOSSES]
        self.claimed += len(due)
        due.sort(key=lambda e: (e.delivery.created, e.delivery.id))
        return [ClaimedDelivery.of(e.delivery, token, e.event, e.webhook) for e in due]

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        """Applies the results whose lease is still held; drops the others."""
        for result in results:
            entry = self._held(result.delivery_id, result.lease_token)
            if entry is None:
                continue
            self.attempts.append(result.attempt)
            entry.delivery = replace(
                entry.delivery,
                status=result.status,
                attempts=result.attempt.number,
                next_attempt_at=result.next_attempt_at or entry.delivery.next_attempt_at,
                completed_at=result.completed_at,
                last_status_code=result.attempt.status_code,
                lease_token=None,
            )
        self.health.extend(health)
        if any(result.status is DeliveryStatus.PENDING for result in results):
            self._due.set()

    async def beat_worker(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        """Registers the worker, or records that it is alive at `now`; with `stale_before`,
        then takes back what the workers silent since held."""
        if worker_id not in self.workers:
            self.registered[worker_id] = now
        self.workers[worker_id] = now
        registered = self.registered[worker_id]
        if stale_before is None:
            return Beat(taken=0, registered=registered)
        taken = await self.take_back_leases(now=now, stale_before=stale_before)
        return Beat(taken=taken, registered=registered)

    async def start_sole_worker(
        self,
        worker_id: str,
        now: datetime,
        *,
        alive_after: datetime,
        running: Callable[[str], bool] | None = None,
    ) -> Beat | datetime:
        """Registers the worker and takes back every other's leases, unless another beat
        at or after `alive_after` (then its latest beat, and nothing changed); the leases
        of those `running` names are unnamed instead, left to expire."""
        others = [seen for w, seen in self.workers.items() if w != worker_id]
        if others and max(others) >= alive_after:
            return max(others)
        stalled = {w for w in self.workers if w != worker_id and running and running(w)}
        expiring = 0
        for entry in self._entries.values():
            if entry.worker in stalled and _is_pending(entry.delivery):
                entry.worker = None
                expiring += 1
        beat = await self.beat_worker(worker_id, now, stale_before=now)
        return replace(beat, expiring=expiring)

    async def beat_and_read_due(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        """`beat_worker`, then `next_due_at`."""
        beat = await self.beat_worker(worker_id, now, stale_before=stale_before)
        return replace(beat, next_due=await self.next_due_at())

    async def resign_worker(self, worker_id: str) -> None:
        """Dates the worker's last beat at the epoch (stale to every look)."""
        if worker_id in self.workers:
            self.workers[worker_id] = datetime.min.replace(tzinfo=UTC)

    async def take_back_leases(self, *, now: datetime, stale_before: datetime) -> int:
        """Forgets workers last seen before `stale_before`; makes pending deliveries leased
        to unregistered workers due at `now`."""
        self.workers = {w: seen for w, seen in self.workers.items() if seen >= stale_before}
        taken = 0
        for entry in self._entries.values():
            leased = entry.delivery.lease_token is not None and entry.worker is not None
            if leased and entry.worker not in self.workers and _is_pending(entry.delivery):
                leased_token = entry.delivery.lease_token
                entry.delivery = replace(entry.delivery, next_attempt_at=now, lease_token=None)
                entry.worker = None
                entry.lease_losses += 1
                entry.lost_lease = leased_token
                taken += 1
        if taken:
            self._due.set()
        return taken

    async def still_leased(self, leases: Sequence[tuple[str, str]]) -> Collection[tuple[str, str]]:
        """Those leases that still hold."""
        return {
            (delivery_id, token) for delivery_id, token in leases if self._held(delivery_id, token)
        }

    async def disown_losses(self, leases: Sequence[tuple[str, str]]) -> None:
        """Takes back the loss counted by `take_back_leases` for each lease still its last."""
        for delivery_id, token in leases:
            entry = self._entries.get(delivery_id)
            if entry is not None and entry.lost_lease == token:
                entry.lease_losses = max(entry.lease_losses - 1, 0)
                entry.lost_lease = None

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        """Gives back held leases unattempted, due at `now`."""
        for delivery_id, token in leases:
            entry = self._held(delivery_id, token)
            if entry is not None:
                entry.delivery = replace(entry.delivery, next_attempt_at=now, lease_token=None)
        if leases:
            self._due.set()

    async def park_deliveries(self, leases: Sequence[tuple[str, str]]) -> Sequence[str]:
        """Gives back held leases unattempted: paused while their webhook is disabled; a
        person's test or example stays leased (its id returned), to be sent."""
        kept: list[str] = []
        for delivery_id, token in leases:
            entry = self._held(delivery_id, token)
            if entry is not None and entry.delivery.by_hand:
                kept.append(delivery_id)
            elif entry is not None:
                current = self._webhooks.get(entry.webhook.id, entry.webhook)
                status = DeliveryStatus.PENDING if current.enabled else DeliveryStatus.PAUSED
                entry.delivery = replace(entry.delivery, status=status, lease_token=None)
        if leases:
            self._due.set()
        return kept

    async def admit_requests(
        self, webhook_id: str, *, limit: DeliveryRateLimit, now: datetime, count: int = 1
    ) -> tuple[int, datetime]:
        """The store's shared bucket, held here: one process, one bucket per webhook."""
        admission = admit(limit, tat=self._rates.get(webhook_id), now=now.timestamp(), count=count)
        if admission.granted:
            self._rates[webhook_id] = admission.tat
        return admission.granted, datetime.fromtimestamp(admission.next_at, UTC)

    async def next_due_at(self) -> datetime | None:
        """The earliest due time of a pending delivery (a leased one's lease expiry)."""
        pending = [
            e.delivery.next_attempt_at
            for e in self._entries.values()
            if e.delivery.status is DeliveryStatus.PENDING
        ]
        return min(pending, default=None)

    async def current_webhooks(self, webhook_ids: Collection[str]) -> Mapping[str, Webhook]:
        """The webhooks as last added or edited; deleted ones missing."""
        return {i: self._webhooks[i] for i in webhook_ids if i in self._webhooks}

    def watch_edits(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """`edit_webhook` and `delete_webhook` call `listener` with the webhook's id."""
        self._edit_listeners.append(listener)
        return lambda: self._edit_listeners.remove(listener)

    async def wait_for_deliveries(self, timeout: float) -> bool:
        """Returns True once deliveries were added, released or retried since the last
        wait, False after `timeout`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        woken = self._due.is_set()
        self._due.clear()
        return woken

    def holding_wakeups(self) -> AbstractContextManager[None]:
        """Nothing to hold: wake-ups come from this process only."""
        return contextlib.nullcontext()

    def _edited(self, webhook_id: str) -> None:
        for listener in list(self._edit_listeners):
            listener(webhook_id)

    def _fail_lost(self, entry: _Entry, now: datetime) -> None:
        attempt = lost_attempt(entry.delivery, losses=entry.lease_losses, now=now)
        self.attempts.append(attempt)
        entry.delivery = replace(
            entry.delivery,
            status=DeliveryStatus.FAILED,
            attempts=attempt.number,
            completed_at=now,
            lease_token=None,
        )
        entry.worker = None

    def _held(self, delivery_id: str, token: str) -> _Entry | None:
        entry = self._entries.get(delivery_id)
        if entry is None or entry.delivery.lease_token != token:
            return None
        return entry if entry.delivery.status is DeliveryStatus.PENDING else None


def _shares(due: list[_Entry], per_account: int) -> tuple[list[_Entry], list[_Entry]]:
    """`due` (oldest first) split into each account's first `per_account` and the rest."""
    if per_account <= 0:
        return [], due
    taken: Counter[str] = Counter()
    shares: list[_Entry] = []
    rest: list[_Entry] = []
    for entry in due:
        account = entry.delivery.account_id
        taken[account] += 1
        (shares if taken[account] <= per_account else rest).append(entry)
    return shares, rest


def _is_due(delivery: Delivery, now: datetime) -> bool:
    return _is_pending(delivery) and delivery.next_attempt_at <= now


def _is_pending(delivery: Delivery) -> bool:
    return delivery.status is DeliveryStatus.PENDING
