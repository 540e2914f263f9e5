"""python -m benchmarks.durable_stairs: from the durable peer up to HookCast's worker, one of
HookCast's parts swapped in at a time, the CPU per delivery after each (target 3's
thirteenth pass, docs/benchmarks/embedded-delivery.md).

The durable peer (benchmarks/durable_floor.py, `--wire hookcast`) costs a third of what
`serve` does per delivery into the same nginx; ablation (the ninth pass) found no one piece of
HookCast that makes the difference. This climbs the other way. Each step is the one before
with one more of HookCast's real parts in place of the peer's:

- `peer`: durable_floor's drain as it is (its own narrow SQLite file, 32 lanes);
- `claim`: HookCast's database and its claim (`claim_due_deliveries`, its carriers); the
  peer's render from the claimed event, its minimal connection, and a narrow recording (the
  delivery's row by rowid, an attempt row in a table of the peer's shape) on its own
  connection and thread, 128 a transaction, as the peer records;
- `attempt`: + `prepare` and `conclude` (delivery/boundary.py `build`, delivery/attempt.py)
  instead of the peer's render; the narrow recording reads the concluded result;
- `record`: + HookCast's recording: the `OutcomeRecorder` (flusher, batches, the commit's
  hand-off to the store's thread) and `record_results`;
- `http`: + HookCast's HTTP client (`HttpSender.send`: pool, slots, timeouts) instead of the
  minimal connection;
- `worker`: + the scheduler, gate, throttle and a task per delivery: `DeliveryWorker` as
  `Runtime.worker()` builds it, with no metrics observer;
- `serve`: + metrics: the worker `Runtime.worker()` builds (benchmarks/worker_inprocess.py).

Every step runs in a child process of its own on a fresh copy of one seeded database (the
peer on its own), under `run_loop` (uvloop, the collector's settings) with start-up settled
(`settle_heap`); measured past the first `--warmup` deliveries recorded until the last: the
loop thread's CPU (`time.thread_time`), the process's, and the cyclic collector's
collections (per generation) and their time (`gc.callbacks`). `--gc off` disables the
collector after start-up instead, `--gc default` leaves Python's thresholds (700).
The order of the steps rotates round by round. Loopback only; nginx stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson

from benchmarks import durable_floor
from benchmarks.config import PYTHON, REPO
from benchmarks.hookcast_setup import SECRET_KEY, Setup
from benchmarks.nginx import Nginx
from benchmarks.procs import Children, measured_child

STEPS = ("peer", "claim", "attempt", "record", "http", "worker", "serve")
_LANES = 32  # endpoint_concurrency's default: what the worker has in flight to one endpoint
_RECORD = 128  # outcomes per narrow recording, as the peer records
PEER_SECRET = "whsec_cGVlci1zZWNyZXQtZm9yLXRoZS1zdGFpcnM="


class _GcMeter:
    """The collector's collections per generation and the thread CPU they took."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = 0.0
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
        else:
            self.counts[info["generation"]] += 1
            self.seconds += time.thread_time() - self._began

    def snapshot(self) -> tuple[int, int, int, float]:
        return (*self.counts, self.seconds)  # type: ignore[return-value]


class _NarrowRecorder:
    """The peer's recording on HookCast's database: each delivery's row by the rowid its
    claim returned, an attempt row in a narrow table of the peer's shape, 128 a transaction
    on a connection and thread of its own."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS floor_attempts (delivery_id INTEGER NOT NULL,"
            " number INTEGER NOT NULL, started INTEGER NOT NULL, code INTEGER NOT NULL,"
            " latency_us INTEGER NOT NULL, PRIMARY KEY (delivery_id, number)) WITHOUT ROWID"
        )
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._pending: list[tuple[int, int, int, int]] = []
        self._writes: set[asyncio.Future[None]] = set()
        self.recorded = 0

    def add(self, rowid: int, started: int, code: int, latency: int) -> None:
        self._pending.append((rowid, started, code, latency))
        if len(self._pending) >= _RECORD:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        write = asyncio.get_running_loop().run_in_executor(self._thread, self._write, batch)
        self._writes.add(write)
        write.add_done_callback(self._written)

    def _written(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        write.result()

    def _write(self, batch: list[tuple[int, int, int, int]]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "UPDATE deliveries SET status = 'succeeded', attempts = attempts + 1,"
            " lease_token = NULL, lease_worker = NULL, last_status_code = ?,"
            " completed_at = ? WHERE rowid = ?",
            [(code, started + latency, rowid) for rowid, started, code, latency in batch],
        )
        db.executemany("INSERT INTO floor_attempts VALUES (?, 1, ?, ?, ?)", batch)
        db.execute("COMMIT")
        self.recorded += len(batch)

    async def close(self) -> None:
        self.flush()
        while self._writes:
            await asyncio.gather(*self._writes)
        self._thread.shutdown()
        self._db.close()


def _micros() -> int:
    return time.time_ns() // 1000


async def _lanes(
    lanes: int,
    claim: Callable[[], Awaitable[list[Any]]],
    one: Callable[[Any, int], Awaitable[None]],
) -> None:
    """`lanes` coroutines taking claimed deliveries in turn (lane number passed to `one`),
    claiming again, one claim at a time, when they run out: the peer's drain."""
    claimed: deque[Any] = deque()
    claiming = asyncio.Lock()
    drained = False

    async def refilled() -> bool:
        nonlocal drained
        async with claiming:
            if not claimed and not drained:
                rows = await claim()
                claimed.extend(rows)
                drained = not rows
        return bool(claimed)

    async def lane(number: int) -> None:
        while claimed or await refilled():
            await one(claimed.popleft(), number)

    await asyncio.gather(*(lane(number) for number in range(lanes)))


def _peer_render(claimed: Any) -> tuple[dict[str, str], bytes]:
    """durable_floor's render (`--wire hookcast`) from a claimed HookCast event."""
    from hookcast.domain.signing import delivery_signer

    webhook = claimed.webhook  # the claim's one carrier holds the event's values too
    body = orjson.dumps(
        {
            "event": claimed.type,
            "event_id": claimed.event_id,
            "media_id": claimed.resource_ids.get("media_id"),
            "webhook_id": webhook.id,
            "site_id": claimed.site_id,
            "event_time": datetime.now(UTC).isoformat(),
            "data": claimed.data,
        }
    )
    signer = delivery_signer([webhook.secret])
    return signer.headers(body, claimed.event_id, int(time.time())), body


Mark = tuple[int, float, float, tuple[int, int, int, float], int]


class _Marks:
    """The clocks at the warm-up's end and at the last delivery recorded."""

    def __init__(self, warmup: int, total: int) -> None:
        self._targets = (warmup, total)
        self.gc = _GcMeter()
        self.taken: list[Mark] = []

    async def watch(self, recorded: Callable[[], int], running: asyncio.Future[Any]) -> None:
        deadline = time.monotonic() + 300
        for target in self._targets:
            while recorded() < target:
                if running.done():
                    running.result()  # its error, if it failed
                    raise RuntimeError(f"{recorded()} of {self._targets[1]} recorded")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{recorded()} of {self._targets[1]} recorded")
                await asyncio.sleep(0.002)  # polling, bounded by the deadline
            tracked = len(gc.get_objects()) if target == self._targets[0] else 0
            self.taken.append(
                (recorded(), time.thread_time(), time.process_time(), self.gc.snapshot(), tracked)
            )

    def result(self) -> dict[str, Any]:
        (d0, t0, p0, g0, tracked), (d1, t1, p1, g1, _) = self.taken
        done = d1 - d0
        return {
            "deliveries": done,
            "thread_us": round((t1 - t0) / done * 1e6, 2),
            "process_us": round((p1 - p0) / done * 1e6, 2),
            "gc_per_1000": [round((g1[i] - g0[i]) / done * 1000, 2) for i in range(3)],
            "gc_us": round((g1[3] - g0[3]) / done * 1e6, 2),
            "tracked_at_warmup": tracked,
        }


def _settler(gc_mode: str) -> Callable[[], None]:
    """What runs once start-up is done: `settle_heap`, as `serve` does, then the
    collector as `--gc` says."""
    from hookcast.cli.runtime import settle_heap

    def settle() -> None:
        settle_heap()
        if gc_mode == "off":
            gc.disable()
        elif gc_mode == "default":
            gc.set_threshold(700, 10, 10)

    return settle


async def _peer(database: str, url: str, marks: _Marks, settle: Callable[[], None]) -> None:
    """durable_floor's drain, as it is, counted as it commits."""
    store = durable_floor._Store(Path(database))
    recorded = [0]
    record = store.record

    async def counted(outcomes: list[durable_floor.Outcome]) -> None:
        await record(outcomes)
        recorded[0] += len(outcomes)

    store.record = counted  # type: ignore[method-assign]
    senders, close = await durable_floor._raw_senders(url + "/hook/0", _LANES)
    work = durable_floor._Drain(store, durable_floor.renderer("hookcast", PEER_SECRET))
    settle()

    async def run() -> None:
        await work.run(senders)
        await close()
        store.close()

    running = asyncio.ensure_future(run())
    await marks.watch(lambda: recorded[0], running)
    await running


async def _hookcast(
    step: str, database: str, url: str, marks: _Marks, settle: Callable[[], None], prefetch: int
) -> None:
    """The steps on HookCast's database: lanes (`_climb`) or a worker."""
    from hookcast.bootstrap import utc_now
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings
    from hookcast.delivery.worker import DeliveryWorker
    from hookcast.ports import NoObserver

    settings = Settings(
        database_url=f"sqlite:///{database}",
        secret_key=SECRET_KEY,
        allowed_networks="127.0.0.0/8",
        log_level="WARNING",
    )
    runtime = await Runtime.open(settings)
    worker, sender = runtime.worker()
    options = worker._options
    if prefetch:
        options = replace(options, prefetch=prefetch)
    if step == "worker" or (step == "serve" and prefetch):
        observer = NoObserver() if step == "worker" else runtime.metrics
        worker = DeliveryWorker(
            runtime.store, sender, clock=utc_now, options=options, observer=observer
        )
    if step in ("worker", "serve"):
        settle()
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        await marks.watch(lambda: worker.delivered, running)
        stop.set()
        await running
    else:
        await _climb(step, runtime.store, options, sender, database, url, settle, marks)
    await sender.close()
    await runtime.close()


def _measure(
    step: str, database: str, url: str, total: int, warmup: int, gc_mode: str, prefetch: int
) -> dict[str, Any]:
    """One drain of `step` (the child's side)."""
    from hookcast.cli.loop import run_loop

    marks = _Marks(warmup, total)
    settle = _settler(gc_mode)
    if step == "peer":
        run_loop(_peer(database, url, marks, settle))
    else:
        run_loop(_hookcast(step, database, url, marks, settle, prefetch))
    return {"step": step, "gc": gc_mode, "prefetch": prefetch} | marks.result()


Send = Callable[[Any, Any, int], Awaitable[None]]


def _sends(step: str, store: Any, options: Any, sender: Any, database: str) -> Any:
    """What each lane does with a claimed delivery at `step`, and what it records to."""
    from hookcast.bootstrap import utc_now
    from hookcast.delivery.attempt import conclude
    from hookcast.delivery.boundary import build
    from hookcast.delivery.outcomes import OutcomeRecorder
    from hookcast.ports import NoObserver, SendOutcome

    if step in ("claim", "attempt"):
        recording: Any = _NarrowRecorder(database)
    else:
        recording = OutcomeRecorder(store, clock=utc_now, options=options, observer=NoObserver())
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    async def peer_wire(claimed: Any, send: durable_floor.Send) -> None:
        started = _micros()
        headers, body = _peer_render(claimed)
        code = await send(headers, body)
        recording.add(claimed.row, started, code, _micros() - started)

    async def hookcast_wire(claimed: Any, send: durable_floor.Send) -> None:
        started_at = utc_now()
        request, _ = build(claimed, started_at=started_at)
        began = time.perf_counter()
        if step == "attempt" or step == "record":
            code = await send(cast(dict[str, str], request.headers), request.body)
            latency_ms = (time.perf_counter() - began) * 1e3
            outcome = SendOutcome(status_code=code, latency_ms=latency_ms)
        else:
            outcome = await sender.send(request)
        concluded = conclude(
            claimed,
            request=request,
            outcome=outcome,
            started_at=started_at,
            now=utc_now(),
            jitter_sample=random.random(),
            disable_after=options.disable_after,
            warn_before=options.disable_warning,
        )
        if step == "attempt":
            result = concluded.result
            started = (result.attempt.started_at - epoch) // timedelta(microseconds=1)
            code = outcome.status_code or 0
            recording.add(result.row, started, code, int(outcome.latency_ms * 1e3))
        else:
            recording.add(concluded)

    return (peer_wire if step == "claim" else hookcast_wire), recording


async def _climb(
    step: str,
    store: Any,
    options: Any,
    sender: Any,
    database: str,
    url: str,
    settle: Callable[[], None],
    marks: _Marks,
) -> None:
    """The steps between the peer and the worker: the peer's lanes over HookCast's claim."""
    from hookcast.bootstrap import utc_now

    worker_id = "stairs-1"
    await store.beat_worker(worker_id, utc_now())

    async def claim() -> list[Any]:
        claimed = await store.claim_due_deliveries(
            now=utc_now(),
            limit=options.prefetch,
            lease_seconds=options.lease_seconds,
            worker_id=worker_id,
            per_account=options.claim_per_account,
        )
        return list(claimed)

    deliver, recording = _sends(step, store, options, sender, database)
    senders, close = await durable_floor._raw_senders(url + "/hook/0", _LANES)

    async def one(claimed: Any, lane: int) -> None:
        await deliver(claimed, senders[lane])

    narrow = isinstance(recording, _NarrowRecorder)
    settle()
    if not narrow:
        recording.start()

    async def run() -> None:
        await _lanes(_LANES, claim, one)
        await recording.close()
        await close()

    running = asyncio.ensure_future(run())
    if narrow:
        await marks.watch(lambda: recording.recorded, running)
    else:
        await marks.watch(lambda: recording.delivered, running)
    await running


def _run(step: str, template: Path, work: Path, args: argparse.Namespace, url: str) -> Any:
    """One drain in a child process on a fresh copy of `template`."""
    database = work / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, database)
    child = [
        *("--child", step, "--database", str(database), "--url", url),
        *("--deliveries", str(args.deliveries), "--warmup", str(args.warmup), "--gc", args.gc),
        *("--prefetch", str(args.prefetch)),
    ]
    return measured_child(PYTHON, REPO, "benchmarks.durable_stairs", child, src=None)


def _rounds(args: argparse.Namespace) -> dict[str, list[Any]]:
    """Every step in every round, the order rotating round by round."""
    steps = args.steps.split(",")
    work = Path(tempfile.mkdtemp(prefix="hookcast-stairs-"))
    children = Children(work)
    found: dict[str, list[Any]] = {step: [] for step in steps}
    try:
        nginx = Nginx(children, work)
        hookcast_db, peer_db = work / "seeded.db", work / "peer.db"
        Setup(f"sqlite:///{hookcast_db}").prepare(nginx.url, backlog=args.deliveries, phase="st")
        durable_floor.seed(peer_db, args.deliveries, "st", wire="hookcast")
        for number in range(args.rounds):
            shift = number % len(steps)
            order = steps[shift:] + steps[:shift]
            for step in reversed(order) if args.reverse else order:
                template = peer_db if step == "peer" else hookcast_db
                result = _run(step, template, work, args, nginx.url)
                result["round"] = number + 1
                print(json.dumps(result), flush=True)
                found[step].append(result)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.durable_stairs", description=__doc__
    )
    parser.add_argument("--deliveries", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--reverse", action="store_true", help="each round's order reversed")
    parser.add_argument("--gc", choices=("hookcast", "off", "default"), default="hookcast")
    parser.add_argument("--prefetch", type=int, default=0, help="the worker's (0: as built)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured = _measure(
            args.child,
            args.database,
            args.url,
            args.deliveries,
            args.warmup,
            args.gc,
            args.prefetch,
        )
        print(json.dumps(measured))
        return
    for step, results in _rounds(args).items():
        summary = {
            "step": step,
            "process_us": [row["process_us"] for row in results],
            "process_us_median": statistics.median(row["process_us"] for row in results),
            "thread_us": [row["thread_us"] for row in results],
            "gc_us": [row["gc_us"] for row in results],
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
