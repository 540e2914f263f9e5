"""PublishCache: publishes that miss the same entry at once share one read of it, a
refusal never rests on a read begun before the caller asked, and a failed read fails only
the publish whose read it was."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import pytest

from hookcast.domain.errors import Unavailable
from hookcast.domain.models import ApiKey, Webhook
from hookcast.ports import Store
from hookcast.services.publish_cache import AccountConfig, KnownKey, PublishCache
from support import factories as make

ACCOUNT = make.account()
KEY = make.api_key(ACCOUNT.id)
T = TypeVar("T")


class _GatedStore:
    """The reads a PublishCache makes, counted, each answering as of when it began and held
    until `opened` is set: what a fresh server's first concurrent publishes would ask
    PostgreSQL, each on a connection of its own."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self.opened = asyncio.Event()
        self.keys = {"hash": KEY}
        self.sites = {"SiteSite"}

    async def _read(self, name: str, answer: T) -> T:
        self.reads[name] += 1
        await self.opened.wait()
        return answer

    async def find_api_key(self, secret_hash: str) -> ApiKey | None:
        return await self._read("key", self.keys.get(secret_hash))

    async def config_version(self, account_id: str) -> int:
        return await self._read("version", 1)

    async def publish_webhooks(self, account_id: str) -> Sequence[Webhook]:
        return []

    async def list_api_keys(self, account_id: str) -> Sequence[ApiKey]:
        return list(self.keys.values())

    async def existing_site_ids(self, account_id: str, site_ids: Sequence[str]) -> set[str]:
        return await self._read("sites", self.sites & set(site_ids))


async def _asked(store: _GatedStore, name: str, times: int) -> None:
    """Runs the loop until the store has been asked `name` `times` times (bounded)."""
    for _ in range(100):
        if store.reads[name] >= times:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{name} asked {store.reads[name]} times, not {times}")


def _cache() -> tuple[PublishCache, _GatedStore]:
    store = _GatedStore()
    return PublishCache(cast(Store, store)), store


async def _account_read() -> tuple[PublishCache, _GatedStore, AccountConfig]:
    """A cache that has read the account once (the store counted it), its store closed."""
    cache, store = _cache()
    store.opened.set()
    config = await cache.account(ACCOUNT.id)
    store.opened.clear()
    return cache, store, config


async def _first_publish(cache: PublishCache) -> set[str]:
    key = await cache.key("hash")
    assert key is not None
    config = await cache.account(key.account_id)
    return await cache.missing_sites(config, {"SiteSite"})


async def _first_publishes(cache: PublishCache, count: int) -> list[Any]:
    return list(await asyncio.gather(*(_first_publish(cache) for _ in range(count))))


async def _first_publishes_each(cache: PublishCache, count: int) -> list[Any]:
    """As `_first_publishes`, each publish's error its outcome."""
    publishes = (_first_publish(cache) for _ in range(count))
    return list(await asyncio.gather(*publishes, return_exceptions=True))


async def test_sixteen_first_publishes_read_the_key_account_and_site_once() -> None:
    cache, store = _cache()
    publishing = asyncio.ensure_future(_first_publishes(cache, 16))
    await _asked(store, "key", 1)
    store.opened.set()
    assert await publishing == [set()] * 16
    assert store.reads == {"key": 1, "version": 1, "sites": 1}


class _FailingOnceStore(_GatedStore):
    """The first read of `failing` fails (the database restarting, a statement timing out)
    once opened; every other read answers."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def _read(self, name: str, answer: T) -> T:
        first = name == self.failing and not self.reads[name]
        found = await super()._read(name, answer)
        if first:
            raise Unavailable(f"the {name} read failed")
        return found


@pytest.mark.parametrize("failing", ["key", "version", "sites"])
async def test_a_shared_read_that_fails_fails_only_the_publish_whose_read_it_was(
    failing: str,
) -> None:
    store = _FailingOnceStore(failing)
    cache = PublishCache(cast(Store, store))
    publishing = asyncio.ensure_future(_first_publishes_each(cache, 16))
    await _asked(store, "key", 1)
    store.opened.set()
    outcomes = await publishing
    assert [type(outcome) for outcome in outcomes].count(Unavailable) == 1
    assert outcomes.count(set()) == 15
    # The 15 others tried once more, together: one read more, not 15.
    assert store.reads == {"key": 1, "version": 1, "sites": 1} | {failing: 2}


async def _asked_twice(
    store: _GatedStore,
    name: str,
    ask: Callable[[], Awaitable[T]],
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[asyncio.Future[T], asyncio.Future[T]]:
    """`ask` once, until its read of `name` is under way; then `meanwhile`, and `ask` again
    (which finds the read under way)."""
    early = asyncio.ensure_future(ask())
    await _asked(store, name, 1)
    meanwhile()
    late = asyncio.ensure_future(ask())
    await asyncio.sleep(0)  # its first step: it joins the read
    return early, late


def _is_the_key(known: KnownKey | None) -> bool:
    return known is not None and known.id == KEY.id


async def test_a_key_refused_by_a_read_begun_before_it_was_made_is_read_again() -> None:
    cache, store = _cache()
    store.keys = {}
    early, late = await _asked_twice(
        store, "key", lambda: cache.key("hash"), meanwhile=lambda: store.keys.update(hash=KEY)
    )
    store.opened.set()
    assert await early is None
    assert _is_the_key(await late)
    assert store.reads["key"] == 2


async def test_a_site_missing_from_a_read_begun_before_it_was_made_is_read_again() -> None:
    cache, store, config = await _account_read()
    store.sites = set()
    early, late = await _asked_twice(
        store,
        "sites",
        lambda: cache.missing_sites(config, {"SiteSite"}),
        meanwhile=lambda: store.sites.add("SiteSite"),
    )
    store.opened.set()
    assert await early == {"SiteSite"}
    assert await late == set()


async def test_a_publisher_gone_does_not_cancel_the_read_others_wait_for() -> None:
    cache, store = _cache()
    first, second = await _asked_twice(store, "key", lambda: cache.key("hash"))
    first.cancel()
    store.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert _is_the_key(await second)
    assert store.reads["key"] == 1


async def test_an_account_forgotten_is_read_anew_not_joined() -> None:
    cache, store, config = await _account_read()
    cache.forget(config)
    before_the_change = asyncio.ensure_future(cache.account(ACCOUNT.id))
    await _asked(store, "version", 2)
    cache.forget(config)  # a publish found `config` out of date meanwhile
    after_it = asyncio.ensure_future(cache.account(ACCOUNT.id))
    await _asked(store, "version", 3)
    store.opened.set()
    await asyncio.gather(before_the_change, after_it)
    assert store.reads["version"] == 3


class _ChangingStore(_GatedStore):
    """Each version read answers the version as of when it began, and is held until its own
    gate (in the order asked) is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.version = 1
        self.gates: list[asyncio.Event] = []

    async def config_version(self, account_id: str) -> int:
        version = self.version
        gate = asyncio.Event()
        self.gates.append(gate)
        self.reads["version"] += 1
        await gate.wait()
        return version


async def test_a_read_forgotten_under_way_leaves_the_newer_one_kept() -> None:
    store = _ChangingStore()
    cache = PublishCache(cast(Store, store))
    first = asyncio.ensure_future(cache.account(ACCOUNT.id))
    await _asked(store, "version", 1)
    store.gates[0].set()
    kept = await first
    store.version = 2  # a change: a publish with `kept` is refused and forgets it
    cache.forget(kept)
    before_the_next = asyncio.ensure_future(cache.account(ACCOUNT.id))
    await _asked(store, "version", 2)
    store.version = 3  # another, while that read is under way: it is forgotten too
    cache.forget(kept)
    after_it = asyncio.ensure_future(cache.account(ACCOUNT.id))
    await _asked(store, "version", 3)
    store.gates[2].set()
    assert (await after_it).version == 3
    store.gates[1].set()  # the forgotten read ends last
    assert (await before_the_next).version == 2  # its caller's write checks it
    # The next publish starts from version 3, not from the forgotten read's 2.
    assert (await cache.account(ACCOUNT.id)).version == 3
    assert store.reads["version"] == 3
