"""python -m benchmarks.latency embedded|scaled: publish-to-receipt latency as the publisher
sees it, open loop. Single events are POSTed at each of --rates for --seconds each (after a
short warm-up at 100/s), by benchmarks.loadgen in its own process; each delivery's arrival
at the receiver is joined with the moment its publish was *sent* and the moment its `202`
came back, so the report has both clocks (p50/p99/max of each), with the rate the publisher
actually achieved (a p99 at a rate it did not reach is not a result), the CPU time
HookCast's processes spent per event, the load average and the machine's steal during each
rate.

  embedded  `hookcast serve` on SQLite: API and worker in one process
  scaled    `hookcast serve --no-worker` and --workers `hookcast worker`s on a throwaway
            PostgreSQL
  beside    SQLite: events published to a `hookcast serve --no-worker` beside the delivering
            `hookcast serve` on the same file, which its wake-ups reach over the socket file
            (store/file_wakeup.py); --squat puts a plain file at the socket's name first, so
            the worker polls instead (the fallback, and the figure without wake-ups)

Each run starts its deployment afresh; interleave runs with a baseline's (e.g.
PYTHONPATH=<other worktree>/src) for rounds. One JSON line per run. `paced` is the one
open-loop measurement, shared with benchmarks.pg_cost's `pace`; `both_clocks` is its join,
shared with the full suite's latency phase (benchmarks/phases/latency.py).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
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
from benchmarks.stats import latencies_ms, read_times

__all__ = ["both_clocks", "paced", "sent_times_path"]

_WARM_UP = (100, 2.0)  # rate and seconds before the measured rates: imports, caches, JIT-free


def paced(
    *,
    api: str,
    key: str,
    receiver: Receiver,
    secret: str,
    rate: int,
    seconds: float,
    work: Path,
    children: Children,
) -> tuple[int, dict[str, Any]]:
    """Publishes single events at `rate` for `seconds` through `api`; how many were
    accepted, and their latencies from send and from the 202 (ms), the achieved rate, the
    errors, the load average at the end and the steal meanwhile."""
    receiver.reset(secret=secret, record=True)
    out = work / f"{rate}.published"
    sent = sent_times_path(out)
    command = [PYTHON, "-m", "benchmarks.loadgen", "pace-hookcast", "--api", api]
    command += ["--key", key, "--rate", str(rate), "--seconds", str(seconds)]
    command += ["--phase", f"r{rate}", "--out", str(out), "--sent-out", str(sent)]
    machine_before = cpu_times()
    receiver_before = cpu_seconds(receiver.child.pid)
    loadgen_before = _children_cpu()
    completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    loadgen_cpu = _children_cpu() - loadgen_before
    steal = steal_percent(machine_before, cpu_times())
    load = os.getloadavg()[0]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    published = read_times(out)
    receiver.wait_for(len(published), timeout=60 + len(published) / 100, children=children)
    receiver_cpu = cpu_seconds(receiver.child.pid) - receiver_before
    arrived = receiver.dump(work / f"{rate}.arrived")
    measured: dict[str, Any] = {
        "offered_rate": rate,
        "achieved_rate": round(report["achieved_rate"], 1),
        "errors": report["errors"],
        **both_clocks(published, read_times(sent), arrived),
        "load_average": round(load, 2),
        "steal_percent": steal,
        # The harness's own share of the two cores, beside HookCast's (run() adds it).
        "loadgen_cpu_us_per_event": round(loadgen_cpu / max(len(published), 1) * 1e6, 1),
        "receiver_cpu_us_per_event": round(receiver_cpu / max(len(published), 1) * 1e6, 1),
    }
    return len(published), measured


def _children_cpu() -> float:
    """User plus system CPU time of this process's finished children (the load generator)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sent_times_path(published_file: Path) -> Path:
    """Where a pace writes its send times beside `published_file` (its 202 times)."""
    return published_file.with_name(published_file.name + ".sent")


def both_clocks(
    published: dict[str, float], sent: dict[str, float], arrived: dict[str, float]
) -> dict[str, float]:
    """p50/p99/max publish-to-receipt (ms) from each publish's send and from its 202
    (`p99_ms_from_send`, ...): the names the report's latency target reads."""
    clocks: dict[str, float] = {}
    for clock, start in (("from_send", sent), ("from_202", published)):
        values = latencies_ms(start, arrived)
        for name in ("p50", "p99", "max"):
            clocks[f"{name}_ms_{clock}"] = round(values[name], 1)
    return clocks


@contextlib.contextmanager
def _deployment(args: argparse.Namespace, work: Path) -> Iterator[tuple[Children, str]]:
    """The children (receiver first) and the database URL of the deployment asked for."""
    children = Children(work)
    try:
        if args.mode in ("embedded", "beside"):
            yield children, f"sqlite:///{work}/hookcast.db"
            return
        from benchmarks.servers import create_database, postgres_server

        with postgres_server() as server:
            yield children, create_database(server, "latency")
    finally:
        children.stop_all()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with _deployment(args, work) as (children, url):
        receiver = Receiver(children)
        prepared = Setup(url).prepare(receiver.url, webhooks=1, backlog=0, phase="p")
        port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(port)]
        commands = [serve]
        if args.mode == "scaled":
            serve.append("--no-worker")
            commands += [[HOOKCAST, "worker"] for _ in range(args.workers)]
        if args.mode == "beside":
            if args.squat:
                (work / "hookcast.db-wakeup").touch()
            delivering = free_port()
            commands.append([HOOKCAST, "serve", "--host", HOST, "--port", str(delivering)])
            serve.append("--no-worker")
        started = [
            children.start(f"hookcast{number}", command, env=settings_env(url), cwd=work)
            for number, command in enumerate(commands)
        ]
        wait_for_port(port, timeout=60, name="hookcast serve")
        if args.mode == "beside":
            wait_for_port(delivering, timeout=60, name="the delivering hookcast serve")
        measure = functools.partial(
            paced,
            api=f"http://{HOST}:{port}",
            key=prepared.api_key,
            receiver=receiver,
            secret=prepared.secret,
            work=work,
            children=children,
        )
        measure(rate=_WARM_UP[0], seconds=_WARM_UP[1])
        rates = {}
        for rate in args.rates:
            profiler = _profile(args, started[0].pid) if args.profile else None
            cpu_before = sum(cpu_seconds(child.pid) for child in started)
            events, measured = measure(rate=rate, seconds=args.seconds)
            cpu = sum(cpu_seconds(child.pid) for child in started) - cpu_before
            measured["hookcast_cpu_us_per_event"] = round(cpu / max(events, 1) * 1e6, 1)
            rates[str(rate)] = measured
            if profiler is not None:
                profiler.wait(timeout=args.seconds + 30)
    return {"label": args.label, "mode": args.mode, "rates": rates}


def _profile(args: argparse.Namespace, pid: int) -> subprocess.Popen[bytes]:
    """py-spy (installed by `make bench`) sampling `serve` during one rate: its collapsed
    stacks in `--profile` (each rate overwrites the previous one's)."""
    command = ["py-spy", "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    command += ["--duration", str(int(args.seconds)), "--output", str(args.profile)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("mode", choices=("embedded", "scaled", "beside"))
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--label", default="")
    parser.add_argument("--squat", action="store_true", help="beside: the worker polls")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of serve")
    args = parser.parse_args()
    args.rates = args.rates or [1000, 2000]
    work = Path(tempfile.mkdtemp(prefix="hookcast-latency-"))
    try:
        print(json.dumps(run(args, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
