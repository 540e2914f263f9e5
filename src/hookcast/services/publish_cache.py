"""What a publish needs to know about an account, kept between publishes.

Before it writes, a publish needs the account's API keys (is the caller's key still
there?), which of its sites exist, and its webhooks with their conditions (the disabled
ones too: they get held deliveries). Reading them took three queries and a decryption per
webhook, several times the cost of the write itself, for facts that rarely change. So they
are kept here, each account's under the configuration version read before them
(`Store.config_version`), and the publish has the store check that version inside its write
transaction (`ConfigVersion`): if a key, a site or a webhook changed since, the write is
refused (`ConfigChanged`), the account is read again and the publish retried. A publish
never acts on anything older than what its own transaction would have read, on any number
of API servers.

Publishes that miss the same entry at once share one read of it (`_Reads`); if it fails, it
fails the publish that began it, and the others try once more (together). A fresh `serve`
taking 16 concurrent publishers used to read the key, the account and its site 16 times
over, each read on a connection of its own: the pool opened 16 PostgreSQL backends for the
first requests instead of 3, each paying its start-up (~15 ms of PostgreSQL's CPU), asyncpg's
type look-ups (~7 ms each) and its plans (docs/benchmarks/postgres-publishing.md, "The first
requests' reads shared").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from hookcast.domain.fanout import Subscribers
from hookcast.domain.models import Role
from hookcast.ports import Store

__all__ = ["AccountConfig", "KnownKey", "PublishCache"]


@dataclass(slots=True)
class AccountConfig:
    """An account's publishing configuration as of `version`."""

    account_id: str
    version: int
    subscribers: Subscribers
    key_ids: frozenset[str]
    sites: set[str] = field(default_factory=set)  # known to exist; filled as publishes ask


@dataclass(frozen=True, slots=True)
class KnownKey:
    """What an API key's secret hash stands for. A key's account and role never change (a
    key is only created or deleted), so this needs no version: whether the key still exists
    is `AccountConfig.key_ids`, checked at the version the publish commits against."""

    id: str
    account_id: str
    role: Role


class PublishCache:
    def __init__(self, store: Store, *, max_accounts: int = 10_000) -> None:
        self._store = store
        self._max = max_accounts
        self._accounts: dict[str, AccountConfig] = {}
        self._keys: dict[str, KnownKey] = {}
        self._key_reads: _Reads[str, KnownKey | None] = _Reads()
        self._account_reads: _Reads[str, AccountConfig] = _Reads()
        self._site_reads: _Reads[tuple[str, ...], set[str]] = _Reads()

    async def key(self, secret_hash: str) -> KnownKey | None:
        """The key with this secret hash, if it existed when first asked (unknown hashes are
        never remembered: each costs a query, as without the cache)."""
        known = self._keys.get(secret_hash)
        if known is None:
            known, fresh = await self._key_reads.read(
                secret_hash, lambda: self._read_key(secret_hash)
            )
            if known is None and not fresh:
                # The read joined may have begun before the key was made: a refusal reads anew.
                known = await self._read_key(secret_hash)
        return known

    async def _read_key(self, secret_hash: str) -> KnownKey | None:
        found = await self._store.find_api_key(secret_hash)
        if found is None:
            return None
        known = KnownKey(id=found.id, account_id=found.account_id, role=found.role)
        _remember(self._keys, secret_hash, known, limit=self._max * 10)
        return known

    async def account(self, account_id: str) -> AccountConfig:
        config = self._accounts.get(account_id)
        if config is None:
            # One begun before a change is as good as any: the write checks the version.
            config, _ = await self._account_reads.read(account_id, lambda: self._read(account_id))
        return config

    async def _read(self, account_id: str) -> AccountConfig:
        # The version first: whatever is read after it is at least as new, so a change
        # made meanwhile moves the version past this one and fails the check.
        version = await self._store.config_version(account_id)
        webhooks = await self._store.publish_webhooks(account_id)
        keys = await self._store.list_api_keys(account_id)
        config = AccountConfig(
            account_id=account_id,
            version=version,
            subscribers=Subscribers(webhooks),
            key_ids=frozenset(key.id for key in keys),
        )
        # Not if forgotten meanwhile (`forget`): begun before a change, it would replace
        # what a read begun after it kept, and every publish would be refused once more.
        if self._account_reads.is_current(account_id):
            _remember(self._accounts, account_id, config, limit=self._max)
        return config

    async def account_for_key(self, account_id: str, key_id: str) -> AccountConfig | None:
        """The account's configuration if `key_id` is one of its keys, else None (revoked).

        A key missing from the kept configuration may be newer than it, so the account is
        read again before the key is refused; a refused key is also forgotten, so that its
        next use costs one lookup of its hash, as an unknown key does, and no re-read.
        """
        config = await self.account(account_id)
        if key_id in config.key_ids:
            return config
        self.forget(config)
        config = await self.account(account_id)
        if key_id in config.key_ids:
            return config
        for secret_hash in [h for h, known in self._keys.items() if known.id == key_id]:
            del self._keys[secret_hash]
        return None

    async def missing_sites(self, config: AccountConfig, site_ids: set[str]) -> set[str]:
        """Which of `site_ids` do not exist, asking the store only about sites not seen
        before (a publish's sites are nearly always known: one set difference, no query)."""
        unknown = site_ids - config.sites
        if unknown:
            asked = (config.account_id, *sorted(unknown))
            found, fresh = await self._site_reads.read(
                asked, lambda: self._store.existing_site_ids(asked[0], list(asked[1:]))
            )
            config.sites.update(found)
            unknown -= config.sites
            if unknown and not fresh:
                # The read joined may have begun before a site was made: a refusal reads anew.
                found = await self._store.existing_site_ids(config.account_id, sorted(unknown))
                config.sites.update(found)
                unknown -= config.sites
        return unknown

    def forget(self, config: AccountConfig) -> None:
        """`config` is out of date: the next publish for its account reads it again."""
        if self._accounts.get(config.account_id) is config:
            del self._accounts[config.account_id]
        # A read under way may have begun before what made `config` out of date: the next
        # publish must not wait for it, but read anew.
        self._account_reads.forget(config.account_id)


K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")
H = TypeVar("H", bound=Hashable)


class _Reads(Generic[H, R]):
    """Reads under way by what they read: a caller that asks for one under way waits for
    it instead of starting another."""

    def __init__(self) -> None:
        self._running: dict[H, asyncio.Task[R]] = {}

    async def read(self, key: H, start: Callable[[], Awaitable[R]]) -> tuple[R, bool]:
        """The result of the read of `key` under way, or of one `start` begins now, and
        whether it was begun now (a read joined may have begun before a change the caller
        knows of).

        A read that fails fails the caller that began it. One that joined it tries once
        more, in a read begun now or since (shared again): a database error or a timeout
        meeting one publish's read would otherwise fail every publish waiting on it.
        """
        task, fresh = self._under_way(key, start)
        try:
            return await _shielded(task), fresh
        except Exception:
            if fresh:
                raise
            task, fresh = self._under_way(key, start)  # after another caller's failure
            return await _shielded(task), fresh

    def _under_way(self, key: H, start: Callable[[], Awaitable[R]]) -> tuple[asyncio.Task[R], bool]:
        task = self._running.get(key)
        if task is not None and not task.done():
            return task, False
        task = asyncio.ensure_future(start())
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return task, True

    def forget(self, key: H) -> None:
        """The next read of `key` starts anew, whatever is under way."""
        self._running.pop(key, None)

    def is_current(self, key: H) -> bool:
        """Whether the read calling this is the one under way for `key` (not forgotten)."""
        return self._running.get(key) is asyncio.current_task()

    def _finished(self, key: H, task: asyncio.Task[R]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure reaches each waiter, never the loop's log


async def _shielded(task: asyncio.Task[R]) -> R:
    # A publisher that goes away (its client disconnected) must not cancel the read the
    # others wait for.
    return await asyncio.shield(task)


def _remember(entries: dict[K, V], key: K, value: V, *, limit: int) -> None:
    """Adds an entry, dropping the oldest when full (a bound, not an eviction policy: a
    dropped entry costs one read when next needed)."""
    if len(entries) >= limit:
        del entries[next(iter(entries))]
    entries[key] = value
