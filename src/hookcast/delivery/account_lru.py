"""A least-recently-used cache partitioned by account: each account keeps at most
`per_account` entries and evicts only its own beyond that, so one tenant churning through
keys cannot push out the others'. `total` bounds the whole; past it the least recently used
account gives up its oldest entry."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["AccountLru"]

V = TypeVar("V")


class AccountLru(Generic[V]):
    """Entries named (account, key); every get and put counts as a use."""

    def __init__(self, *, per_account: int, total: int) -> None:
        if not 0 < per_account <= total:
            raise ValueError("need 0 < per_account <= total")
        self._per_account = per_account
        self._total = total
        self._size = 0
        # Accounts from least to most recently used, each with its keys in the same order.
        self._accounts: OrderedDict[str, OrderedDict[str, V]] = OrderedDict()

    def __len__(self) -> int:
        return self._size

    def get(self, account: str, key: str) -> V | None:
        """The entry, or None."""
        entries = self._accounts.get(account)
        if entries is None or key not in entries:
            return None
        entries.move_to_end(key)
        self._accounts.move_to_end(account)
        return entries[key]

    def put(self, account: str, key: str, value: V) -> None:
        """Keeps `value`, evicting first this account's oldest entry when it is full."""
        entries = self._accounts.setdefault(account, OrderedDict())
        self._accounts.move_to_end(account)
        if key in entries:
            entries[key] = value
            entries.move_to_end(key)
            return
        if len(entries) >= self._per_account:
            entries.popitem(last=False)
            self._size -= 1
        entries[key] = value
        self._size += 1
        while self._size > self._total:
            self._evict_oldest()

    def kept(self, account: str) -> int:
        """How many entries `account` holds."""
        return len(self._accounts.get(account, ()))

    def _evict_oldest(self) -> None:
        account, entries = next(iter(self._accounts.items()))
        entries.popitem(last=False)
        self._size -= 1
        if not entries:
            del self._accounts[account]
