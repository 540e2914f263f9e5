"""Per-webhook controls in the store, on SQLite and PostgreSQL: they round-trip, their
secrets are encrypted at rest, and the rate buckets every worker shares admit no more than
burst + rate (domain/delivery_rate.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.models import ClientCertificate, DeliveryRateLimit, Webhook
from hookcast.store import SqlStore, to_async_url
from hookcast.store.tables import webhook_rates, webhooks
from support import factories as make

KEY = "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n"
CERTIFICATE = ClientCertificate(
    certificate_pem="-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n",
    private_key_pem=KEY,
    fingerprint="ab" * 32,
    subject="CN=client",
    issuer="CN=ca",
    not_after=datetime(2030, 1, 1, tzinfo=UTC),
)
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


async def _webhook(store: SqlStore, **controls: object) -> Webhook:
    account = make.account()
    await store.create_account(account)
    hook = make.webhook(account.id, **controls)
    await store.create_webhook(hook)
    return hook


async def _raw_rows(database_url: str) -> list[dict[str, object]]:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(select(webhooks))).mappings()]
    finally:
        await engine.dispose()


async def test_controls_round_trip_and_their_secrets_are_encrypted(
    store: SqlStore, database_url: str
) -> None:
    hook = await _webhook(
        store,
        headers={"X-Api-Key": "gateway-secret-1", "X-Route": "blue"},
        rate_limit=DeliveryRateLimit(per_second=2.5, burst=4),
        client_certificate=CERTIFICATE,
    )

    found = await store.get_webhook(hook.account_id, hook.id)

    assert found is not None
    assert found.headers == {"X-Api-Key": "gateway-secret-1", "X-Route": "blue"}
    assert found.rate_limit == DeliveryRateLimit(per_second=2.5, burst=4)
    assert found.client_certificate == CERTIFICATE
    dump = repr(await _raw_rows(database_url))
    assert "gateway-secret-1" not in dump
    assert "secret-key-material" not in dump


async def test_a_webhook_without_controls_has_none_and_they_can_be_removed(
    store: SqlStore,
) -> None:
    hook = await _webhook(store, headers={"X-A": "1"}, client_certificate=CERTIFICATE)
    cleared = replace(hook, headers={}, rate_limit=None, client_certificate=None)

    await store.update_webhook(cleared, T0)
    found = await store.get_webhook(hook.account_id, hook.id)

    assert found is not None
    assert (found.headers, found.rate_limit, found.client_certificate) == ({}, None, None)
    assert make.webhook(hook.account_id).headers == {}


async def test_the_bucket_admits_a_burst_then_the_rate(store: SqlStore) -> None:
    hook = await _webhook(store)
    limit = DeliveryRateLimit(per_second=2.0, burst=3)

    first = [await store.admit_requests(hook.id, limit=limit, now=T0) for _ in range(4)]
    later = await store.admit_requests(hook.id, limit=limit, now=T0 + timedelta(seconds=0.5))
    batch = await store.admit_requests(hook.id, limit=limit, now=T0 + timedelta(seconds=2), count=5)

    assert [granted for granted, _ in first] == [1, 1, 1, 0]
    assert first[3][1] == T0 + timedelta(seconds=0.5)  # when the next one may go
    assert later[0] == 1
    assert batch == (3, T0 + timedelta(seconds=2.5))  # refilled 3 in 1.5 s: 3 of 5 go


async def test_a_raised_limit_starts_with_a_full_bucket(store: SqlStore) -> None:
    hook = await _webhook(store)
    slow = DeliveryRateLimit(per_second=0.01, burst=1000)
    emptied, _ = await store.admit_requests(hook.id, limit=slow, now=T0, count=1000)
    fast = DeliveryRateLimit(per_second=1000.0, burst=1000)
    await store.update_webhook(replace(hook, rate_limit=fast), T0)

    granted, _ = await store.admit_requests(hook.id, limit=fast, now=T0, count=10)

    assert emptied == 1000
    assert granted == 10  # not held until the slow bucket would have refilled, a day later


async def test_concurrent_admissions_never_pass_the_burst(store: SqlStore) -> None:
    # Each admission is its own transaction: on PostgreSQL they run on several connections
    # at once and the row lock serialises them; no read-modify-write is lost.
    hook = await _webhook(store)
    limit = DeliveryRateLimit(per_second=0.01, burst=5)

    answers = await asyncio.gather(
        *(store.admit_requests(hook.id, limit=limit, now=T0, count=2) for _ in range(10))
    )

    assert sum(granted for granted, _ in answers) == 5


async def test_a_bucket_goes_with_its_webhook(store: SqlStore, database_url: str) -> None:
    hook = await _webhook(store)
    await store.admit_requests(hook.id, limit=DeliveryRateLimit(1.0, 1), now=T0)

    assert await store.delete_webhook(hook.account_id, hook.id)

    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            left = (await conn.execute(select(webhook_rates))).all()
    finally:
        await engine.dispose()
    assert left == []
