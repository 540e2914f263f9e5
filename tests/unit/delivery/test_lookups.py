"""HostLookups: one name's slow or failing DNS stays that name's problem, and the cache of
names stays bounded however many names accounts choose."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hookcast.delivery.lookups import HostLookups, LookupTimedOut, NotResolved
from hookcast.ports import LookupTimeout


class Resolver:
    """A ports.Resolver: `slow` names answer only once released, then time out."""

    def __init__(self, *, slow: Sequence[str] = (), missing: Sequence[str] = ()) -> None:
        self.slow = set(slow)
        self.missing = set(missing)
        self.release = asyncio.Event()
        self.asked: list[str] = []

    async def resolve(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host in self.slow:
            await self.release.wait()
            raise LookupTimeout(host)
        return [] if host in self.missing else ["192.0.2.1"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_slow_name_does_not_hold_up_another() -> None:
    resolver = Resolver(slow=["slow.test"])
    lookups = HostLookups(resolver)
    waiting = [asyncio.create_task(lookups.addresses("slow.test")) for _ in range(50)]

    assert await asyncio.wait_for(lookups.addresses("fast.test"), 1.0) == ("192.0.2.1",)
    assert not any(task.done() for task in waiting)
    resolver.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)

    assert {type(result) for result in results} == {LookupTimedOut}
    assert str(results[0]) == "DNS lookup of slow.test timed out"
    assert resolver.asked.count("slow.test") == 1  # fifty deliveries, one query


async def test_a_waiter_giving_up_does_not_cancel_the_lookup_for_others() -> None:
    resolver = Resolver(slow=["slow.test"])
    lookups = HostLookups(resolver)
    impatient = asyncio.create_task(lookups.addresses("slow.test"))
    patient = asyncio.create_task(lookups.addresses("slow.test"))
    await asyncio.sleep(0)
    impatient.cancel()
    resolver.release.set()

    with pytest.raises(LookupTimedOut):
        await patient
    assert resolver.asked == ["slow.test"]


@pytest.mark.parametrize(
    ("host", "error", "text"),
    [
        ("slow.test", LookupTimedOut, "DNS lookup of slow.test timed out"),
        ("gone.test", NotResolved, "gone.test does not resolve"),
    ],
)
async def test_failures_are_remembered_briefly(
    host: str, error: type[Exception], text: str
) -> None:
    resolver = Resolver(slow=["slow.test"], missing=["gone.test"])
    resolver.release.set()
    clock = Clock()
    lookups = HostLookups(resolver, ttl=30.0, failure_ttl=5.0, clock=clock)
    for _ in range(3):
        with pytest.raises(error, match=text):
            await lookups.addresses(host)
    assert resolver.asked == [host]

    clock.now += 5.0  # the failure TTL, not the answer's
    with pytest.raises(error):
        await lookups.addresses(host)
    assert resolver.asked == [host, host]


async def test_answers_are_kept_for_their_ttl() -> None:
    resolver = Resolver()
    clock = Clock()
    lookups = HostLookups(resolver, ttl=30.0, clock=clock)
    await lookups.addresses("a.test")
    clock.now += 29.0
    await lookups.addresses("a.test")
    clock.now += 1.0
    await lookups.addresses("a.test")

    assert resolver.asked == ["a.test", "a.test"]


async def test_many_names_do_not_grow_the_cache_past_its_bound() -> None:
    resolver = Resolver()
    lookups = HostLookups(resolver, max_hosts=100)
    for number in range(1000):
        await lookups.addresses(f"h{number}.test")
    await lookups.addresses("h999.test")  # recent names stay

    assert len(lookups) == 100
    assert resolver.asked.count("h999.test") == 1
