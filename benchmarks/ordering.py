"""python -m benchmarks.ordering: what ordered delivery (issue 17) costs, in one run.

Drains: `--deliveries` pending deliveries to one webhook, each event about its own media
(or about `--media` media in turn: chains of deliveries/media each), delivered by `hookcast
serve` on SQLite (benchmarks.drain), once with the webhook unordered and once ordered,
alternating `--rounds` times so both see the same machine; prints each
drain and the ordered/unordered ratio of the median rates (issue 17's target: >= 0.8).

Publish (`--publish N`): `hookcast serve --no-worker`, N events posted to POST /v2/events/
in batches of 100 by `--concurrency` clients, the events about N/6 media (six each, as a
media's life), to one unordered and then one ordered webhook; prints events/s. With
PYTHONPATH pointing at another checkout's src/, the same measures that code (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.config import HOOKCAST
from benchmarks.drain import drain
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.payloads import EVENT_TYPE, SITE_ID
from benchmarks.procs import HOST, Children, cpu_seconds, free_port, wait_for_port

BATCH = 100
LIFE = 6  # events per media in the publish run


def drains(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"none": [], "resource": []}
    for _ in range(args.rounds):
        for ordering in runs:
            work = Path(tempfile.mkdtemp(prefix=f"hookcast-order-{ordering}-"))
            try:
                options = argparse.Namespace(
                    deliveries=args.deliveries,
                    webhooks=1,
                    postgres=None,
                    workers=0,
                    profile=None,
                    profile_seconds=0,
                    timeout=600.0,
                    ordering=ordering,
                    media=args.media,
                    controls="none",
                )
                runs[ordering].append(drain(options, work))
                print(json.dumps({"ordering": ordering, **runs[ordering][-1]}), flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    rates = {
        name: statistics.median(r["rate_per_second"] for r in found) for name, found in runs.items()
    }
    cpu = {
        name: statistics.median(r["cpu_us_per_delivery"] for r in found)
        for name, found in runs.items()
    }
    return {
        "median_rate_per_second": rates,
        "median_cpu_us_per_delivery": cpu,
        "ordered_over_unordered": round(rates["resource"] / rates["none"], 3),
    }


def publish_rate(args: argparse.Namespace, ordering: str | None) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="hookcast-order-publish-"))
    children = Children(work)
    try:
        database_url = f"sqlite:///{work}/hookcast.db"
        prepared = Setup(database_url).prepare(
            f"http://{HOST}:{free_port()}/hook", webhooks=1, ordering=ordering
        )
        port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(port), "--no-worker"]
        server = children.start("serve", serve, env=settings_env(database_url), cwd=work)
        wait_for_port(port, timeout=60, name="hookcast serve")
        url = f"http://{HOST}:{port}/v2/events/"
        cpu_before = cpu_seconds(server.pid)
        seconds = asyncio.run(_post_all(url, prepared.api_key, args.publish, args.concurrency))
        # CPU per event: steadier than the rate on a machine shared with other work.
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "events": args.publish,
        "events_per_second": round(args.publish / seconds, 1),
        "server_cpu_us_per_event": round(cpu / args.publish * 1e6, 1),
    }


async def _post_all(url: str, key: str, count: int, concurrency: int) -> float:
    media = max(1, count // LIFE)
    batches = [
        [
            {"event": EVENT_TYPE, "site_id": SITE_ID, "media_id": f"P{n % media:07d}"}
            for n in range(first, min(first + BATCH, count))
        ]
        for first in range(0, count, BATCH)
    ]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def client() -> None:
        async with httpx.AsyncClient(headers={"Authorization": key}, timeout=60) as http:
            while not queue.empty():
                response = await http.post(url, json={"events": queue.get_nowait()})
                if response.status_code != 202:
                    raise RuntimeError(f"publish answered {response.status_code}: {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ordering", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2, help="drains of each kind")
    parser.add_argument(
        "--media", type=int, help="the drains' events about this many media (default: one each)"
    )
    parser.add_argument("--publish", type=int, default=0, help="events for the publish run")
    parser.add_argument("--concurrency", type=int, default=4, help="publishing clients")
    parser.add_argument(
        "--publish-only-unordered",
        action="store_true",
        help="publish to an unordered webhook only (code without ordering: the 'before')",
    )
    args = parser.parse_args()
    if args.publish:
        kinds: list[str | None] = [None] if args.publish_only_unordered else [None, "resource"]
        for ordering in kinds:
            found = publish_rate(args, ordering)
            print(json.dumps({"publish_to": ordering or "unordered", **found}), flush=True)
    if args.rounds:
        print(json.dumps(drains(args)))


if __name__ == "__main__":
    main()
