"""python -m benchmarks.embedded_pairs: issue 19's third target, measured as pairs.

Each round drains N deliveries to one nginx (1 worker, `return 204`, every request counted
from its access log) twice, back to back: the raw aiohttp ceiling (benchmarks/rawclient.py:
uvloop, 64 in flight, a hex HMAC per request, nothing stored), then `hookcast serve` on
SQLite with N pending deliveries (JW format: JWT, Standard Webhooks and hex HMAC signatures,
every attempt recorded). With `--baseline-src DIR` (the `src` of another checkout, e.g. a
`git worktree` of main), each round also drains with that code, so a change shows as a ratio
measured under the same load.

Per contestant and round: deliveries/s from nginx's first to last arrival, the CPU µs per
delivery of the delivering process (raw: its delivery loop alone; serve: from listening until
every attempt is recorded), the machine's steal and load average. Per round: the ratios.
Loopback only, bounded, every process stopped on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import HOOKCAST, PYTHON, REPO, BenchFailure
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
from benchmarks.wrk import line_count, nginx_config

RAW_SECRET = "whsec_raw-client-secret"
_RAW_CHILD = """
import asyncio, json, sys, time
import uvloop
from benchmarks.rawclient import deliver_all
url, count, concurrency, secret, phase = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5]
cpu = time.process_time()
result = uvloop.run(deliver_all(url, count, concurrency, secret, phase))
result["cpu_seconds"] = time.process_time() - cpu
print(json.dumps(result))
"""


class Nginx:
    """One nginx for every run; each run counts the access log's lines past its start."""

    def __init__(self, children: Children, work: Path) -> None:
        self.port = free_port()
        conf = nginx_config(work, self.port)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.child = children.start(
            "nginx", [binary, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"]
        )
        wait_for_port(self.port, timeout=20, process=self.child.process, name="nginx")
        self.log = conf.parent / "logs" / "access.log"
        self.url = f"http://{HOST}:{self.port}"

    def lines(self) -> int:
        return line_count(self.log)

    def wait_for(self, start: int, expected: int, *, timeout: float, children: Children) -> float:
        """Waits (bounded) until `expected` requests past line `start` are logged; their
        rate from the first arrival to the last."""
        deadline = time.monotonic() + timeout
        while self.lines() - start < expected:
            if time.monotonic() > deadline:
                raise BenchFailure(f"nginx logged {self.lines() - start} of {expected}")
            children.check_alive()
            time.sleep(0.05)
        time.sleep(1.2)  # the log is flushed every second: a duplicate would show up now
        with self.log.open("rb") as f:
            lines = f.read().splitlines()[start:]
        if len(lines) != expected:
            raise BenchFailure(f"nginx logged {len(lines)} requests, expected {expected}")
        times = sorted(float(line.split()[0]) for line in lines)
        return (expected - 1) / (times[-1] - times[0])


def raw_run(nginx: Nginx, children: Children, count: int, number: int) -> dict[str, Any]:
    start = nginx.lines()
    machine = cpu_times()
    out = subprocess.run(
        [PYTHON, "-c", _RAW_CHILD, f"{nginx.url}/hook", str(count), "64", RAW_SECRET, f"r{number}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )
    steal = steal_percent(machine, cpu_times())
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise BenchFailure(f"raw client: {result['failures']} failures")
    rate = nginx.wait_for(start, count, timeout=30, children=children)
    return _row(rate, result["cpu_seconds"], count, steal)


def embedded_run(
    nginx: Nginx,
    children: Children,
    work: Path,
    *,
    count: int,
    name: str,
    src: str | None,
    profile: Path | None,
) -> dict[str, Any]:
    database = work / f"{name}.db"
    database_url = f"sqlite:///{database}"
    Setup(database_url).prepare(nginx.url, backlog=count, phase=name)
    env = settings_env(database_url)
    if src:
        env["PYTHONPATH"] = src
    start = nginx.lines()
    port = free_port()
    serve = children.start(
        name, [HOOKCAST, "serve", "--host", HOST, "--port", str(port)], env=env, cwd=work
    )
    try:
        wait_for_port(port, timeout=60, process=serve.process, name=name)
        cpu_at_start = cpu_seconds(serve.pid)
        machine = cpu_times()
        profiler = None
        if profile is not None:
            spy = Path(PYTHON).parent / "py-spy"
            command = f"{spy} record --pid {serve.pid} --rate 250 --duration 4 --format raw"
            profiler = subprocess.Popen(
                [*command.split(), "--output", str(profile)], stdout=subprocess.DEVNULL
            )
        _wait_recorded(database, count, children=children)
        cpu = cpu_seconds(serve.pid) - cpu_at_start
        steal = steal_percent(machine, cpu_times())
        if profiler is not None:
            profiler.wait(timeout=60)
    finally:
        children.stop(serve)
    rate = nginx.wait_for(start, count, timeout=30, children=children)
    return _row(rate, cpu, count, steal)


def _wait_recorded(database: Path, count: int, *, children: Children) -> None:
    """Until every delivery succeeded with its attempt row (bounded, polled every 20 ms)."""
    deadline = time.monotonic() + 300
    query = (
        "SELECT (SELECT count(*) FROM attempts),"
        " (SELECT count(*) FROM deliveries WHERE status = 'succeeded')"
    )
    while True:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
            attempts, succeeded = db.execute(query).fetchone()
        if attempts >= count and succeeded >= count:
            if attempts != count:
                raise BenchFailure(f"{attempts} attempts recorded for {count} deliveries")
            return
        if time.monotonic() > deadline:
            raise BenchFailure(f"{attempts} attempts, {succeeded} succeeded of {count}")
        children.check_alive()
        time.sleep(0.02)


def _row(rate: float, cpu: float, count: int, steal: float | None) -> dict[str, Any]:
    return {
        "rate": round(rate),
        "cpu_us": round(cpu / count * 1e6, 1),
        "steal": steal,
        "load": Path("/proc/loadavg").read_text().split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.embedded_pairs", description=__doc__
    )
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", help="the src directory of the code to compare with")
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks of serve, per round")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookcast-pairs-"))
    children = Children(work)
    rounds = []
    try:
        nginx = Nginx(children, work)
        for number in range(args.rounds):
            row: dict[str, Any] = {"raw": raw_run(nginx, children, args.deliveries, number)}
            contestants = {"embedded": None}
            if args.baseline_src:
                contestants["baseline"] = args.baseline_src
            for name, src in contestants.items():
                profile = None
                if args.profile is not None and name == "embedded":
                    profile = args.profile.with_suffix(f".{number}.txt")
                row[name] = embedded_run(
                    nginx,
                    children,
                    work,
                    count=args.deliveries,
                    name=f"{name}{number}",
                    src=src,
                    profile=profile,
                )
            for name in contestants:
                row[f"{name}/raw rate"] = round(row[name]["rate"] / row["raw"]["rate"], 2)
                row[f"raw/{name} cpu"] = round(row["raw"]["cpu_us"] / row[name]["cpu_us"], 2)
            if args.baseline_src:
                row["embedded/baseline rate"] = round(
                    row["embedded"]["rate"] / row["baseline"]["rate"], 2
                )
                row["baseline/embedded cpu"] = round(
                    row["baseline"]["cpu_us"] / row["embedded"]["cpu_us"], 2
                )
            print(json.dumps(row), flush=True)
            rounds.append(row)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    ratios = [key for key in rounds[0] if " " in key] if rounds else []
    for key in ratios:
        values = [row[key] for row in rounds]
        print(f"{key}: median {statistics.median(values)} ({min(values)}-{max(values)})")


if __name__ == "__main__":
    main()
