"""python -m benchmarks.lowrate_floor [--rates 50,250,2000] [--seconds 10] [--rounds 3]:
what a request costs the machine's own stack at a low rate against a high one, the peer for
issue 19's target 5a ("CPU per event at 50 and 250 events/s no more than twice the figure at
2,000/s").

Three servers, each sent single POSTs at each rate, open loop (a send every 1/rate s,
whatever the answers do) over keep-alive connections from this process:

  nginx       `make bench`'s receiver: one worker answering 204, an access log line each
  python      benchmarks/mini_publish.py: uvloop and httptools answering 204
  python+pg   the same, storing each body with one committed INSERT into PostgreSQL (one
              asyncpg connection, a prepared statement) before its 202: the least a durable
              publish costs here; PostgreSQL's processes' CPU is counted with it

CPU per request is each server's process group (and PostgreSQL's postmaster with every
backend, for python+pg) from /proc, between the first send and the last answer; this
process's own CPU is not counted. One JSON line per round and rate, then the medians and
each server's ratio of its CPU per request at every rate to the highest rate's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvloop

from benchmarks.nginx import Nginx
from benchmarks.pace_http import Publisher
from benchmarks.pg_meter import postgres_cpu_seconds
from benchmarks.procs import (
    HOST,
    Child,
    Children,
    cpu_seconds,
    cpu_times,
    free_port,
    steal_percent,
    wait_for_port,
)
from benchmarks.servers import create_database, postgres_server

_BODY = b'{"event": "media_available", "media_id": "abcd1234"}'


async def _pace(port: int, path: str, rate: int, seconds: float) -> tuple[int, int]:
    """Sends `rate` * `seconds` POSTs at even intervals; (answered 2xx, failed)."""
    loop = asyncio.get_running_loop()
    publisher = Publisher(host=HOST, port=port, path=path, headers={})
    total = int(rate * seconds)
    finished = loop.create_future()
    counts = [0, 0]

    def done(status: int, _at: float, _why: str) -> None:
        counts[0 if 200 <= status < 300 else 1] += 1
        if sum(counts) == total and not finished.done():
            finished.set_result(None)

    start = loop.time() + 0.05
    for n in range(total):
        loop.call_at(start + n / rate, publisher.post, _BODY, done)
    await asyncio.wait_for(finished, timeout=seconds + 60)
    publisher.close()
    return counts[0], counts[1]


def _measure(
    cpu: Callable[[], float], port: int, path: str, rate: int, seconds: float
) -> dict[str, Any]:
    machine = cpu_times()
    before = cpu()
    began = time.monotonic()
    answered, failed = uvloop.run(_pace(port, path, rate, seconds))
    elapsed = time.monotonic() - began
    used = cpu() - before
    return {
        "rate": rate,
        "achieved": round(answered / elapsed, 1),
        "failed": failed,
        "cpu_us_per_request": round(used / max(answered, 1) * 1e6, 1),
        "steal_percent": steal_percent(machine, cpu_times()),
    }


def _python_server(children: Children, name: str, postgres: str | None) -> tuple[Child, int]:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.mini_publish", "--port", str(port)]
    if postgres is not None:
        command += ["--postgres", postgres]
    child = children.start(name, command, cwd=Path(__file__).resolve().parents[1])
    wait_for_port(port, timeout=30, process=child.process, name=name)
    return child, port


def _postmaster(url: str) -> int:
    """The server's postmaster: the parent of a backend of ours, read while it lives."""

    async def parent() -> int:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(url)
        try:
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            stat = Path(f"/proc/{backend}/stat").read_text()  # noqa: ASYNC240 (procfs)
        finally:
            await connection.close()
        return int(stat[stat.rindex(")") + 2 :].split()[1])

    return asyncio.run(parent())


def durable_peer(
    children: Children, url: str, rates: Sequence[int], seconds: float
) -> dict[str, Any]:
    """The python+pg server on the empty database `url`, paced at each rate in turn: each
    rate's figures by rate (as text, as pg_cost's pace reports them). Stops the server."""
    server, port = _python_server(children, "python_pg", url)
    postmaster = _postmaster(url)
    try:
        return {
            str(rate): _measure(
                lambda: cpu_seconds(server.pid) + postgres_cpu_seconds(postmaster),
                port,
                "/hook",
                rate,
                seconds,
            )
            for rate in rates
        }
    finally:
        children.stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,250,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    results: dict[str, dict[int, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as pg:
        work = Path(tmp)
        children = Children(work)
        try:
            nginx = Nginx(children, work)
            url = create_database(pg, "floor")
            python, python_port = _python_server(children, "python", None)
            stored, stored_port = _python_server(children, "python_pg", url)
            postmaster = _postmaster(url)
            servers: dict[str, tuple[Callable[[], float], int]] = {
                "nginx": (lambda: cpu_seconds(nginx.pid), nginx.port),
                "python": (lambda: cpu_seconds(python.pid), python_port),
                "python+pg": (
                    lambda: cpu_seconds(stored.pid) + postgres_cpu_seconds(postmaster),
                    stored_port,
                ),
            }
            for round_ in range(1, args.rounds + 1):
                for rate in rates:
                    for name, (cpu, port) in servers.items():
                        row = _measure(cpu, port, "/hook", rate, args.seconds)
                        row.update(server=name, round=round_)
                        print(json.dumps(row), flush=True)
                        per_rate = results.setdefault(name, {})
                        per_rate.setdefault(rate, []).append(row["cpu_us_per_request"])
        finally:
            children.stop_all()
    top = max(rates)
    for name, per_rate in results.items():
        medians = {rate: statistics.median(values) for rate, values in per_rate.items()}
        summary = {
            "server": name,
            "median_cpu_us": medians,
            "ratio_to_top_rate": {r: round(m / medians[top], 2) for r, m in medians.items()},
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
