"""python -m benchmarks.drain: one HookCast drain, for profiling and before/after checks.

Seeds N pending deliveries, starts `hookcast serve` on SQLite (or, with --postgres URL,
`serve --no-worker` plus --workers workers), waits until the receiver has them all and
prints the rate from first to last receipt, the CPU time the delivering processes spent per
delivery past start-up, and the machine's steal meanwhile (on a shared VM, the reason two
identical drains differ). `--profile out.txt` samples the delivering
process with py-spy (installed by `make bench`) for `--profile-seconds` after start-up and
writes its collapsed stacks (one line per stack and its sample count). Loopback only,
bounded, every process stopped on the way out. The full comparison is `python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.config import HOOKCAST
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.pg_meter import PostgresMeter, wait_recorded
from benchmarks.procs import (
    HOST,
    Children,
    cpu_seconds,
    cpu_times,
    free_port,
    peak_rss_mib,
    steal_percent,
    wait_for_port,
)
from benchmarks.receiving import Receiver, receipt_rate, window_rates

# Per-webhook controls (docs/delivery.md): one gateway header, or the highest rate limit
# (which a drain on this machine reaches, so the held-back deliveries' cost is in it too).
CONTROLS: dict[str, dict[str, Any]] = {
    "none": {},
    "headers": {"headers": {"X-Api-Key": "bench-gateway-key-0123456789"}},
    "rate": {"rate_limit_per_second": 1000, "rate_limit_burst": 1000},
}


def drain(
    args: argparse.Namespace,
    work: Path,
    *,
    meter: PostgresMeter | None = None,
    seeded: Callable[[str], None] | None = None,
    event_bytes: int = 0,
) -> dict[str, Any]:
    """One drain; with `meter` (PostgreSQL), also the server's own work per delivery;
    `seeded(database_url)` runs once the backlog is seeded, before anything is measured;
    `event_bytes` more in each event's `data` (benchmarks/payloads.py `padded`)."""
    children = Children(work)
    pg_cost: dict[str, Any] = {}
    try:
        receiver = Receiver(children)
        database_url = args.postgres or f"sqlite:///{work}/hookcast.db"
        prepared = Setup(database_url).prepare(
            receiver.url,
            webhooks=args.webhooks,
            backlog=args.deliveries,
            phase="drain",
            ordering=args.ordering,
            media=args.media,
            metadata=CONTROLS[args.controls],
            event_bytes=event_bytes,
        )
        if seeded is not None:
            seeded(database_url)
        receiver.reset(secrets=prepared.secrets, record=True, verify_every=16)
        env = settings_env(database_url)
        if meter is not None:
            meter.start()
        port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(port)]
        if args.postgres:
            serve.append("--no-worker")
        workers = [[HOOKCAST, "worker"] for _ in range(args.workers if args.postgres else 0)]
        started = time.perf_counter()
        started_children = [
            children.start(f"hookcast{number}", command, env=env, cwd=work)
            for number, command in enumerate([serve, *workers])
        ]
        wait_for_port(port, timeout=60, name="hookcast serve")
        deliverers = started_children[1:] if workers else started_children
        cpu_at_start = sum(cpu_seconds(child.pid) for child in deliverers)
        machine_at_start = cpu_times()
        if args.profile:  # the process that delivers: serve, or the last worker
            pid, seconds = started_children[-1].pid, args.profile_seconds
            command = f"py-spy record --pid {pid} --rate 200 --duration {seconds} --format raw"
            profiler = subprocess.Popen(
                [*command.split(), "--output", str(args.profile)], stdout=subprocess.DEVNULL
            )
        stats = receiver.wait_for(args.deliveries, timeout=args.timeout, children=children)
        wall = time.perf_counter() - started
        # CPU seconds the delivering processes spent past start-up: on a shared machine the
        # wall-clock rate swings with the neighbours, CPU per delivery much less.
        cpu = sum(cpu_seconds(child.pid) for child in deliverers) - cpu_at_start
        steal = steal_percent(machine_at_start, cpu_times())
        load = os.getloadavg()[0]
        # Each delivering process's peak resident memory (the kernel's high-water mark).
        peaks = [peak_rss_mib(child.pid) for child in deliverers]
        if meter is not None:
            wait_recorded(meter.url, args.deliveries, children=children)
            pg_cost = meter.stop(args.deliveries)
        slices = window_rates(sorted(receiver.dump(work / "times.json").values()), 10)
        if args.profile:
            profiler.wait(timeout=args.profile_seconds + 30)
    finally:
        children.stop_all()
    return {
        "deliveries": args.deliveries,
        "rate_per_second": round(receipt_rate(stats), 1),
        "wall_seconds": round(wall, 2),
        "cpu_us_per_delivery": round(cpu / args.deliveries * 1e6, 1),
        "steal_percent": steal,
        "load_average": round(load, 2),
        "peak_rss_mib": peaks,
        "seed_seconds": round(prepared.seed_seconds, 2),
        "slices_per_second": [round(rate) for rate in slices],
        **pg_cost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drain", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--postgres", help="a PostgreSQL URL to run scaled out against")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ordering", choices=("none", "resource"), help="the webhooks' ordering")
    parser.add_argument(
        "--media", type=int, help="events about this many media (default: one each)"
    )
    parser.add_argument(
        "--controls",
        choices=sorted(CONTROLS),
        default="none",
        help="per-webhook controls on the webhooks: a custom header, or a rate limit",
    )
    parser.add_argument(
        "--event-bytes", type=int, default=0, help="this many more bytes in each event's data"
    )
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the deliverer")
    parser.add_argument("--profile-seconds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep-work", action="store_true", help="keep the logs and database")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookcast-drain-"))
    try:
        print(json.dumps(drain(args, work, event_bytes=args.event_bytes)))
    finally:
        if args.keep_work:
            print(f"logs and database kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
