"""The ceiling contestant: a raw aiohttp client POSTing signed events, no persistence at all
(what any Python deliverer pays for HTTP alone). One process on uvloop.

Run: python -m benchmarks.rawclient --url http://127.0.0.1:9000/hook --count 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from benchmarks.payloads import delivery_body, event_id, signed_headers


async def deliver_all(
    url: str, count: int, concurrency: int, secret: str, phase: str
) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    failures = 0
    next_number = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def lane() -> None:
            nonlocal failures, next_number
            while next_number < count:
                number = next_number
                next_number += 1
                body = delivery_body(phase, number)
                headers = signed_headers(secret, body, event_id(phase, number))
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status >= 300:
                        failures += 1

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return {"seconds": time.perf_counter() - started, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--secret", default="")
    parser.add_argument("--phase", default="raw")
    parser.add_argument(
        "--linger", type=float, default=0.0, help="seconds to idle after the last delivery"
    )
    args = parser.parse_args()
    import uvloop

    cpu = time.process_time()
    result = uvloop.run(
        deliver_all(args.url, args.count, args.concurrency, args.secret, args.phase)
    )
    # The delivery loop's own CPU time, start-up (interpreter, imports) left out.
    result["cpu_seconds"] = time.process_time() - cpu
    print(json.dumps(result), flush=True)
    # The harness reads this process's CPU time after the last delivery, then stops it.
    time.sleep(args.linger)


if __name__ == "__main__":
    main()
