"""python -m benchmarks.big_payloads [--shape string|arrays] [--publishes 4] [--src DIR]:
one tenant's large events against one SQLite `serve`, and what the other tenant sees.

The scenario of docs/benchmarks/feature-costs.md, "Limits on a publish's arrays and objects" and
"Large deliveries under way": account B has 20 webhooks in JW Player's format (whose JWT carries
the body again) at 20 loopback receivers that read each request and answer after 2 s; B
publishes `--publishes` requests of 19 events, each with one 254 KB string in `data`
(`--shape arrays`: 85,000 empty arrays instead, which the limits refuse), ~4.8 MB a
request. Meanwhile account A reads `GET /v2/webhooks/` and anyone `/healthz` every 50 ms.
Printed as one JSON line: each publish's time and status, `serve`'s RSS before, at its peak
(sampled every 0.1 s) and `--settle` seconds after the receivers read the last delivery
(`--receivers close`: after the last publish), the worst and median
latency of A's requests, how many deliveries the receivers got, and the machine's load and
steal. Bounded: every wait has a deadline, the children are stopped in `finally`.

Compare with `--src <another worktree>/src` (that code first on the path, this venv's
packages), interleaved: base, branch, base, branch...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.procs import Children, cpu_times, free_port, steal_percent, wait_for_port

REPO = Path(__file__).resolve().parent.parent
SERVE = "from hookcast.cli import main; main()"
EVENTS_PER_PUBLISH = 19  # ~4.8 MB of the 5 MB a request may carry
STRING_BYTES = 254_000  # under the 256 KB an event's data may take, with its envelope
RECEIVERS = 20


# --- the receivers (a child process) ---------------------------------------------------------


async def _answer_late(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, seen: list[int]
) -> None:
    """Reads each request whole, then answers 200 after `delay` s (keep-alive)."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            seen[0] += 1
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _receive(count: int, delay: float, *, lifetime: float, head_limit: int) -> None:
    """`count` receivers on free ports of 127.0.0.1, named in BIG_PAYLOADS_PORTS; how many
    requests they have read, in BIG_PAYLOADS_SEEN every 0.5 s."""
    seen = [0]
    servers = [
        await asyncio.start_server(
            lambda r, w: _answer_late(r, w, delay, seen),
            "127.0.0.1",
            0,
            backlog=1024,
            limit=head_limit,
        )
        for _ in range(count)
    ]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    written = Path(os.environ["BIG_PAYLOADS_PORTS"] + ".tmp")
    written.write_text(json.dumps(ports))  # noqa: ASYNC240 (once, before serving)
    written.rename(os.environ["BIG_PAYLOADS_PORTS"])  # noqa: ASYNC240 (whole, or not yet)
    counter = Path(os.environ["BIG_PAYLOADS_SEEN"])
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline:  # bounded: the harness stops it sooner
        counter.write_text(str(seen[0]))  # noqa: ASYNC240 (a few bytes, twice a second)
        await asyncio.sleep(0.5)
    for server in servers:
        server.close()


# --- the harness -------------------------------------------------------------------------------


def _rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _receivers(ports: Path, *, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while not ports.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the receivers did not start within {timeout:.0f} s")
        time.sleep(0.05)
    found: list[int] = json.loads(ports.read_text())
    return found


def _seen(counter: Path) -> int:
    """Requests the receivers have read (as of their last note, at most 0.5 s old)."""
    text = counter.read_text() if counter.exists() else ""
    return int(text) if text.strip() else 0


def _event_data(shape: str) -> dict[str, Any]:
    if shape == "arrays":
        return {"x": [[]] * 85_000}
    return {"x": "a" * STRING_BYTES}


class _Pinger(threading.Thread):
    """GETs `path` every 50 ms until stopped; the latencies in s."""

    def __init__(self, client: httpx.Client, path: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self._client, self._path, self._halt = client, path, stop
        self.latencies: list[float] = []

    def run(self) -> None:
        while not self._halt.is_set():
            began = time.perf_counter()
            self._client.get(self._path)
            self.latencies.append(time.perf_counter() - began)
            self._halt.wait(0.05)


def _webhooks(client: httpx.Client, ports: list[int]) -> None:
    """One webhook of the client's account (JW Player's format) at each receiver."""
    for number, port in enumerate(ports):
        metadata = {
            "name": f"slow {number}",
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "events": ["media_available"],
            "site_ids": ["*"],
            "timeout_seconds": 30,
        }
        client.post("/v2/webhooks/", json={"metadata": metadata}).raise_for_status()


def _publish(client: httpx.Client, body: bytes, count: int) -> tuple[list[float], list[int]]:
    """`body` published `count` times, one after another: each one's seconds and status."""
    times, statuses = [], []
    for _ in range(count):
        began = time.perf_counter()
        answer = client.post(
            "/v2/events/", content=body, headers={"Content-Type": "application/json"}
        )
        times.append(round(time.perf_counter() - began, 3))
        statuses.append(answer.status_code)
    return times, statuses


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="big-payloads-"))
    src = args.src or str(REPO / "src")
    env = {
        "PYTHONPATH": f"{src}:{REPO}",
        "HOOKCAST_DATABASE_URL": f"sqlite:///{work}/hookcast.db",
        "HOOKCAST_SECRET_KEY": "big-payloads-secret",
        "HOOKCAST_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HOOKCAST_RATE_LIMIT_PER_SECOND": "0",
        "HOOKCAST_ACCOUNT_RATE_LIMIT_PER_SECOND": "0",
        "HOOKCAST_LOG_LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in args.env),
    }
    full_env = {**os.environ, **env}

    def cli(*words: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", SERVE, *words],
            env=full_env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return out.stdout.strip()

    cli("migrate")
    account_a = cli("accounts", "create", "Victim").split()[-1]
    key_a = cli("keys", "create", "--role", "admin", "--account", account_a).split()[-1]
    key_b = cli("keys", "create", "--role", "admin").split()[-1]
    children = Children(work)
    port = free_port()
    try:
        seen_file, ports_file = work / "seen", work / "ports"
        children.start(
            "receivers",
            [
                sys.executable,
                *("-m", "benchmarks.big_payloads", "--receive"),
                *("--receivers", args.receivers),
            ],
            env={
                "PYTHONPATH": str(REPO),
                "BIG_PAYLOADS_SEEN": str(seen_file),
                "BIG_PAYLOADS_PORTS": str(ports_file),
            },
            cwd=REPO,
        )
        worker = ["--no-worker"] if args.no_worker else []
        serve = children.start(
            "serve", [sys.executable, "-c", SERVE, "serve", "--port", str(port), *worker], env=env
        )
        wait_for_port(port, timeout=60, process=serve.process, name="serve")
        ports = _receivers(ports_file, timeout=30)
        base = f"http://127.0.0.1:{port}"
        b = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key_b}"}, timeout=60)
        a = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key_a}"}, timeout=60)
        site = b.post("/v2/sites/", json={"metadata": {"name": "b"}}).json()["id"]
        a.post("/v2/sites/", json={"metadata": {"name": "a"}})
        _webhooks(b, ports)
        event = {
            "event": "media_available",
            "site_id": site,
            "media_id": "m",
            "data": _event_data(args.shape),
        }
        body = orjson.dumps({"events": [event] * EVENTS_PER_PUBLISH})
        machine, load = cpu_times(), Path("/proc/loadavg").read_text().split()[0]
        time.sleep(1.0)
        before = _rss_mib(serve.pid)
        stop = threading.Event()
        peak = [before]

        def sample() -> None:
            while not stop.is_set():
                peak.append(_rss_mib(serve.pid))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        health = _Pinger(httpx.Client(base_url=base, timeout=60), "/healthz", stop)
        listing = _Pinger(a, "/v2/webhooks/", stop)
        for thread in (sampler, health, listing):
            thread.start()
        times, statuses = _publish(b, body, args.publishes)
        after_publishes = _rss_mib(serve.pid)
        published = time.monotonic()
        expected = statuses.count(202) * EVENTS_PER_PUBLISH * RECEIVERS
        if args.receivers == "answer" and not args.no_worker:  # until every delivery is read
            deadline = published + args.deliver_within
            while _seen(seen_file) < expected and time.monotonic() < deadline:
                stop.wait(0.2)
        delivered_s = round(time.monotonic() - published, 1)
        stop.wait(args.settle)
        stop.set()
        for thread in (sampler, health, listing):
            thread.join(timeout=70)
        settled = _rss_mib(serve.pid)
        delivered = _seen(seen_file)
        return {
            "src": src,
            "shape": args.shape,
            "receivers": "none (--no-worker)" if args.no_worker else args.receivers,
            "body_bytes": len(body),
            "statuses": statuses,
            "publish_s": times,
            "rss_before": before,
            "rss_peak": max(peak),
            "rss_after_publishes": after_publishes,
            "rss_settled": settled,
            "settle_s": args.settle,
            "delivered": delivered,
            "expected": expected,
            "delivered_after_s": delivered_s,
            "healthz_worst_s": round(max(health.latencies), 3),
            "healthz_p50_s": round(statistics.median(health.latencies), 4),
            "a_list_worst_s": round(max(listing.latencies), 3),
            "a_list_p50_s": round(statistics.median(listing.latencies), 4),
            "load": load,
            "steal": steal_percent(machine, cpu_times()),
            "env": args.env,
        }
    finally:
        children.stop_all()
        if not args.keep:  # its database holds the events: ~20-40 MB a run
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("string", "arrays"), default="string")
    parser.add_argument("--publishes", type=int, default=4)
    parser.add_argument("--settle", type=float, default=20.0, help="s after the last delivery")
    parser.add_argument(
        "--deliver-within", type=float, default=120.0, help="s to wait for every delivery"
    )
    parser.add_argument("--src", default="", help="HookCast's src to run (default: this one)")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=value for serve (repeatable)"
    )
    parser.add_argument(
        "--receivers",
        choices=("answer", "close"),
        default="answer",
        help="answer: read each request, answer 200 after 2 s; close: asyncio's default "
        "64 KB limit on a line, so the JWT's header ends every connection unanswered",
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="serve --no-worker: the publishes alone"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's directory (database, logs)"
    )
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        limit = 2**20 if args.receivers == "answer" else 2**16
        asyncio.run(_receive(RECEIVERS, 2.0, lifetime=600.0, head_limit=limit))
        return
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
