"""How a delivery worker is tuned: concurrency, leases, queues per endpoint, recording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# The shortest lease a deployment may configure (config.py): the longest timeout a webhook
# may have (30 s, services/webhooks.py), record_margin_seconds, and 5 s to start in. With a
# shorter one a delivery to a webhook with the longest timeout could never start: every
# claim would hand it back.
MIN_LEASE_SECONDS = 40.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 128  # requests in flight at once, across all endpoints
    endpoint_concurrency: int = 32  # at most this many to one endpoint (halved on 429/503)
    # Leases held at once: requests in flight plus claimed deliveries waiting their turn.
    # A claim is made once no more than half are held, so each claim is one transaction of
    # hundreds of rows rather than many of a few. Keep it at least twice `concurrency`.
    prefetch: int = 1024
    # Claims are fair too (store/fair_claim.py): each first takes up to claim_per_account of
    # every account's due deliveries, then the oldest due of anyone. While the worker may
    # not claim (prefetch held, or the endpoints it has queued for are full), it still
    # claims up to claim_per_account deliveries of accounts it holds none of, an eighth of
    # that per account, each time it wakes (a publish, a release, or every
    # idle_wait_seconds) but at most once per others_claim_interval: wake-ups come with
    # every publish and hand-back, and each such claim is a write.
    claim_per_account: int = 32
    others_claim_interval: float = 0.1
    # Fair share (docs/delivery.md): accounts take turns, and while several wait each may
    # have its share of `concurrency` in flight. An endpoint whose requests take longer than
    # slow_endpoint_seconds gets endpoint_concurrency * slow_endpoint_seconds / latency slots
    # (at least 1); one not measured yet gets new_endpoint_concurrency until its first
    # answer. An account's requests to slow or new endpoints, and everyone's to slow ones,
    # take at most slow_share of `concurrency`: the rest turns over quickly.
    # The bodies of large deliveries under way at once, in bytes (scheduler.py): a large
    # one waits, its account's turn kept, while they would pass it; while several accounts
    # wait, each may have its share of it under way, as of `concurrency`. One always goes,
    # however large; bodies up to 16 KB are neither counted nor held back.
    bytes_in_flight: int = 32 * 1024 * 1024
    slow_endpoint_seconds: float = 1.0
    slow_share: float = 0.5
    new_endpoint_concurrency: int = 4
    # Deliveries should wait for their endpoint at most about lease_seconds * queue_horizon:
    # each endpoint's queue holds what it gets through in that time at its measured latency
    # (at least endpoint_queue). What a claim brings beyond that goes back for
    # busy_endpoint_delay, so other workers and endpoints go first. A delivery still queued
    # after lease_seconds * queue_expiry is handed back the same way instead of sent, and
    # so is one whose request could not end (its webhook's timeout) record_margin_seconds
    # before its lease expires: the outcome must be written while the lease holds, or
    # another claim could send the delivery a second time (outcomes.py writes successes
    # within quiet_flush_seconds; the margin leaves room for a slow write).
    endpoint_queue: int = 64
    queue_horizon: float = 0.25
    queue_expiry: float = 0.5
    record_margin_seconds: float = 5.0
    # A lease outlives the longest timeout (30 s) and the margin with room to start: a
    # worker that dies loses its leases when they expire and another worker sends them
    # again. config.py holds it to at least MIN_LEASE_SECONDS.
    lease_seconds: float = 60.0
    idle_wait_seconds: float = 1.0
    # A worker whose claims after wake-ups come back empty (another worker took the work)
    # waits this long before its next one, doubling up to the maximum (pacing.py): at a low
    # rate the one that lost claims ten times a second, and joins in once a claim finds
    # several (with 0.5 s, p99 from the 202 at 1,000/s was 0.4-0.7 s in two of three
    # rounds against main's 0.07-0.5 s: presumably it joined too late when the other fell
    # behind).
    # An idle worker reads the next due time only after due_reread_seconds without a
    # wake-up, then again each time a wait ends with nothing due (worker.py's _idle); it
    # looks at least every idle_wait_seconds.
    # A worker that lost its last claims reads the oldest due time before it claims again,
    # and claims only once that delivery has waited help_after_seconds (pacing.py): the
    # others are then not keeping up. Kept well under target 4's 30 ms p99 (with 0.05 s, p50
    # from the 202 at 50/s was 25-31 ms on a loaded machine, against 17 ms with 0.01 s).
    empty_claim_backoff_seconds: float = 0.001
    max_empty_claim_backoff_seconds: float = 0.1
    help_after_seconds: float = 0.01
    due_reread_seconds: float = 0.05
    # A worker whose latest claim brought fewer than claim_gather_below deliveries claims
    # again no sooner than claim_gather_seconds after it, so that the publishes committing
    # meanwhile share a claim's fixed cost (pacing.py); after a larger or full claim it
    # claims at once, and a sole worker never waits.
    claim_gather_seconds: float = 0.01
    claim_gather_below: int = 32
    # Outcomes are recorded in one write per interval (or per flush_batch): each write costs
    # ~1.2 ms of the loop's time whatever its size, ~6% of a core at 50 writes/s. An outcome
    # recorded later is only re-sent if the process dies meanwhile (at-least-once): what is
    # in flight or unrecorded is kept under twice the larger of `concurrency` and a write's
    # worth (`unrecorded_bound`), the most a kill -9 sends again. A write's worth is
    # flush_batch, at most twice `concurrency` (256 by default; `concurrency` on SQLite,
    # cli/runtime.py). On PostgreSQL each write also costs the database ~0.6 ms whatever
    # its size (its transaction, the recording statement's start): writes of 256 instead
    # of 128 took a drain's PostgreSQL CPU per delivery to 0.91-0.94x and its statements
    # per delivery from 0.051 to 0.031, for up to 511 deliveries sent again after a kill
    # instead of 255 (docs/benchmarks/postgres-delivery.md, "The recording statement, priced").
    # Successes that make nothing due and change no webhook's standing (not an ordered or
    # coalescing webhook's, not a failing webhook's) may wait quiet_flush_seconds
    # (outcomes.py), so a low rate writes a few times a second.
    flush_interval_seconds: float = 0.05
    quiet_flush_seconds: float = 0.25
    flush_batch: int = 500
    # When nothing may start until outcomes are recorded, those buffered are written beside
    # the write under way rather than after it (outcomes.py): on SQLite, where each write
    # waits its turn behind the API's group commits (`serve`).
    write_ahead: bool = False
    busy_endpoint_delay: timedelta = timedelta(milliseconds=200)
    disable_after: timedelta = timedelta(days=5)
    # A failed attempt this long before the disable publishes webhook_disable_warning.
    disable_warning: timedelta = timedelta(hours=24)
    shutdown_grace_seconds: float = 10.0
    # While deliveries wait in its queues, a worker compares their webhooks with the stored
    # ones every edit_check_seconds (edits.py): an edit made through another process (an
    # API server beside `hookcast worker`) reaches them within about that long. Edits made
    # in its own process (`serve`) reach them as soon as they commit (its API store tells them).
    edit_check_seconds: float = 1.0
    # Every beat_seconds a worker records in the database that it is alive, and takes back
    # the leases of workers that have not beaten for stale_after_seconds: they are sent
    # again within seconds of a crash instead of at their lease's expiry. Keep
    # stale_after_seconds a few beats long (and above the clocks' skew between hosts): a
    # live worker thought dead loses its leases, and what it had sent is sent again.
    beat_seconds: float = 0.5
    stale_after_seconds: float = 2.0
    # The only delivering process (SQLite): a starting worker takes back every other
    # worker's leases at once, for no other worker is alive.
    sole_worker: bool = False


def recording_batch(options: WorkerOptions) -> int:
    """A write's worth of outcomes: `flush_batch`, at most twice `concurrency`."""
    return max(1, min(options.flush_batch, 2 * options.concurrency))


def unrecorded_bound(options: WorkerOptions) -> int:
    """How many deliveries a worker lets be in flight or answered but unrecorded at once: the
    most a kill -9 sends again. Fewer than twice the larger of `concurrency` (every request
    in flight, and as many answered) and the recording batch (one write under way while the
    next fills): 511 by default (255 while writes were of `concurrency`)."""
    return 2 * max(options.concurrency, recording_batch(options)) - 1
