"""Signed-out dashboard sessions, on every backend."""

from __future__ import annotations

from hookcast.store import SqlStore
from support import factories as make


async def test_a_signed_out_session_is_refused_until_its_cookie_expires(store: SqlStore) -> None:
    assert not await store.is_signed_out("session-a")
    expires = make.later(3600)
    await store.sign_out_session("Account1", "session-a", expires=expires, now=make.NOW)
    await store.sign_out_session(
        "Account1", "session-a", expires=expires, now=make.NOW
    )  # twice: fine
    assert await store.is_signed_out("session-a")
    assert not await store.is_signed_out("session-b")

    # Once the cookie has expired the row is of no use: the next sign-out drops it.
    await store.sign_out_session("Account1", "session-b", expires=make.later(7200), now=expires)
    assert not await store.is_signed_out("session-a")
    assert await store.is_signed_out("session-b")
