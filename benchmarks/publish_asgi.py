"""python -m benchmarks.publish_asgi [--database postgresql|sqlite] [--events N]
[--concurrency C] [--layer http|asgi|service] [--profile] [--statements]: what `serve`
spends on one published event, layer by layer.

C concurrent publishers each send single events until N are stored, into the application
`serve` runs (`Runtime.app`, no worker: its middlewares, the publish endpoint, the group
commit), called through its ASGI interface as uvicorn calls it (`--layer asgi`), or into
`EventService.publish` directly (`--layer service`): the difference is what the HTTP layer
above the service costs in Python. `--layer http` runs uvicorn as `serve` configures it in
this process and `benchmarks.loadgen publish` in another: less the asgi figure, uvicorn's
and the kernel's share. Prints one JSON line: events/s and this process's CPU µs per event,
and on PostgreSQL the server's CPU, WAL, transactions and statements per event
(`--statements`: its costliest statements, mean planning and execution µs). `--profile`
prints cProfile's top functions by CPU time (slower: for where, not how much). Run it with
PYTHONPATH=<another worktree>/src for a baseline, interleaved."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.payloads import published_event
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter
from benchmarks.servers import create_database, postgres_server
from hookcast.cli.loop import run_loop
from hookcast.cli.runtime import Runtime
from hookcast.config import Settings


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _scope(key: bytes, length: int) -> dict[str, Any]:
    """A request's scope as uvicorn's httptools protocol builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/v2/events/",
        "raw_path": b"/v2/events/",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", key),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            (b"accept", b"*/*"),
            (b"user-agent", b"Python/3.11 aiohttp/3"),
        ],
        "state": {},
    }


def _asgi_publisher(app: Any, key: str) -> Callable[[bytes], Awaitable[None]]:
    async def publish(body: bytes) -> None:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Future()  # as uvicorn: no disconnect while the request runs
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(_scope(key.encode(), len(body)), receive, send)
        if status != 202:
            raise SystemExit(f"publish answered {status}")

    return publish


def _service_publisher(runtime: Runtime, key: str) -> Callable[[bytes], Awaitable[None]]:
    events = runtime.services.events

    async def publish(body: bytes) -> None:
        caller = await events.publisher(key)
        await events.publish(caller, orjson.loads(body))

    return publish


async def _http(runtime: Runtime, key: str, args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn as `serve` configures it, in this process; the load generator in another."""
    from hookcast.cli.serving import server_config  # here: --layer asgi runs on older code

    config = server_config(
        runtime.app(with_worker=False), runtime.settings, host="127.0.0.1", port=args.port
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(200):  # uvicorn says it has started by a flag, not an event: 10 s at most
        if server.started:
            break
        await asyncio.sleep(0.05)
    else:
        raise SystemExit("uvicorn did not start within 10 s")
    loadgen = [sys.executable, "-m", "benchmarks.loadgen", "publish"]
    loadgen += ["--api", f"http://127.0.0.1:{args.port}", "--key", key]
    loadgen += ["--count", str(args.events), "--concurrency", str(args.concurrency)]
    loadgen += ["--client", "raw"]
    profiler = cProfile.Profile(time.thread_time) if args.profile else None  # CPU, not wall
    cpu = _cpu_seconds()
    if profiler is not None:
        profiler.enable()
    child = await asyncio.create_subprocess_exec(*loadgen, stdout=asyncio.subprocess.PIPE)
    output, _ = await child.communicate()
    if profiler is not None:
        profiler.disable()
    cpu = _cpu_seconds() - cpu
    server.should_exit = True
    await serving
    report = json.loads(output)
    if report["accepted"] != args.events:
        raise SystemExit(f"load generator: {report}")
    if profiler is not None:
        _print_profile(profiler, args)
    return {
        "events_per_second": round(report["events_per_second"]),
        "cpu_us": round(cpu / args.events * 1e6, 1),
    }


async def _run(settings: Settings, key: str, args: argparse.Namespace) -> dict[str, Any]:
    runtime = await Runtime.open(settings)
    if args.layer == "http":
        try:
            return await _http(runtime, key, args)
        finally:
            await runtime.store.close()
    try:
        app = runtime.app(with_worker=False)
        publish = (
            _asgi_publisher(app, key) if args.layer == "asgi" else _service_publisher(runtime, key)
        )
        await publish(orjson.dumps(published_event("warm", 0)))  # the caches, the pool
        bodies = [orjson.dumps(published_event("p", n)) for n in range(args.events)]
        bodies.reverse()

        async def publisher() -> None:
            while bodies:
                await publish(bodies.pop())

        profiler = cProfile.Profile(time.thread_time) if args.profile else None  # CPU, not wall
        started, cpu = time.perf_counter(), _cpu_seconds()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(publisher() for _ in range(args.concurrency)))
        if profiler is not None:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    finally:
        await runtime.store.close()
    if profiler is not None:
        _print_profile(profiler, args)
    return {
        "events_per_second": round(args.events / seconds),
        "cpu_us": round(cpu / args.events * 1e6, 1),
    }


async def _statements(url: str) -> list[dict[str, Any]]:
    """PostgreSQL's statements by total time: calls, mean planning and execution µs."""
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT calls, round((total_plan_time / calls * 1000)::numeric, 1) AS plan_us,"
            " round((total_exec_time / calls * 1000)::numeric, 1) AS exec_us,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query"
            " FROM pg_stat_statements WHERE calls > 50"
            " ORDER BY total_plan_time + total_exec_time DESC LIMIT 8"
        )
        return [{**dict(row), "plan_us": float(row[1]), "exec_us": float(row[2])} for row in rows]
    finally:
        await connection.close()


def _print_profile(profiler: cProfile.Profile, args: argparse.Namespace) -> None:
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    if args.callers:
        stats.print_callers(args.callers)
    else:
        stats.print_stats(args.top)


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="hookcast-publish-asgi-") as work:
            yield f"sqlite:///{work}/hookcast.db"
        return
    with postgres_server((*METER_SETTINGS, "pg_stat_statements.track_planning=on")) as server:
        yield create_database(server, "publish")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.publish_asgi")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--layer", choices=["http", "asgi", "service"], default="asgi")
    parser.add_argument("--port", type=int, default=8765, help="--layer http's")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--statements", action="store_true", help="PostgreSQL's top ones")
    parser.add_argument("--callers", help="with --profile: who calls the functions matching")
    args = parser.parse_args()
    with _database(args.database) as url:
        prepared = Setup(url).prepare("http://127.0.0.1:9/unreached", webhooks=1)
        os.environ.update(settings_env(url))
        meter = PostgresMeter(url) if args.database == "postgresql" else None
        if meter is not None:
            meter.start()
        measured = run_loop(_run(Settings(), prepared.api_key, args))  # uvloop, as serve
        if meter is not None:
            measured.update(meter.stop(args.events))
            if args.statements:
                for row in asyncio.run(_statements(url)):
                    print(json.dumps(row), flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps({**vars(args), **measured, "load_average": load}), flush=True)


if __name__ == "__main__":
    main()
