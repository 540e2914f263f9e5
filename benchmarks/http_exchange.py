"""python -m benchmarks.http_exchange: what HookCast's HTTP client costs per request, beside
the least an exchange on a kept-alive connection costs (issue 19, target 3).

`HttpSender.send` (delivery/sender.py and delivery/http1.py: the URL's parse, the SSRF
verdict, the pool and its slots, the deadline, the response's parse and capture, the
outcome) POSTs `--requests` requests into nginx (`return 204`, its own process), `--inflight`
at once, on the keep-alive connections its pool opened during a warm-up; the floor sends the
same requests' bytes (`http1.encode_request`, as the sender makes them) on as many
connections of its own to the same nginx, opened once and kept, one future per request,
resolved with httptools' status when the response is complete: no pool, no timeout, no
response capture. Both run in one process on `run_loop` (uvloop, `serve`'s settings), in
interleaved legs (A B B A after a warm-up of each, the order alternating process by process);
what is reported per process is the loop thread's CPU time per request (`time.thread_time`,
the whole turn of the loop included) of each, the mean of its two legs, and their
difference.

`--baseline-src DIR` runs another checkout's `src` in processes of its own, alternating with
this one's round by round (its order inside each process alternating too), so the two are
compared under the same load; each process takes one nginx log stretch, whose count must be
every request it sent. Loopback only, bounded, nginx stopped on the way out.

Run: python -m benchmarks.http_exchange --rounds 4 --baseline-src ../main/src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, REPO, BenchFailure
from benchmarks.durable_floor import MinimalConnection
from benchmarks.nginx import Nginx
from benchmarks.payloads import delivery_body, event_id
from benchmarks.procs import Children, cpu_times, steal_percent

_SECRET = "whsec_ZXhjaGFuZ2UtYmVuY2gtc2lnbmluZy1zZWNyZXQtMzJi"  # base64, as Standard Webhooks wants
_TIMEOUT_SECONDS = 30.0


Lane = Callable[[int], Awaitable[int]]  # sends `count` requests: how many were not a 204


async def _sides(
    url: str, inflight: int
) -> tuple[dict[str, list[Lane]], Callable[[], Awaitable[None]]]:
    """The sender's lanes and the floor's (each on a connection of its own), and what closes
    what they opened."""
    # Imported here: the child's PYTHONPATH decides whose HookCast this is.
    from hookcast.delivery.http1 import encode_request
    from hookcast.delivery.sender import HttpSender
    from hookcast.domain.addresses import parse_networks
    from hookcast.domain.signing import delivery_signer
    from hookcast.ports import OutboundRequest

    body = delivery_body("exchange", 1)
    headers = delivery_signer([_SECRET]).headers(body, event_id("exchange", 1), int(time.time()))
    request = OutboundRequest(
        url=f"{url}/hook", body=body, headers=headers, timeout_seconds=_TIMEOUT_SECONDS
    )
    # As `Runtime.worker()` builds it: the pool's bound is the worker's concurrency.
    sender = HttpSender(allowed=parse_networks("127.0.0.0/8"), per_host_limit=128)
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    made = [
        await loop.create_connection(MinimalConnection, host, int(port)) for _ in range(inflight)
    ]
    host_header = f"{host}:{port}"

    async def sender_lane(count: int) -> int:
        failed = 0
        for _ in range(count):
            outcome = await sender.send(request)
            failed += outcome.status_code != 204
        return failed

    def floor_lane(connection: MinimalConnection) -> Lane:
        async def lane(count: int) -> int:
            failed = 0
            for _ in range(count):
                data = encode_request(
                    host_header=host_header, target="/hook", headers=headers, body=body
                )
                failed += await connection.exchange(data) != 204
            return failed

        return lane

    async def close() -> None:
        for transport, _ in made:
            transport.close()
        await sender.close()

    lanes: dict[str, list[Lane]] = {
        "sender": [sender_lane] * inflight,
        "floor": [floor_lane(connection) for _, connection in made],
    }
    return lanes, close


async def _measure(url: str, *, requests: int, warmup: int, inflight: int, first: str) -> Any:
    sides, close = await _sides(url, inflight)

    async def run(side: str, total: int) -> tuple[float, int]:
        lanes = sides[side]
        shares = [total // inflight + (lane < total % inflight) for lane in range(inflight)]
        started = time.thread_time()
        failed = await asyncio.gather(*(lane(n) for lane, n in zip(lanes, shares, strict=True)))
        return (time.thread_time() - started) / total * 1e6, sum(failed)

    order = ["sender", "floor"] if first == "sender" else ["floor", "sender"]
    for side in order:
        await run(side, warmup)  # the pool's connections opened, caches filled
    legs: dict[str, list[float]] = {"sender": [], "floor": []}
    for side in [*order, *reversed(order)]:  # A B B A: a drift in the load falls on both
        us, failed = await run(side, requests)
        if failed:
            raise BenchFailure(f"{side}: {failed} of {requests} requests not answered 204")
        legs[side].append(us)
    found: dict[str, Any] = {"order": "-".join(order)}
    for side, values in legs.items():
        found[f"{side}_us"] = round(statistics.mean(values), 2)
        found[f"{side}_legs_us"] = [round(value, 2) for value in values]
    found["sent"] = 2 * warmup + 4 * requests
    await close()
    return found


def _child(args: argparse.Namespace) -> None:
    from hookcast.cli.loop import run_loop

    found = run_loop(
        _measure(
            args.child,
            requests=args.requests,
            warmup=args.warmup,
            inflight=args.inflight,
            first=args.first,
        )
    )
    print(json.dumps(found))


def _run(
    nginx: Nginx, args: argparse.Namespace, *, label: str, src: str | None, first: str
) -> dict[str, Any]:
    """One process's round: its figures, the load and steal around it, and nginx's count."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{src}:{REPO}" if src else str(REPO)
    machine = cpu_times()
    load = Path("/proc/loadavg").read_text().split()[0]
    with nginx.stretch(label) as arrived:
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                "benchmarks.http_exchange",
                *("--child", nginx.url, "--first", first),
                *("--requests", str(args.requests), "--warmup", str(args.warmup)),
                *("--inflight", str(args.inflight)),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=REPO,
            env=env,
        )
    if out.returncode != 0:
        raise BenchFailure(f"{label}: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if arrived[0].requests != result["sent"]:
        raise BenchFailure(f"{label}: nginx logged {arrived[0].requests} of {result['sent']}")
    result["sender_minus_floor_us"] = round(result["sender_us"] - result["floor_us"], 2)
    result["sender_over_floor"] = round(result["sender_us"] / result["floor_us"], 3)
    result |= {"side": label.partition("-")[0], "load": load}
    result["steal"] = steal_percent(machine, cpu_times())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_exchange", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--inflight", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline-src", help="the src directory of the code to compare with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--first", default="sender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    work = Path(tempfile.mkdtemp(prefix="hookcast-exchange-"))
    children = Children(work)
    rows: list[dict[str, Any]] = []
    try:
        nginx = Nginx(children, work)
        sides = {"this": None} | ({"baseline": args.baseline_src} if args.baseline_src else {})
        for number in range(args.rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            first = "sender" if number % 2 == 0 else "floor"
            for name in order:
                row = _run(nginx, args, label=f"{name}-{number}", src=sides[name], first=first)
                row["round"] = number
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(_summary(rows, baseline=bool(args.baseline_src))))


def _summary(rows: list[dict[str, Any]], *, baseline: bool) -> dict[str, Any]:
    """Each side's medians and ranges, and per round this side's sender over the baseline's."""
    summary: dict[str, Any] = {}
    for side in ("this", "baseline") if baseline else ("this",):
        mine = [row for row in rows if row["side"] == side]
        for key in ("sender_us", "floor_us", "sender_minus_floor_us"):
            values = [row[key] for row in mine]
            summary[f"{side}_{key}"] = [
                round(statistics.median(values), 2),
                min(values),
                max(values),
            ]
    if baseline:
        ratios = []
        for number in sorted({row["round"] for row in rows}):
            pair = {row["side"]: row for row in rows if row["round"] == number}
            ratios.append(round(pair["this"]["sender_us"] / pair["baseline"]["sender_us"], 3))
        summary["this_over_baseline_sender"] = ratios
        summary["this_over_baseline_median"] = statistics.median(ratios)
    return summary


if __name__ == "__main__":
    main()
