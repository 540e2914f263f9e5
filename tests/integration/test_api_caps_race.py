"""The per-account caps hold under concurrency: creates racing at the bound on PostgreSQL
leave exactly the bound, and those refused get the API's error format, never a 5xx.

Deterministic, without sleeps: a third session holds a SHARE lock on the table the creates
insert into (a gate), so each create has done whatever it does before its insert when the
gate opens; only then are they let go together. Counting before the insert (as the caps
once did), every one of them passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from harness import SITE_ID, Api, assert_error, open_api, webhook_metadata

from hookcast.domain.models import Role
from hookcast.services.accounts import MAX_API_KEYS_PER_ACCOUNT
from support.lock_race import waiting
from support.waiting import eventually

MAX_WEBHOOKS = 3
RACERS = 4


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: its creates cannot race")
    async with open_api(database_url, max_webhooks_per_account=MAX_WEBHOOKS) as opened:
        await opened.site(SITE_ID)
        yield opened


@asynccontextmanager
async def _gate(url: str, table: str) -> AsyncIterator[None]:
    """Writers into `table` wait inside the block; they go on once it ends."""
    gate = await asyncpg.connect(url)
    try:
        async with gate.transaction():
            await gate.execute(f"LOCK TABLE {table} IN SHARE MODE")
            yield
    finally:
        await gate.close()


async def _race(
    url: str, table: str, create: Callable[[], Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    """RACERS creates, each held at its insert until all are, then let go together."""
    async with _gate(url, table):
        racing = [asyncio.ensure_future(create()) for _ in range(RACERS)]
        await eventually(
            lambda: waiting(url, RACERS), message=f"{RACERS} creates never all met the gate"
        )
    return list(await asyncio.gather(*racing))


def _created_and_refused(responses: list[httpx.Response], what: str) -> int:
    """How many were created; every other one is a 400 limit_exceeded naming the cap."""
    created = [response for response in responses if response.status_code == 201]
    for refused in (response for response in responses if response.status_code != 201):
        assert f"at most {what}" in assert_error(refused, 400, "limit_exceeded")
    return len(created)


async def _total(api: Api, path: str) -> int:
    listed = await api.call("GET", path)
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


async def test_webhook_creates_racing_at_the_cap_leave_exactly_the_cap(
    api: Api, database_url: str
) -> None:
    for _ in range(MAX_WEBHOOKS - 1):
        await api.webhook([SITE_ID])
    body = {"metadata": webhook_metadata([SITE_ID])}

    responses = await _race(
        database_url, "webhooks", lambda: api.call("POST", "/v2/webhooks/", json=body)
    )

    assert _created_and_refused(responses, f"{MAX_WEBHOOKS} webhooks") == 1
    assert await _total(api, "/v2/webhooks/") == MAX_WEBHOOKS


async def test_api_key_creates_racing_at_the_cap_leave_exactly_the_cap(
    api: Api, database_url: str
) -> None:
    for _ in range(MAX_API_KEYS_PER_ACCOUNT - 2):  # besides the admin key the account has
        await api.runtime.services.accounts.issue_key(api.account_id, role=Role.PUBLISHER)
    body = {"metadata": {"role": "publisher"}}

    responses = await _race(
        database_url, "api_keys", lambda: api.call("POST", "/v2/api_keys/", json=body)
    )

    assert _created_and_refused(responses, f"{MAX_API_KEYS_PER_ACCOUNT} API keys") == 1
    assert await _total(api, "/v2/api_keys/") == MAX_API_KEYS_PER_ACCOUNT
