"""python -m benchmarks.balance: does the embedded process keep delivering while its API is
saturated? `hookcast serve` (SQLite, one process) takes closed-loop publishes (batches of
--batch, --concurrency connections) of --events events; the receiver's arrival times give
the deliveries per second while publishing went on and after it stopped (the process only
delivering then: its drain rate), their ratio, and how long delivery went on after the last
publish was accepted, with the load average and the machine's steal while publishing. Rounds
are interleaved with a baseline by running the command again
(e.g. PYTHONPATH=<other worktree>/src). One JSON line."""

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
        "label": args.label,
        "accepted_per_second": round(report["events_per_second"]),
        "delivered_while_publishing_per_second": round(during),
        "drain_after_per_second": round(after),
        # None when nothing was left to deliver once publishing stopped (no drain to compare
        # with): delivery kept up, which delivered_per_accepted then shows.
        "ratio": round(during / after, 2) if after else None,
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
