"""python -m benchmarks.worker_inprocess: the delivery thread's per-delivery path, in process.

What `hookcast serve`'s delivery thread does per delivery (claim, prepare and sign, send
through HookCast's HTTP/1.1 client, conclude, record, every attempt committed), measured
inside one process: the worker `Runtime.worker()` builds for `serve`, on `run_loop` (uvloop,
the collector's settings), start-up settled as `serve` settles it, draining a copy of one
seeded SQLite database into nginx (its own process: `return 204`). Per run, past the first
`--warmup` deliveries (statements compiled, pools opened), until every delivery is recorded:

- the loop thread's CPU time per delivery (`time.thread_time`), and the process's (the
  commit thread's share beside it);
- with `--count`, in runs of their own (counting slows everything down): the Python-level
  calls the loop thread makes per delivery (`sys.setprofile`'s "call" events, coroutine
  resumptions included) and the C functions it calls ("c_call").

`--src DIR` runs another checkout's code (`PYTHONPATH`), alternating with this one's run by
run (`--src` first in odd runs), so the two are compared under the same load; the minimum
of the runs is what is compared. Loopback only, bounded, nginx stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, REPO
from benchmarks.hookcast_setup import SECRET_KEY, Setup
from benchmarks.nginx import Nginx
from benchmarks.procs import Children, measured_child


class _Counting:
    """What runs on the loop thread between the two marks: call counting
    (`sys.setprofile`), cProfile (`profile`: its stats are written there), or neither."""

    def __init__(self, *, count: bool, profile: str | None) -> None:
        self.calls = {"call": 0, "c_call": 0}
        self._count = count and not profile
        self._profile = profile
        self._profiler = cProfile.Profile(time.thread_time) if profile else None

    def _counter(self, frame: Any, event: str, arg: Any) -> None:
        if event in self.calls:
            self.calls[event] += 1

    def start(self) -> None:
        if self._count:
            sys.setprofile(self._counter)
        if self._profiler is not None:
            self._profiler.enable()

    def stop(self) -> None:
        if self._count:
            sys.setprofile(None)
        if self._profiler is not None:
            self._profiler.disable()
            self._profiler.dump_stats(str(self._profile))


_TICK = os.sysconf("SC_CLK_TCK")


def _thread_user_seconds() -> float:
    """This thread's user-mode CPU time (the interpreter's own work; system time is the
    kernel's: the sockets, SQLite's file I/O), from /proc in clock ticks."""
    fields = Path("/proc/thread-self/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / _TICK  # utime: the 14th field, the 12th after the name


def _measure(
    database: str, total: int, warmup: int, count: bool, profile: str | None
) -> dict[str, Any]:
    """One drain of `total` deliveries in this process (the child's side)."""
    from hookcast.cli.loop import run_loop
    from hookcast.cli.runtime import Runtime, settle_heap
    from hookcast.config import Settings

    settings = Settings(
        database_url=f"sqlite:///{database}",
        secret_key=SECRET_KEY,
        allowed_networks="127.0.0.0/8",
        log_level="WARNING",
    )
    counting = _Counting(count=count, profile=profile)

    async def main() -> dict[str, Any]:
        runtime = await Runtime.open(settings)
        worker, sender = runtime.worker()
        settle_heap()
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        marks: list[tuple[int, float, float, float, int, int]] = []
        deadline = time.monotonic() + 300
        for target, then in ((warmup, counting.start), (total, counting.stop)):
            while worker.delivered < target:
                if running.done() or time.monotonic() > deadline:
                    raise RuntimeError(f"{worker.delivered} of {total} recorded")
                await asyncio.sleep(0.002)  # polling, bounded by the deadline
            then()
            calls = counting.calls
            marks.append(
                (
                    worker.delivered,
                    time.thread_time(),
                    _thread_user_seconds(),
                    time.process_time(),
                    calls["call"],
                    calls["c_call"],
                )
            )
        stop.set()
        await running
        await sender.close()
        await runtime.close()
        (d0, t0, u0, p0, c0, cc0), (d1, t1, u1, p1, c1, cc1) = marks
        done = d1 - d0
        counted = count and not profile
        return {
            "deliveries": done,
            "thread_us": round((t1 - t0) / done * 1e6, 2),
            "thread_user_us": round((u1 - u0) / done * 1e6, 2),
            "process_us": round((p1 - p0) / done * 1e6, 2),
            "calls": round((c1 - c0) / done, 1) if counted else None,
            "c_calls": round((cc1 - cc0) / done, 1) if counted else None,
        }

    return run_loop(main())


def _run(
    template: Path,
    work: Path,
    *,
    src: str | None,
    total: int,
    warmup: int,
    count: bool,
    profile: str | None = None,
) -> dict[str, Any]:
    """One drain in a child process on a fresh copy of the seeded database."""
    database = work / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, database)
    args = [
        "--child",
        str(database),
        *("--deliveries", str(total), "--warmup", str(warmup)),
        *(["--count"] if count else []),
        *(["--profile", profile] if profile else []),
    ]
    return measured_child(PYTHON, REPO, "benchmarks.worker_inprocess", args, src=src)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.worker_inprocess", description=__doc__
    )
    parser.add_argument("--deliveries", type=int, default=6000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", action="store_true", help="count calls (separate runs)")
    parser.add_argument("--src", help="the src directory of the code to compare with")
    parser.add_argument("--profile", help="write cProfile stats of one run here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured = _measure(args.child, args.deliveries, args.warmup, args.count, args.profile)
        print(json.dumps(measured))
        return
    work = Path(tempfile.mkdtemp(prefix="hookcast-inprocess-"))
    children = Children(work)
    try:
        nginx = Nginx(children, work)
        template = work / "seeded.db"
        Setup(f"sqlite:///{template}").prepare(nginx.url, backlog=args.deliveries, phase="ip")
        sides = {"this": None} | ({"src": args.src} if args.src else {})
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for number in range(args.runs):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:
                for count in (False, True) if args.count else (False,):
                    result = _run(
                        template,
                        work,
                        src=sides[name],
                        total=args.deliveries,
                        warmup=args.warmup,
                        count=count,
                        profile=args.profile if count else None,
                    )
                    result["side"] = name
                    result["counted"] = count  # its time includes the counting: not compared
                    print(json.dumps(result), flush=True)
                    found[name].append(result)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    for name, results in found.items():
        timed = [row for row in results if not row["counted"]]
        counted = [row["calls"] for row in results if row["calls"] is not None]
        summary = {
            "side": name,
            "thread_us_min": min(row["thread_us"] for row in timed),
            "thread_us_median": statistics.median(row["thread_us"] for row in timed),
            "thread_user_us_min": min(row["thread_user_us"] for row in timed),
            "thread_user_us_median": statistics.median(row["thread_user_us"] for row in timed),
            "process_us_min": min(row["process_us"] for row in timed),
            "calls": min(counted) if counted else None,
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
