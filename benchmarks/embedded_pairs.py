"""python -m benchmarks.embedded_pairs: issue 19's third target, measured as pairs.

Each round drains N deliveries to one nginx (benchmarks/nginx.py: 1 worker, `return 204`,
each contestant's requests counted exactly from the access log it wrote, taken after a log
reopen) twice, back to back: the raw aiohttp ceiling (benchmarks/rawclient.py:
uvloop, 64 in flight, a hex HMAC per request, nothing stored), then `hookcast serve` on
SQLite with N pending deliveries (JW format: JWT, Standard Webhooks and hex HMAC signatures,
every attempt recorded). With `--baseline-src DIR` (the `src` of another checkout, e.g. a
`git worktree` of main), each round also drains with that code, so a change shows as a ratio
measured under the same load. Each `serve` drains a backlog its own code published (the
baseline's seeded by a child on its `src`): what a drain writes depends on it (the delivery
ids' order, docs/benchmarks/embedded-delivery.md "Tenth pass: the SQLite recording by rowid").

With `--peer`, each round also drains with the durable peer (benchmarks/durable_floor.py:
HookCast's JW body and three signatures, SQLite durability, the least machinery around them),
what the machine allows a durable deliverer.

Per contestant and round: deliveries/s from nginx's first to last arrival, the duplicate
requests nginx saw (at-least-once delivery may send one twice), the CPU µs per delivery of
the delivering process (raw: its delivery loop alone; serve: from listening until every
attempt is recorded), the machine's steal and load average. Per round: the ratios. A
contestant whose distinct deliveries at nginx (or, for serve, recorded successes) are not N,
or that sent one unsigned, fails the run. Loopback only, bounded, every process stopped on
the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.arrivals import Tally, problems
from benchmarks.config import HOOKCAST, PYTHON, REPO, BenchFailure
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.nginx import Nginx
from benchmarks.procs import (
    HOST,
    Children,
    cpu_seconds,
    cpu_times,
    free_port,
    steal_percent,
    wait_for_port,
)

RAW_SECRET = "whsec_raw-client-secret"
# The durable peer signs as HookCast does: Standard Webhooks wants base64 after `whsec_`.
PEER_SECRET = "whsec_ZHVyYWJsZS1wZWVyLXNpZ25pbmctc2VjcmV0LTMyYg=="


def raw_run(nginx: Nginx, count: int, number: int) -> dict[str, Any]:
    """The raw aiohttp client drains `count` deliveries (its delivery loop's CPU)."""
    result, arrived, steal = _client_run(
        nginx, f"raw{number}", "benchmarks.rawclient", "--secret", RAW_SECRET, count=count
    )
    return _row(
        "raw", arrived, expected=count, durable=None, cpu=result["cpu_seconds"], steal=steal
    )


def peer_run(nginx: Nginx, count: int, number: int) -> dict[str, Any]:
    """The durable peer (benchmarks/durable_floor.py: HookCast's wire, the least machinery)
    drains `count` deliveries: its figures as a contestant's, its CPU from its first claim to
    its last commit."""
    result, arrived, steal = _client_run(
        nginx,
        f"peer{number}",
        "benchmarks.durable_floor",
        *("--secret", PEER_SECRET, "--wire", "hookcast"),
        count=count,
    )
    if result["attempts"] != result["recorded"]:
        raise BenchFailure(f"durable peer: {result['attempts']} attempts for {result['recorded']}")
    durable = result["recorded"]
    return _row(
        "peer", arrived, expected=count, durable=durable, cpu=result["cpu_seconds"], steal=steal
    )


def _client_run(
    nginx: Nginx, label: str, module: str, *options: str, count: int
) -> tuple[dict[str, Any], Tally, float | None]:
    """Runs a client module (64 in flight) into nginx for one stretch: its JSON line, the
    stretch's tally and the machine's steal meanwhile; a failed request fails the run."""
    with nginx.stretch(label) as arrived:
        machine = cpu_times()
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                module,
                *("--url", f"{nginx.url}/hook", "--count", str(count), "--concurrency", "64"),
                *("--phase", label, *options),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=REPO,
        )
        steal = steal_percent(machine, cpu_times())
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise BenchFailure(f"{module}: {result['failures']} failures")
    return result, arrived[0], steal


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
    _seed(database_url, nginx.url, count=count, name=name, src=src)
    env = settings_env(database_url)
    if src:
        env["PYTHONPATH"] = src
    port = free_port()
    with nginx.stretch(name) as arrived:
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
            succeeded = _wait_recorded(database, count, children=children)
            cpu = cpu_seconds(serve.pid) - cpu_at_start
            steal = steal_percent(machine, cpu_times())
            if profiler is not None:
                profiler.wait(timeout=60)
        finally:
            children.stop(serve)
    return _row(name, arrived[0], expected=count, durable=succeeded, cpu=cpu, steal=steal)


def _seed(database_url: str, receiver_url: str, *, count: int, name: str, src: str | None) -> None:
    """The backlog, published by the contestant's own code (`src`, else this checkout's):
    what it drains is what its publishes write, its delivery ids among them (their order
    decides how many pages of the attempts' index a recording writes,
    docs/benchmarks/embedded-delivery.md, "Tenth pass: the SQLite recording by rowid")."""
    if src is None:
        Setup(database_url).prepare(receiver_url, backlog=count, phase=name)
        return
    code = (
        "import sys; from benchmarks.hookcast_setup import Setup; "
        "Setup(sys.argv[1]).prepare(sys.argv[2], backlog=int(sys.argv[3]), phase=sys.argv[4])"
    )
    subprocess.run(
        [PYTHON, "-c", code, database_url, receiver_url, str(count), name],
        check=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{src}:{REPO}"},
    )


def _wait_recorded(database: Path, count: int, *, children: Children) -> int:
    """Until every delivery succeeded with its attempt row (bounded, polled every 20 ms): the
    deliveries recorded as succeeded."""
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
            return int(succeeded)
        if time.monotonic() > deadline:
            raise BenchFailure(f"{attempts} attempts, {succeeded} succeeded of {count}")
        children.check_alive()
        time.sleep(0.02)


def _row(
    name: str,
    arrived: Tally,
    *,
    expected: int,
    durable: int | None,
    cpu: float,
    steal: float | None,
) -> dict[str, Any]:
    """A contestant's figures in a round, once nginx's exact tally matches what it was given
    (duplicates are reported, not refused: at-least-once delivery may send one twice)."""
    found = problems(expected=expected, arrived=arrived, durable=durable)
    rate = arrived.rate()
    if found or rate is None:
        raise BenchFailure(f"{name}: {'; '.join(found) or 'too few arrivals to time'}")
    return {
        "rate": round(rate),
        "duplicates": arrived.duplicates,
        "cpu_us": round(cpu / expected * 1e6, 1),
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
    parser.add_argument(
        "--peer", action="store_true", help="also drain with the durable peer each round"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookcast-pairs-"))
    children = Children(work)
    rounds = []
    try:
        nginx = Nginx(children, work)
        for number in range(args.rounds):
            row: dict[str, Any] = {"raw": raw_run(nginx, args.deliveries, number)}
            if args.peer:
                row["peer"] = peer_run(nginx, args.deliveries, number)
                row["raw/peer cpu"] = round(row["raw"]["cpu_us"] / row["peer"]["cpu_us"], 2)
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
        print(f"{key}: median {round(statistics.median(values), 3)} ({min(values)}-{max(values)})")


if __name__ == "__main__":
    main()
