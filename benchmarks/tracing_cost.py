"""python -m benchmarks.tracing_cost: the CPU time tracing costs per publish and per delivery.

Each run is a process of its own on a fresh SQLite database: N publishes of one event to one
webhook through the API's ASGI app (called directly, no socket: the publish endpoint, the
service and the store), then the N deliveries by a DeliveryWorker whose sender answers 200
at once (no HTTP: the worker's own work, signing, recording, and the attempt's span and
traceparent). The figure is the process's CPU time (every thread, so the span exporter's
too, and the final export of what is still batched) per publish and per delivery.

Modes: `off` (no tracing variable set), `on` (spans exported over OTLP/HTTP to a sink in
another process, which answers every export). Runs alternate off/on, `--runs` pairs, and the
medians and ranges are printed. `--base DIR` runs the `off` side on another checkout's
src/ (e.g. `git archive main src | tar -x -C DIR`): the cost of the untraced path itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.hookcast_setup import SECRET_KEY
from benchmarks.procs import HOST, free_port, wait_for_port

_JSON = (b"content-type", b"application/json")


# --- one run (a process of its own) --------------------------------------------------------


async def _call(app: Any, path: str, body: bytes, key: str = "") -> tuple[int, bytes]:
    headers = [(b"host", b"bench"), _JSON, (b"content-length", str(len(body)).encode())]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": (HOST, 1),
        "server": ("bench", 80),
    }
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the request is over: wait for the disconnect
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, content


class _Answers200:
    """A Sender that answers every request with 200 at once: the worker's cost, not HTTP's."""

    async def send(self, request: Any) -> Any:
        from hookcast.ports import SendOutcome

        return SendOutcome(status_code=200, latency_ms=1.0)

    async def close(self) -> None:
        return None


async def _open(database_url: str, endpoint: str) -> Any:
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings

    settings = Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        allowed_networks="127.0.0.0/8",
        rate_limit_per_second=0,
        otel_exporter_otlp_endpoint=endpoint,  # ignored by a checkout without tracing
    )
    return await Runtime.open(settings)


async def _setup(database_url: str) -> str:
    runtime = await _open(database_url, "")
    try:
        app = runtime.app(with_worker=False)
        created = await runtime.services.accounts.bootstrap_admin_key()
        key: str = created.secret
        status, body = await _call(app, "/v2/sites/", b'{"metadata": {"name": "Main"}}', key)
        assert status == 201, body
        site_id = json.loads(body)["id"]
        hook = {
            "name": "h",
            "webhook_url": "http://127.0.0.1:9/hook",
            "events": ["*"],
            "site_ids": [site_id],
        }
        status, body = await _call(
            app, "/v2/webhooks/", json.dumps({"metadata": hook}).encode(), key
        )
        assert status == 201, body
        return json.dumps({"key": key, "site_id": site_id})
    finally:
        await runtime.store.close()


async def _publishes(database_url: str, endpoint: str, count: int, setup: dict[str, str]) -> float:
    runtime = await _open(database_url, endpoint)
    app = runtime.app(with_worker=False)
    bodies = [
        json.dumps(
            {"event": "media_available", "media_id": f"M{n:07d}", "site_id": setup["site_id"]}
        ).encode()
        for n in range(count)
    ]
    began = time.process_time()
    for body in bodies:
        status, answer = await _call(app, "/v2/events/", body, setup["key"])
        assert status == 202, answer
    await _close(runtime)  # the last spans' export counts too
    return (time.process_time() - began) / count


async def _deliveries(database_url: str, endpoint: str, count: int) -> float:
    from hookcast.delivery.worker import DeliveryWorker, WorkerOptions

    runtime = await _open(database_url, endpoint)
    tracer = getattr(runtime, "tracer", None)  # None on a checkout without tracing
    worker = DeliveryWorker(
        runtime.store,
        _Answers200(),
        clock=lambda: datetime.now(UTC),
        options=WorkerOptions(concurrency=64, idle_wait_seconds=0.05),
        observer=runtime.metrics,
        **({"tracer": tracer} if tracer is not None else {}),
    )
    stop = asyncio.Event()
    began = time.process_time()
    task = asyncio.create_task(worker.run(stop))
    # A poll of the worker's own counter, 100 times a second: the same small cost in every
    # mode, and no hook into the worker that the checkout measured as `base` lacks.
    while worker.delivered < count:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await _close(runtime)
    return (time.process_time() - began) / count


async def _close(runtime: Any) -> None:
    close = getattr(runtime, "close", None)
    await (close() if close is not None else runtime.store.close())


async def _one_run(work: Path, endpoint: str, count: int) -> dict[str, float]:
    from hookcast.store import migrate

    database_url = f"sqlite:///{work}/bench.db"
    migrate(database_url)
    setup = json.loads(await _setup(database_url))
    publish = await _publishes(database_url, endpoint, count, setup)
    deliver = await _deliveries(database_url, endpoint, count)
    return {"publish_us": publish * 1e6, "delivery_us": deliver * 1e6}


# --- the sink (a process of its own) --------------------------------------------------------


def _sink(port: int) -> None:
    from aiohttp import web

    async def traces(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    web.run_app(app, host=HOST, port=port, print=None)


# --- the driver ----------------------------------------------------------------------------


def _run(mode: str, count: int, endpoint: str, base: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKCAST_", "OTEL_"))}
    if mode == "base":
        env["PYTHONPATH"] = f"{base}/src:{Path.cwd()}"
    with tempfile.TemporaryDirectory() as work:
        argv = [sys.executable, "-m", "benchmarks.tracing_cost", "--one", work]
        argv += ["--count", str(count), "--endpoint", endpoint if mode == "on" else ""]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracing_cost")
    parser.add_argument("--count", type=int, default=2000, help="publishes, and deliveries")
    parser.add_argument("--runs", type=int, default=3, help="pairs of off/on runs")
    parser.add_argument("--base", help="another checkout whose src/ runs as `base`")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink is not None:
        _sink(args.sink)
        return
    if args.one is not None:
        print(json.dumps(asyncio.run(_one_run(Path(args.one), args.endpoint, args.count))))
        return
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.tracing_cost", "--sink", str(port)])
    try:
        wait_for_port(port, timeout=30)
        modes = ["off", "on", *(["base"] if args.base else [])]
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for _ in range(args.runs):
            for mode in modes:
                results[mode].append(_run(mode, args.count, f"http://{HOST}:{port}", args.base))
                print(mode, results[mode][-1], flush=True)
        for mode, runs in results.items():
            for figure in ("publish_us", "delivery_us"):
                values = sorted(run[figure] for run in runs)
                print(
                    f"{mode:5} {figure:12} median {statistics.median(values):7.1f} µs "
                    f"({values[0]:.1f}-{values[-1]:.1f})"
                )
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
