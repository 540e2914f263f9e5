"""python -m benchmarks.balance: does the embedded process keep delivering while its API is
saturated? `hookcast serve` (SQLite, one process) takes closed-loop publishes (batches of
--batch, --concurrency connections) of --events events; the receiver's arrival times give
the deliveries per second while publishing went on and after it stopped, and how long
delivery went on after the last publish was accepted, with the load average and the
machine's steal while publishing. The drain rate they are compared with is that of the same
code draining a seeded backlog of --events deliveries with nothing published
(benchmarks.drain): the deliveries left once publishing stops are too few to time when
delivery keeps up with the API, and none at all when it keeps up outright (the rate after
publishing is still reported, and its ratio where there was one). Rounds are interleaved with
a baseline by running the command again (e.g. PYTHONPATH=<other worktree>/src). One JSON
line."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import HOOKCAST, PYTHON, REPO
from benchmarks.drain import drain
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.procs import (
    HOST,
    Children,
    cpu_seconds,
    cpu_times,
    free_port,
    steal_percent,
    wait_for_port,
)
from benchmarks.receiving import Receiver


def _rate(times: list[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t < end]
    return len(inside) / (end - start) if end > start else 0.0


def balance(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The saturated run, then the drain of a seeded backlog as large, in its own directory."""
    for part in ("saturated", "drain"):
        (work / part).mkdir(parents=True, exist_ok=True)
    saturated = _saturated(args, work / "saturated")
    drained = drain(_drain_options(args.events), work / "drain")
    reference = drained["rate_per_second"]
    during = saturated["delivered_while_publishing_per_second"]
    return {
        "label": args.label,
        **saturated,
        "drain_per_second": round(reference),
        "ratio": round(during / reference, 2) if reference else None,
        "drain_cpu_us_per_delivery": drained["cpu_us_per_delivery"],
        "drain_steal_percent": drained["steal_percent"],
    }


def _drain_options(deliveries: int) -> argparse.Namespace:
    """benchmarks.drain's options for a drain of `deliveries` to one webhook by `serve`."""
    return argparse.Namespace(
        deliveries=deliveries,
        webhooks=1,
        postgres=None,
        workers=0,
        ordering=None,
        media=None,
        controls="none",
        profile=None,
        profile_seconds=0,
        timeout=600.0,
    )


def _saturated(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    children = Children(work)
    try:
        receiver = Receiver(children)
        url = f"sqlite:///{work}/hookcast.db"
        prepared = Setup(url).prepare(receiver.url, webhooks=1, backlog=0, phase="b")
        receiver.reset(secret=prepared.secret, record=True, verify_every=16)
        port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(port)]
        server = children.start("serve", serve, env=settings_env(url), cwd=work)
        wait_for_port(port, timeout=60, name="hookcast serve")
        cpu_before = cpu_seconds(server.pid)
        command = [PYTHON, "-m", "benchmarks.loadgen", "publish", "--api"]
        command += [f"http://{HOST}:{port}", "--key", prepared.api_key, "--count"]
        command += [str(args.events), "--batch", str(args.batch)]
        command += ["--concurrency", str(args.concurrency), "--phase", "b"]
        machine_before = cpu_times()
        started = time.time()
        completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
        stopped = time.time()
        load = os.getloadavg()[0]
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        receiver.wait_for(report["accepted"], timeout=300, children=children)
        cpu = cpu_seconds(server.pid) - cpu_before
        steal = steal_percent(machine_before, cpu_times())
        times = sorted(receiver.dump(work / "arrived.json").values())
    finally:
        children.stop_all()
    during = _rate(times, started, stopped)
    after = _rate(times, stopped, times[-1])
    return {
        "accepted_per_second": round(report["events_per_second"]),
        "delivered_while_publishing_per_second": round(during),
        "drain_after_per_second": round(after),
        # None when nothing was left to deliver once publishing stopped: delivery kept up,
        # which delivered_per_accepted then shows. Few left: a rate over a short tail.
        "ratio_after": round(during / after, 2) if after else None,
        "left_after_publishing": sum(1 for t in times if t >= stopped),
        "delivered_per_accepted": round(during / report["events_per_second"], 2),
        "seconds_delivering_after_publishing": round(times[-1] - stopped, 2),
        "serve_cpu_us_per_event": round(cpu / report["accepted"] * 1e6, 1),
        "load_average": round(load, 2),
        "steal_percent": steal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.balance", description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookcast-balance-"))
    try:
        print(json.dumps(balance(args, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
