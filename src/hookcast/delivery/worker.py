"""The delivery worker: claim due deliveries in large batches, queue them per endpoint
(scheduler.py), send them concurrently through the send boundary (boundary.py), record the
outcomes in batches (outcomes.py). This loop only wires those together. In `hookcast serve`,
publishes also hand it their deliveries directly (the worker is their `Handoff`): created
leased to it, they skip the claim."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from hookcast.delivery.attempt import conclude, expire
from hookcast.delivery.boundary import build, send_failed
from hookcast.delivery.edits import EditWatch
from hookcast.delivery.gate import Slot
from hookcast.delivery.liveness import DueRead, Liveness, Replaced
from hookcast.delivery.logs import log_attempt
from hookcast.delivery.options import WorkerOptions, unrecorded_bound
from hookcast.delivery.outage import Outage
from hookcast.delivery.outcomes import OutcomeRecorder
from hookcast.delivery.pacing import ClaimPacing
from hookcast.delivery.rate_gate import RateGate
from hookcast.delivery.scheduler import EndpointScheduler, LeaseKey, Start
from hookcast.delivery.worker_ids import new_worker_id, place_here
from hookcast.domain.models import Ordering
from hookcast.heartbeat import Heartbeat
from hookcast.ports import (
    ClaimedDelivery,
    Clock,
    DeliveryObserver,
    DeliveryQueue,
    Lease,
    NoObserver,
    Sender,
    Tracer,
)

__all__ = ["DeliveryWorker", "WorkerOptions"]

_log = logging.getLogger("hookcast.worker")


class DeliveryWorker:
    """Claims from a `DeliveryQueue`, sends through a `Sender`, records back to the queue;
    also the `Handoff` of publishes in its process. `run(stop)` is the whole life."""

    def __init__(
        self,
        queue: DeliveryQueue,
        sender: Sender,
        *,
        clock: Clock,
        options: WorkerOptions | None = None,
        jitter: Callable[[], float] = random.random,
        observer: DeliveryObserver | None = None,
        heartbeat: Heartbeat | None = None,
        tracer: Tracer | None = None,
        database: str = "the database",
    ) -> None:
        """`database`: how the logs name the store when it becomes unavailable."""
        options = options or WorkerOptions()
        self.outage = Outage(_log, database=database)  # claims and heartbeats failing
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._options = options
        self._jitter = jitter
        self._tracer = tracer  # None: not tracing, and no cost for it
        self._scheduler = EndpointScheduler(options)
        self._outcomes = OutcomeRecorder(
            queue,
            clock=clock,
            options=options,
            observer=observer or NoObserver(),
            on_recorded=self._start_ready,
            outage=self.outage,
        )
        # Names this worker's leases in the store; the pid tells people (and the chaos runs)
        # which process holds them, its place another process whether it may still run.
        self.worker_id = new_worker_id(pid=os.getpid(), place=place_here())
        self._liveness = Liveness(
            queue,
            worker_id=self.worker_id,
            clock=clock,
            options=options,
            holding=self.holds_leases,
            outage=self.outage,
            on_beat=self._beat_answered,
        )
        self._started = False  # registered (`start`)
        # Set by run()'s `stop`, or when a sole worker finds it was replaced (`_replaced`).
        self._ending = asyncio.Event()
        self._replaced = False
        self._held_for_beat = False  # _start_ready held starts until the next beat answers
        # Found dead: which queued leases still hold is being asked (`_confirm_leases`);
        # nothing starts meanwhile. `_confirm_again`: found dead again during the ask.
        self._confirming: asyncio.Task[None] | None = None
        self._confirm_again = False
        self._rates = RateGate(
            queue, clock=clock, shared=not options.sole_worker, outage=self.outage
        )
        self._edits = EditWatch(
            queue,
            queued=self._scheduler.queued_webhooks,
            drop=self._hand_back_webhooks,
            period=options.edit_check_seconds,
            outage=self.outage,
        )
        self._in_flight: dict[asyncio.Task[None], Start] = {}
        self._room_freed = asyncio.Event()  # the claim loop may claim again
        self._others_claimed_at = float("-inf")  # loop time of the last _claim_for_others
        # Loop time at which the latest claim was asked for: its leases expire a lease later,
        # whenever its answer comes (scheduler.py starts nothing that could outlast them).
        self._claim_asked_at = 0.0
        self._parking: set[asyncio.Task[None]] = set()  # _park writes under way
        self._waiting_for_room = False
        self._start_queued = False  # a _start_ready is due at the loop's next turn
        # Another worker took what woke this one: claim a little later next time, and only
        # once deliveries wait for longer than the others take (pacing.py).
        self._pacing = ClaimPacing(
            base=0.0 if options.sole_worker else options.empty_claim_backoff_seconds,
            ceiling=options.max_empty_claim_backoff_seconds,
            help_after=options.help_after_seconds,
            gather=0.0 if options.sole_worker else options.claim_gather_seconds,
            gather_below=options.claim_gather_below,
        )
        self._taking = False  # run() is running: publishes may hand deliveries over
        # One token for every delivery handed over by a publish: a lease is a claim on rows
        # by this worker, and a delivery claimed again after its lease expired gets the
        # claimer's fresh token, so this one no longer records anything on it.
        self._handoff_token = secrets.token_hex(16)
        self.heartbeat = heartbeat or Heartbeat()  # read by /readyz

    @property
    def delivered(self) -> int:
        """Attempts recorded; read by tests and metrics."""
        return self._outcomes.delivered

    async def start(self, stop: asyncio.Event | None = None) -> None:
        """Registers this worker and takes back the leases of the dead (`run` does it if
        not done). A sole worker raises AnotherDeliverer, having taken nothing, while
        another worker is alive, and waits for the database until `stop` if it cannot be
        reached (delivery/liveness.py)."""
        if not self._started:
            await self._liveness.start(stop)
            self._started = True

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set, then finishes or releases in-flight work. A sole
        worker that finds another process took over from it (it was stalled) stops on its
        own the same way and raises Replaced (`_beat_answered`)."""
        await self.start(stop)
        relay = asyncio.create_task(_set_when(stop, self._ending), name="hookcast-stop")
        try:
            await self._run_until(self._ending)
        finally:
            relay.cancel()
        if self._replaced:
            raise Replaced("another process took over delivery from this database")

    async def _run_until(self, stop: asyncio.Event) -> None:
        beating = asyncio.create_task(self._liveness.run(stop), name="hookcast-liveness")
        watching = asyncio.create_task(self._edits.run(stop), name="hookcast-edits")
        unwatch = self._queue.watch_edits(self._edits.edited)
        self._outcomes.start()
        self._taking = True
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                room = self._scheduler.room()
                if room <= 0:
                    await self._wait_for_room(stop)
                    self._schedule_claimed(await self._claim_for_others(stop))
                    continue
                claimed = await self._paced_claim(room)
                self._schedule_claimed(claimed)
                if len(claimed) < room:  # nothing more is due now: no need to ask again
                    await self._idle(stop)
        finally:
            self._taking = False
            unwatch()
            if self._confirming is not None:
                self._confirming.cancel()
            self._outcomes.hand_back(self._scheduler.clear())
            await self._drain()
            await asyncio.gather(*self._parking, return_exceptions=True)
            await self._rates.close()
            await self._outcomes.close()
            beating.cancel()
            watching.cancel()
            await asyncio.gather(beating, watching, return_exceptions=True)
            await self._liveness.resign()

    # Handoff: deliveries from publishes in this process

    def lease(self) -> Lease | None:
        """A lease for one publish's deliveries while this worker runs and holds fewer than
        `prefetch`: they are then sent as soon as they are committed, with no claim."""
        room = self._options.prefetch - self._scheduler.held
        if not self._taking or room <= 0:
            return None
        until = self._clock() + timedelta(seconds=self._options.lease_seconds)
        return Lease(token=self._handoff_token, until=until, room=room, worker=self.worker_id)

    def take(self, leased: Sequence[ClaimedDelivery], until: datetime) -> None:
        """Queues committed deliveries created under a lease from `lease()`, which expires
        at `until`. If the worker stopped in between, their leases expire and a worker
        claims them then."""
        if self._taking:
            left = (until - self._clock()).total_seconds()
            lease_ends = asyncio.get_running_loop().time() + left
            self._schedule(leased, lease_ends=lease_ends, handed_over=True)

    async def _claim_for_others(self, stop: asyncio.Event) -> list[ClaimedDelivery]:
        """While the worker may still not claim: a few deliveries of each account it holds
        none of (scheduler.py's `spare_room`), at most once per `others_claim_interval`."""
        loop = asyncio.get_running_loop()
        too_soon = self._others_claimed_at + self._options.others_claim_interval - loop.time()
        if too_soon > 0:
            # Pacing, not synchronisation: a wake-up comes with every publish and release.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), too_soon)
        spare = self._scheduler.spare_room()
        if stop.is_set() or spare <= 0 or self._scheduler.room() > 0:
            return []
        self._others_claimed_at = loop.time()
        per_account = max(1, self._options.claim_per_account // 8)
        holding = self._scheduler.holding()
        return await self._claim(spare, per_account=per_account, holding=holding) or []

    async def _claim(
        self, room: int, *, per_account: int | None = None, holding: set[str] | None = None
    ) -> list[ClaimedDelivery] | None:
        """The deliveries claimed; None if the claim failed (logged, after a pause)."""
        loop = asyncio.get_running_loop()
        if self._options.sole_worker and loop.time() >= self._liveness.sure_until:
            # Its loop stood still: a beat first, which tells whether another process took
            # over meanwhile (`_beat_answered`); replaced, it claims nothing more.
            await self._liveness.read_after(loop.time())
            if self._replaced:
                return []
        self._claim_asked_at = loop.time()
        try:
            claimed = await self._queue.claim_due_deliveries(
                now=self._clock(),
                limit=room,
                lease_seconds=self._options.lease_seconds,
                worker_id=self.worker_id,
                per_account=per_account or self._options.claim_per_account,
                holding=holding,
            )
        except Exception as error:  # the database may be down for a while: back off, go on
            self.outage.failed("claiming deliveries", error)
            await asyncio.sleep(1.0)
            return None
        self.outage.worked()
        return list(claimed)

    async def _paced_claim(self, room: int) -> list[ClaimedDelivery]:
        """A claim, unless this worker is losing and nothing has waited long enough; what
        it brought is noted for the pacing (a claim that failed is not: no race was lost)."""
        if not await self._worth_claiming():
            self._pacing.claimed(0)
            return []
        claimed = await self._claim(room)
        if claimed is not None:
            self._pacing.claimed(len(claimed))
        return claimed or []

    async def _worth_claiming(self) -> bool:
        """Whether to claim now: always, unless this worker's claims lately came back empty
        (another worker takes the work); then only once the oldest due delivery has waited
        `help_after_seconds` (the others are not keeping up, or not claiming at all). That
        read costs PostgreSQL a fifth of an empty claim (pacing.py)."""
        if not self._pacing.losing:
            return True
        try:
            next_due = await self._queue.next_due_at()
        except Exception:  # the database may be down: the claim finds out and logs it
            return True
        seen_at = asyncio.get_running_loop().time()
        return self._pacing.worth_claiming(next_due, now=self._clock(), seen_at=seen_at)

    def _schedule_claimed(self, claimed: Sequence[ClaimedDelivery]) -> None:
        """Schedules what the latest claim brought, under leases taken when it was asked."""
        lease_ends = self._claim_asked_at + self._options.lease_seconds
        self._schedule(claimed, lease_ends=lease_ends)

    def _schedule(
        self, claimed: Sequence[ClaimedDelivery], *, lease_ends: float, handed_over: bool = False
    ) -> None:
        """Queues deliveries leased until loop time `lease_ends` for their endpoints
        (handing back what overflows), then starts what may go now."""
        if claimed:
            self._liveness.took_leases()
            self._edits.filled()
            claimed = self._sendable(claimed, lease_ends=lease_ends, handed_over=handed_over)
        self._enqueue(claimed, lease_ends=lease_ends, handed_over=handed_over)

    def _enqueue(
        self, claimed: Sequence[ClaimedDelivery], *, lease_ends: float, handed_over: bool
    ) -> None:
        now = asyncio.get_running_loop().time()
        overflow = self._scheduler.enqueue(
            claimed, now=now, lease_ends=lease_ends, handed_over=handed_over
        )
        self._outcomes.hand_back(overflow)
        self._start_ready()

    def _sendable(
        self, claimed: Sequence[ClaimedDelivery], *, lease_ends: float, handed_over: bool
    ) -> Sequence[ClaimedDelivery]:
        """`claimed` without what may not be sent as it came, which goes back unsent:
        - the deliveries of webhooks told edited since the claim was asked for or the
          publish took its lease (`lease_ends` less a lease): their copies may predate the
          edit, which the API has answered (edits.py); claimed again, they carry the saved
          webhook;
        - those of a disabled webhook (a walk had not reached them, or a publish raced its
          pause): parked (`_park`), paused with the webhook's others, as the store's one
          rule says (store/pausable.py). A test or example a person sent, "even when it is
          disabled" (services/deliveries.py), stays leased, and is sent once the park has
          said so (or goes back as above if its webhook was edited): the claim does not
          read the mark, so its statement is as it was."""
        edited = self._edits.edited_since(lease_ends - self._options.lease_seconds)
        if not edited and all(item.webhook.enabled for item in claimed):
            return claimed
        keep: list[ClaimedDelivery] = []
        back: list[LeaseKey] = []
        parked: list[ClaimedDelivery] = []
        for item in claimed:
            hook = item.webhook
            if not hook.enabled:
                parked.append(item)
            elif hook.id in edited:
                back.append((item.delivery_id, item.lease_token))
            else:
                keep.append(item)
        self._outcomes.hand_back(back)
        if parked:
            parking = asyncio.create_task(
                self._park(parked, lease_ends=lease_ends, handed_over=handed_over),
                name="hookcast-park",
            )
            self._parking.add(parking)
            parking.add_done_callback(self._parking.discard)
        return keep

    async def _park(
        self, parked: list[ClaimedDelivery], *, lease_ends: float, handed_over: bool
    ) -> None:
        """Parks deliveries claimed with their webhook disabled (rare: a race with a pause),
        then sends those the store kept leased (a person's tests and examples), but for
        those of a webhook told edited since the claim was asked for (or during the park):
        their copy may predate the edit (a new URL or secret), so they go back, as an
        enabled webhook's do (`_sendable`), to be claimed with the saved webhook. If the
        write fails they go back as any lease does, and are parked when claimed again."""
        leases = [(item.delivery_id, item.lease_token) for item in parked]
        try:
            kept = set(await self._queue.park_deliveries(leases))
        except Exception:
            _log.exception("parking the deliveries of a disabled webhook failed")
            self._outcomes.hand_back(leases)
            return
        # After the park's await: an edit told while it ran counts too.
        sent = self._unedited([i for i in parked if i.delivery_id in kept], lease_ends=lease_ends)
        if sent:
            self._enqueue(sent, lease_ends=lease_ends, handed_over=handed_over)

    def _unedited(
        self, claimed: list[ClaimedDelivery], *, lease_ends: float
    ) -> list[ClaimedDelivery]:
        """`claimed` but those of webhooks told edited since the claim was asked for, which
        go back unsent (their copies may predate the edit)."""
        edited = self._edits.edited_since(lease_ends - self._options.lease_seconds)
        stale = [item for item in claimed if item.webhook.id in edited]
        self._outcomes.hand_back([(item.delivery_id, item.lease_token) for item in stale])
        return [item for item in claimed if item.webhook.id not in edited]

    def holds_leases(self) -> bool:
        """Whether leases are held: queued, in flight, or awaiting their write."""
        return bool(self._scheduler.held or self._in_flight or self._outcomes.holding)

    def _start_ready(self) -> None:
        # What is in flight or answered but unrecorded is sent again if this process dies:
        # keep the two together under their bound. Nothing starts while they are at it; the
        # recorder calls back once a write lands.
        bound = unrecorded_bound(self._options)
        room = bound - len(self._in_flight) - self._outcomes.unrecorded
        if room <= 0:
            self._outcomes.write_ahead()  # the bound frees sooner for it (outcomes.py)
            return
        if self._confirming is not None or self._replaced:
            return  # it starts what stays queued once the store has answered
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._liveness.sure_until:
            # This worker may have been found dead (its loop stalled past the others'
            # patience) and its leases taken back: nothing starts until a beat tells
            # (`_beat_answered`). One comparison per call (a batch of starts).
            self._held_for_beat = True
            return
        starts, expired = self._scheduler.ready(now=now, at_most=room)
        if expired:
            self._outcomes.hand_back(expired)
        # The loop's own create_task: asyncio.create_task is a Python function around it
        # that also names the task (two calls per delivery; nothing reads a task's name).
        in_flight, deliver, finished = self._in_flight, self._deliver, self._finished
        for start in starts:
            task = loop.create_task(deliver(*start))
            in_flight[task] = start
            task.add_done_callback(finished)

    def _beat_answered(self, forgotten: bool) -> None:
        """A beat was taken. If this worker had been found dead since the one before, the
        leases it held then were taken back and are sent by others: which of its queued
        deliveries that was is asked first (`_confirm_leases`), nothing starting meanwhile.
        Requests already started finish as they are: their outcomes are refused if their
        leases were taken back (the lease token). Otherwise what was held may start.

        A sole worker found dead was replaced: another process started on the database
        while this one's loop stood still (`start_sole_worker`), and delivers. It stops,
        starting nothing more: what it queued goes back (the other claims it), what it has
        in flight is recorded if its lease still holds (the other left those leases to
        expire: liveness.py), and run() raises Replaced."""
        if forgotten and self._options.sole_worker:
            self._found_replaced()
            return
        if forgotten:
            if self._confirming is None:
                confirming = self._confirm_leases()
                self._confirming = asyncio.create_task(confirming, name="hookcast-confirm")
            else:
                self._confirm_again = True  # the ask under way may predate this take-back
        if self._held_for_beat:
            self._held_for_beat = False
            self._start_ready()

    def _found_replaced(self) -> None:
        if self._replaced:
            return
        self._replaced = True
        self._ending.set()
        _log.error(
            "another process took over delivery from this database while this one stood "
            "still for %.0f s or more (stopped, paused, starved of CPU, a suspended VM): "
            "this worker stops and starts nothing more; %d queued deliveries go back to the "
            "other process, %d requests in flight are recorded if they end before their "
            "leases expire (on SQLite run exactly one delivering process)",
            self._options.stale_after_seconds,
            self._scheduler.held - len(self._in_flight),
            len(self._in_flight),
        )

    async def _confirm_leases(self) -> None:
        """Drops the queued deliveries whose leases no longer hold: those taken back, and
        only those. Dropping the whole queue also dropped what claims and publishes leased
        after the worker was registered again (a claim registers it: store/workers.py),
        released and claimed again for nothing. One read by primary key, once per time the
        worker is found dead; if it fails, the whole queue goes back (a lease kept that was
        taken back would be sent twice; one given back is only claimed again)."""
        try:
            while True:
                self._confirm_again = False
                leases = self._scheduler.queued_leases()
                try:
                    held = await self._queue.still_leased(leases) if leases else ()
                except Exception as error:  # the database may be down: hand back them all
                    self.outage.failed("checking the leases of queued deliveries", error)
                    held = ()
                # What was queued during the read was not asked about: it goes back too.
                dropped = self._scheduler.keep_only(held)
                if dropped:
                    _log.warning("dropped %d queued deliveries, not sent", len(dropped))
                self._outcomes.hand_back(dropped)
                await self._disown(dropped)
                if not self._confirm_again:
                    break
        finally:
            self._confirming = None
        self._start_ready()

    async def _disown(self, dropped: Sequence[tuple[str, str]]) -> None:
        """Takes back the lease losses the take-back counted for `dropped`: never started,
        their sending cannot be what stopped this worker, which is alive. Counted, a worker
        stalled past the others' patience five times with a delivery queued failed it unsent
        ("lost by 5 workers", domain/leases.py) though nothing was wrong with it. Those it
        had in flight stay counted: a send that stalls its worker may be the poison. If the
        store cannot be reached, the losses stay counted (the guard trips sooner, no more)."""
        if not dropped:
            return
        try:
            await self._queue.disown_losses(dropped)
        except Exception as error:  # the database may be down
            self.outage.failed("taking back the lease losses of dropped deliveries", error)

    def _finished(self, task: asyncio.Task[None]) -> None:
        claimed, slot, _ = self._in_flight.pop(task)
        if slot.close():
            # _deliver never ran its `with` (cancelled before its first step, on shutdown):
            # the slot is back now, and the lease goes back as for any cancelled send.
            self._outcomes.hand_back([(claimed.delivery_id, claimed.lease_token)])
        if not self._start_queued:
            # Once per turn of the loop, not once per finished send: the responses read in
            # one turn free their slots together, and one pass over the queues fills them.
            self._start_queued = True
            asyncio.get_running_loop().call_soon(self._start_queued_ready)
        if self._waiting_for_room and self._scheduler.room() > 0:
            self._room_freed.set()

    def _start_queued_ready(self) -> None:
        self._start_queued = False
        self._start_ready()

    async def _deliver(self, claimed: ClaimedDelivery, slot: Slot, latest_start: float) -> None:
        """Sends `claimed` (unless its event expired or its rate limit holds it back) and
        buffers its outcome; not after loop time `latest_start` (scheduler.py)."""
        started_at = self._clock()
        hook = claimed.webhook
        # (expire() is asked only where the webhook sets a time-to-live: a call less.)
        expired = expire(claimed, started_at) if hook.max_age_seconds else None
        if expired is not None:  # its event outlived its time-to-live: not sent
            slot.close()
            log_attempt(expired.report)
            self._outcomes.add(expired)
            return
        if hook.rate_limit is not None:
            if not await self._let_through(claimed, slot, latest_start):
                return
            started_at = self._clock()  # the limit's check may have waited for the store
        trace = self._tracer.attempt(claimed) if self._tracer is not None else None
        # The slot goes back however this ends (try/finally: `with` adds two calls).
        try:
            request, outcome = build(
                claimed,
                started_at=started_at,
                traceparent=trace.traceparent if trace is not None else None,
            )
            try:
                if outcome is None:
                    began = time.perf_counter()
                    try:
                        outcome = await self._sender.send(request)
                    except Exception as error:  # the send boundary (boundary.py)
                        outcome = send_failed(claimed, error, began=began)
            except asyncio.CancelledError:
                # Shutting down mid-send: give the lease back so it is sent again at once.
                self._outcomes.hand_back([(claimed.delivery_id, claimed.lease_token)])
                if trace is not None:
                    trace.finish(None)
                raise
            now = self._clock()
            concluded = conclude(
                claimed,
                request=request,
                outcome=outcome,
                started_at=started_at,
                now=now,
                jitter_sample=self._jitter(),
                disable_after=self._options.disable_after,
                warn_before=self._options.disable_warning,
            )
            slot.learn(concluded.kind, now=now, seconds=outcome.latency_ms / 1000)
        finally:
            slot.close()
        if trace is not None:
            trace.finish(concluded.report)
        log_attempt(concluded.report)
        # Written promptly when recording it may make another delivery due (an ordered or
        # coalescing webhook's next) or a failing webhook's success recovers it (its
        # standing on every page, webhook_recovered).
        prompt = (
            hook.coalesce or hook.ordering is not Ordering.NONE or hook.failing_since is not None
        )
        self._outcomes.add(concluded, prompt=prompt)
        if concluded.applies and concluded.health.disable_reason is not None:
            # Disabled by this outcome (410 Gone, failing too long): what this worker holds
            # queued for the webhook goes back unsent, after the outcome that pauses it.
            self._hand_back_webhooks({hook.id})

    def _hand_back_webhooks(self, webhook_ids: Collection[str]) -> None:
        """What this worker holds queued for these webhooks goes back unsent (edits.py)."""
        self._outcomes.hand_back(self._scheduler.drop_webhooks(webhook_ids))

    async def _let_through(self, claimed: ClaimedDelivery, slot: Slot, latest_start: float) -> bool:
        """Whether a rate-limited delivery goes now: not if its limit holds it back
        (`_held_back`), nor if the limit's check waited for the store past its latest start
        (loop time): sent then, its lease could expire before its outcome is written, and a
        claim send it again. It goes back unsent then (its place in the bucket unused)."""
        if await self._held_back(claimed, slot):
            return False
        if asyncio.get_running_loop().time() > latest_start:
            slot.close()
            self._outcomes.hand_back([(claimed.delivery_id, claimed.lease_token)])
            return False
        return True

    async def _held_back(self, claimed: ClaimedDelivery, slot: Slot) -> bool:
        """Whether the webhook's rate limit holds the delivery back: then it is not sent,
        and its lease goes back due when the limit lets it through (no attempt counted)."""
        until = await self._rates.hold_until(claimed)
        if until is None:
            return False
        slot.close()
        lease = (claimed.delivery_id, claimed.lease_token)
        try:
            await self._queue.release_deliveries([lease], until)
        except Exception:  # the lease then goes back with the next flush, due sooner
            _log.exception("handing back a rate-limited delivery failed")
            self._outcomes.hand_back([lease])
        return True

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing more was due: wait until something may be (`_wait_for_work`); then, if
        this worker's last claims found nothing, or few, a little longer (pacing.py)."""
        await self._wait_for_work(stop)
        delay = self._pacing.delay(asyncio.get_running_loop().time() - self._claim_asked_at)
        if delay and not stop.is_set():
            # Pacing, not synchronisation: the wake-up stays set, the claim follows. Other
            # processes' wake-ups are not read meanwhile: they would change nothing here,
            # and at 50 events/s the losing worker's process was woken by every publish to
            # act on one in five (docs/benchmarks/postgres-low-rates.md, "Wake-ups at low rates and
            # idle").
            with self._queue.holding_wakeups(), contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        """Until a publish or release (the queue's wake-up), a retry recorded by this
        worker, the next due time, or `stop`.

        First for `due_reread_seconds` without reading the next due time: at tens of
        publishes a second the next one wakes the worker before that, and its claim takes
        whatever is due by then (a read on every idle turn was a transaction per two events
        at 50 events/s). Then it sleeps on the due time its beats read (liveness.py
        `read_after`), and on a later beat's whenever a wait ends with nothing due by
        then: an idle worker claims when woken or when something is due (it used to claim
        every `idle_wait_seconds` too), and a due time is always one read after the wait
        began, so none read earlier can hold a claim back. The beat carries the read: idle,
        one round trip a second instead of a beat and a read (docs/benchmarks/postgres-low-rates.md,
        "The idle look in the beat")."""
        retry_recorded = self._outcomes.retry_recorded
        retry_recorded.clear()
        began = asyncio.get_running_loop().time()
        if await self._woken(stop, retry_recorded, self._options.due_reread_seconds):
            return
        self._liveness.looking = True  # its beats read the next due time meanwhile
        try:
            while not stop.is_set():
                # Waiting is this loop's work while idle: it turns at least every
                # idle_wait_seconds, and /readyz reads the heartbeat (a wait that never
                # returned to run() left an idle worker reported stuck after 30 s).
                self.heartbeat.beat()
                read = await self._liveness.read_after(began)
                timeout, due = self._idle_timeout(read)
                if await self._woken(stop, retry_recorded, timeout) or due:
                    return
                began = read.sent_at  # the next look is a later beat's
        finally:
            self._liveness.looking = False

    async def _woken(
        self, stop: asyncio.Event, retry_recorded: asyncio.Event, timeout: float
    ) -> bool:
        """Waits up to `timeout` for a wake-up, a recorded retry or `stop`: whether one came."""
        queue_wait = asyncio.ensure_future(self._queue.wait_for_deliveries(timeout))
        waiters = [queue_wait, asyncio.ensure_future(stop.wait())]
        waiters.append(asyncio.ensure_future(retry_recorded.wait()))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
        woken = queue_wait in done and (queue_wait.exception() is not None or queue_wait.result())
        return woken or stop.is_set() or retry_recorded.is_set()

    def _idle_timeout(self, read: DueRead) -> tuple[float, bool]:
        """How long to wait from now on the due time `read`, and whether something is due
        by then (else the wait ending only means: look at a later beat's read)."""
        longest = self._options.idle_wait_seconds
        if read.failed:  # the database may be down: claim after the wait, as it logs
            return longest, True
        if read.next_due is None:
            return longest, False
        until = (read.next_due - self._clock()).total_seconds()
        return (max(0.01, until), True) if until <= longest else (longest, False)

    async def _wait_for_room(self, stop: asyncio.Event) -> None:
        """Until requests finish and leave room to claim (see _finished), or new deliveries
        may be due (another account's may be claimed then: `_claim_for_others`), bounded so
        that the loop, and its heartbeat, turn even while every slot stays busy."""
        self._room_freed.clear()
        self._waiting_for_room = True
        timeout = self._options.idle_wait_seconds
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._room_freed.wait()),
            asyncio.ensure_future(self._queue.wait_for_deliveries(timeout)),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting_for_room = False
        for waiter in waiters:
            waiter.cancel()

    async def _drain(self) -> None:
        """On shutdown: give in-flight sends a grace period, then cancel the rest; their
        leases are released so another worker sends them at once."""
        if not self._in_flight:
            return
        _, still_running = await asyncio.wait(
            set(self._in_flight), timeout=self._options.shutdown_grace_seconds
        )
        for task in still_running:
            task.cancel()
        await asyncio.gather(*still_running, return_exceptions=True)


async def _set_when(stop: asyncio.Event, ending: asyncio.Event) -> None:
    await stop.wait()
    ending.set()
