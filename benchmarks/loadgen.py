"""Load generators, run as their own processes so they never share a GIL with a contestant.

  pace-hookcast   open loop: single-event POST /v2/events/ at a fixed offered rate, on raw
                  keep-alive connections (benchmarks/pace_http.py); writes "<202 time>
                  <event id>" and "<send time> <event id>" lines for the latency join
  pace-celery     the same offered rate through Celery's deliver.delay()
  publish         closed loop: POST /v2/events/ as fast as C connections allow, in batches,
                  through aiohttp or (--client raw) on the same raw keep-alive connections
  enqueue-celery  queue N Celery tasks (the backlog the workers then drain)

Every mode prints one JSON line of results on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from benchmarks.payloads import delivery_body, event_id, published_event

if TYPE_CHECKING:
    from benchmarks.pace_http import Publisher

_MAX_IN_FLIGHT = 1024  # an open loop, but not an unbounded one


def _publisher(args: argparse.Namespace) -> Publisher:
    """Raw keep-alive connections to the API's `POST /v2/events/` with `args.key`."""
    from urllib.parse import urlsplit

    from benchmarks.pace_http import Publisher

    api = urlsplit(args.api)
    return Publisher(
        host=api.hostname or "127.0.0.1",
        port=api.port or 80,
        path=api.path.rstrip("/") + "/v2/events/",
        headers={"Authorization": args.key, "Content-Type": "application/json"},
    )


async def pace_hookcast(args: argparse.Namespace) -> dict[str, Any]:
    """Open loop: each publish is sent when it is due, on an idle keep-alive connection or a
    new one (benchmarks/pace_http.py); "sent" is the moment it was handed over, within a
    millisecond of its due time."""
    publisher = _publisher(args)
    total = int(args.rate * args.seconds)
    records: list[str] = []
    sent_at: list[str] = []  # when each accepted publish was sent: latency "from send"
    errors: list[str] = []
    in_flight = 0
    capped = 0
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    launched = 0

    def publish(number: int) -> None:
        nonlocal in_flight
        body = orjson.dumps(published_event(args.phase, number))
        sent = time.time()

        def done(status: int, returned: float, error: str) -> None:
            nonlocal in_flight
            in_flight -= 1
            if status == 202:
                records.append(f"{returned:.6f} {event_id(args.phase, number)}\n")
                sent_at.append(f"{sent:.6f} {event_id(args.phase, number)}\n")
            else:
                errors.append(error or f"HTTP {status}")
            if in_flight == 0 and launched == total and not finished.done():
                finished.set_result(None)

        in_flight += 1
        publisher.post(body, done)

    start = loop.time() + 0.05
    while launched < total:
        due = min(total, int((loop.time() - start) * args.rate) + 1)
        while launched < due:
            if in_flight >= _MAX_IN_FLIGHT:
                capped += 1
                break
            launched += 1
            publish(launched - 1)
        await asyncio.sleep(0.001)
    offered_seconds = loop.time() - start
    if in_flight:
        await asyncio.wait_for(finished, timeout=120)
    publisher.close()
    # Written once, after the timed run: a blocking write cannot skew what was measured.
    Path(args.out).write_text("".join(records), encoding="ascii")  # noqa: ASYNC240
    Path(args.sent_out).write_text("".join(sent_at), encoding="ascii")  # noqa: ASYNC240
    return {
        "published": len(records),
        "errors": len(errors),
        "first_errors": errors[:3],
        "offered_rate": args.rate,
        "achieved_rate": total / offered_seconds if offered_seconds > 0 else 0.0,
        "capped": capped,
    }


def pace_celery(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.celery_app import deliver

    total = int(args.rate * args.seconds)
    records = []
    start = time.monotonic() + 0.05
    for number in range(total):
        delay = start + number / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        deliver.delay(
            args.url,
            delivery_body(args.phase, number).decode(),
            args.secret,
            event_id(args.phase, number),
        )
        records.append(f"{time.time():.6f} {event_id(args.phase, number)}\n")
    offered_seconds = time.monotonic() - start
    # Written once, after the timed run: a blocking write cannot skew what was measured.
    Path(args.out).write_text("".join(records), encoding="ascii")
    return {
        "published": total,
        "errors": 0,
        "offered_rate": args.rate,
        "achieved_rate": total / offered_seconds if offered_seconds > 0 else 0.0,
    }


def enqueue_celery(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.celery_app import deliver

    started = time.perf_counter()
    for number in range(args.count):
        deliver.delay(
            args.url,
            delivery_body(args.phase, number).decode(),
            args.secret,
            event_id(args.phase, number),
        )
    seconds = time.perf_counter() - started
    return {"enqueued": args.count, "seconds": seconds, "rate": args.count / seconds}


async def _publish_raw(args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop: `concurrency` lanes each POST a batch (or one event) and wait for its
    answer, on raw keep-alive connections (benchmarks/pace_http.py: aiohttp's client cost
    ~280-330 µs of CPU per request, as much as the API server it measured on the same
    cores); the load generator's own CPU per request is reported beside the rate."""
    publisher = _publisher(args)
    batches = [
        list(range(first, min(first + args.batch, args.count)))
        for first in range(0, args.count, args.batch)
    ]
    errors: list[str] = []
    accepted = 0
    loop = asyncio.get_running_loop()

    async def post(body: bytes) -> tuple[int, str]:
        answered: asyncio.Future[tuple[int, str]] = loop.create_future()
        publisher.post(body, lambda status, _at, error: answered.set_result((status, error)))
        return await answered

    async def lane() -> None:
        nonlocal accepted
        while batches:
            numbers = batches.pop()
            events = [published_event(args.phase, n) for n in numbers]
            status, error = await post(
                orjson.dumps(events[0] if args.batch == 1 else {"events": events})
            )
            if status == 202:
                accepted += len(numbers)
            else:
                errors.append(error or f"HTTP {status}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(args.concurrency)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    publisher.close()
    requests = -(-accepted // args.batch)
    return {
        **_published(accepted, errors, seconds=seconds, batch=args.batch),
        "loadgen_cpu_us_per_request": round(cpu / max(requests, 1) * 1e6, 1),
    }


async def _publish_aiohttp(args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop through aiohttp's client: `concurrency` connections each POST a batch (or
    one event) and wait."""
    import aiohttp

    url = args.api.rstrip("/") + "/v2/events/"
    headers = {"Authorization": args.key, "Content-Type": "application/json"}
    batches = [
        list(range(first, min(first + args.batch, args.count)))
        for first in range(0, args.count, args.batch)
    ]
    errors: list[str] = []
    accepted = 0
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.concurrency)
    ) as session:

        async def lane() -> None:
            nonlocal accepted
            while batches:
                numbers = batches.pop()
                events = [published_event(args.phase, n) for n in numbers]
                body = orjson.dumps(events[0] if args.batch == 1 else {"events": events})
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status == 202:
                        accepted += len(numbers)
                    else:
                        errors.append(f"HTTP {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(args.concurrency)))
        seconds = time.perf_counter() - started
    return _published(accepted, errors, seconds=seconds, batch=args.batch)


def _published(accepted: int, errors: list[str], *, seconds: float, batch: int) -> dict[str, Any]:
    """What a closed-loop publish run reports, whichever client sent it."""
    return {
        "accepted": accepted,
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": seconds,
        "events_per_second": accepted / seconds,
        "requests_per_second": -(-accepted // batch) / seconds,
    }


async def publish(args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop, on raw connections (`--client raw`) or through aiohttp (the default, as
    the phases measured so far: benchmarks.balance and benchmarks.scaling use it)."""
    return await (_publish_raw(args) if args.client == "raw" else _publish_aiohttp(args))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["pace-hookcast", "pace-celery", "publish", "enqueue-celery"]
    )
    parser.add_argument("--api", default="")
    parser.add_argument("--key", default="")
    parser.add_argument("--url", default="", help="receiver URL (Celery modes)")
    parser.add_argument("--secret", default="")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--phase", default="load")
    parser.add_argument("--client", choices=["aiohttp", "raw"], default="aiohttp")
    parser.add_argument("--out", default="/dev/null")
    parser.add_argument("--sent-out", default="/dev/null", help="send times (pace-hookcast)")
    args = parser.parse_args()
    import uvloop

    if args.mode == "pace-hookcast":
        result = uvloop.run(pace_hookcast(args))
    elif args.mode == "publish":
        result = uvloop.run(publish(args))
    elif args.mode == "pace-celery":
        result = pace_celery(args)
    else:
        result = enqueue_celery(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
