"""AccountLru: each account evicts only its own entries, and the whole stays bounded."""

from __future__ import annotations

import pytest

from hookcast.delivery.account_lru import AccountLru


def test_an_account_past_its_share_evicts_its_own_least_recently_used() -> None:
    cache: AccountLru[int] = AccountLru(per_account=2, total=10)
    cache.put("other", "x", 0)
    cache.put("a", "k1", 1)
    cache.put("a", "k2", 2)
    assert cache.get("a", "k1") == 1  # k2 is now a's oldest
    cache.put("a", "k3", 3)

    assert (cache.get("a", "k2"), cache.get("a", "k1"), cache.get("a", "k3")) == (None, 1, 3)
    assert cache.get("other", "x") == 0
    assert len(cache) == 3


def test_many_accounts_stay_within_the_total_least_recently_used_account_first() -> None:
    cache: AccountLru[int] = AccountLru(per_account=2, total=3)
    cache.put("old", "k", 1)
    cache.put("mid", "k", 2)
    cache.put("new", "k", 3)
    cache.get("old", "k")
    cache.put("newest", "k", 4)

    assert len(cache) == 3
    assert cache.get("mid", "k") is None
    assert (cache.get("old", "k"), cache.kept("new"), cache.kept("newest")) == (1, 1, 1)


def test_a_share_larger_than_the_whole_is_refused() -> None:
    with pytest.raises(ValueError, match="per_account"):
        AccountLru[int](per_account=5, total=4)
