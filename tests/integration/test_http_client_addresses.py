"""Where HttpSender connects: name lookups one account's DNS cannot stall for another, and
hosts with several addresses, the first of which may be dead."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from raw_servers import OK, answer, open_sender, post, raw_server

from hookcast.ports import LookupTimeout


class OneSlowName:
    """A ports.Resolver whose answer for `slow` comes only once released, as a timeout."""

    def __init__(self, slow: str) -> None:
        self.slow = slow
        self.release = asyncio.Event()
        self.asked: list[str] = []

    async def resolve(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host == self.slow:
            await self.release.wait()
            raise LookupTimeout(host)
        return ["127.0.0.1"]


async def test_one_names_slow_dns_neither_delays_nor_fails_another_names_delivery() -> None:
    resolver = OneSlowName("slow.example.test")
    async with raw_server(answer(OK)) as server, open_sender(resolver=resolver) as sender:
        stuck = [
            asyncio.create_task(
                post(sender, f"http://slow.example.test:{server.port}/", timeout=30)
            )
            for _ in range(20)
        ]
        other = await asyncio.wait_for(
            post(sender, f"http://fast.example.test:{server.port}/"), timeout=2.0
        )
        assert not any(task.done() for task in stuck)
        resolver.release.set()
        failed = await asyncio.gather(*stuck)
        again = await post(sender, f"http://slow.example.test:{server.port}/")

    assert (other.status_code, other.error) == (200, None)
    # Told apart from "does not resolve", and retried as a temporary failure by the policy.
    assert {o.error for o in [*failed, again]} == {"DNS lookup of slow.example.test timed out"}
    assert resolver.asked.count("slow.example.test") == 1  # one lookup; the failure is kept
