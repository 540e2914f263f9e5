"""Per-webhook controls end to end, through the API and real workers against loopback
peers: custom headers on the wire (and nowhere in clear at rest or in the log), a rate limit
that holds across two workers on PostgreSQL, and mutual TLS with a server that demands a
client certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from delivery_harness import Deployment, require_sqlite, settings_for, with_options
from raw_servers import OK, answer, raw_server
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.cli.runtime import Runtime
from hookcast.store import to_async_url
from hookcast.store.tables import metadata
from support.certificates import make_pki

GATEWAY_KEY = "gw-key-5f1c0e9a7b"


async def _raw_dump(database_url: str) -> str:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            rows = [
                [dict(row) for row in (await conn.execute(select(table))).mappings()]
                for table in metadata.sorted_tables
            ]
    finally:
        await engine.dispose()
    return repr(rows)


async def test_custom_headers_reach_the_receiver_and_are_kept_secret_elsewhere(
    hookcast: Deployment, database_url: str
) -> None:
    receiver = await hookcast.receiver()
    headers = {"X-Gateway-Key": GATEWAY_KEY, "X-Route": "blue"}
    hook = await hookcast.hook_for(receiver, headers=headers)
    hookcast.start_worker()

    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    (received,) = await receiver.wait_for(1)
    await hookcast.wait_for_status(hook["id"], "succeeded", 1)

    assert received.headers["X-Gateway-Key"] == GATEWAY_KEY
    assert received.headers["X-Route"] == "blue"
    receiver.assert_all_verified()  # the signatures are HookCast's, untouched
    shown = (await hookcast.webhook(hook["id"]))["metadata"]["headers"]
    assert shown == {"X-Gateway-Key": "[redacted]", "X-Route": "[redacted]"}
    log = (await hookcast.api.get(f"/v2/webhooks/{hook['id']}/deliveries/")).text
    assert "X-Gateway-Key" in log
    assert GATEWAY_KEY not in log
    assert GATEWAY_KEY not in await _raw_dump(database_url)


async def _rate_limited_run(
    hookcast: Deployment, database_url: str, *, workers: int, events: int, **limit: Any
) -> tuple[list[float], dict[str, Any]]:
    """Publishes `events` to a rate-limited webhook with `workers` workers (each with its
    own connections); returns the arrival times and the webhook."""
    others = [await Runtime.open(settings_for(database_url)) for _ in range(workers - 1)]
    try:
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver, **limit)
        # On SQLite the one delivering process keeps the buckets itself (sole_worker).
        options = with_options(
            concurrency=16,
            prefetch=64,
            idle_wait_seconds=0.05,
            sole_worker=database_url.startswith("sqlite"),
        )
        for runtime in [hookcast.runtime, *others]:
            hookcast.start_worker(options, runtime=runtime)
        await hookcast.publish_media(events)
        await hookcast.wait_for_status(hook["id"], "succeeded", events, timeout=60)
        delivered = await receiver.wait_for(events)
        assert sorted(receiver.event_ids()) == sorted(set(receiver.event_ids()))
        return sorted(item.arrived for item in delivered), hook
    finally:
        for worker in hookcast.workers:  # before the stores they use are closed
            await worker.close()
        hookcast.workers.clear()
        for runtime in others:
            await runtime.store.close()


def _most_in_a_window(arrivals: list[float], seconds: float) -> int:
    return max(sum(1 for at in arrivals if start <= at < start + seconds) for start in arrivals)


@pytest.mark.timeout(90)
async def test_a_rate_limit_holds_across_workers_and_delays_without_failing(
    hookcast: Deployment, database_url: str
) -> None:
    # SQLite takes one delivering process (docs/operations.md); PostgreSQL two workers, each
    # with its own connection pool, sharing the webhook's bucket in the database.
    workers = 2 if database_url.startswith("postgres") else 1
    rate, burst, events = 5.0, 3, 25

    arrivals, hook = await _rate_limited_run(
        hookcast,
        database_url,
        workers=workers,
        events=events,
        rate_limit_per_second=rate,
        rate_limit_burst=burst,
    )

    # Admissions obey burst + rate x window exactly; arrivals differ from them by the
    # request's own latency, so a window of arrivals may catch up to 0.2 s more of them.
    for window in (0.5, 1.0, 2.0):
        assert _most_in_a_window(arrivals, window) <= burst + rate * (window + 0.2), window
    assert arrivals[-1] - arrivals[0] >= (events - burst) / rate - 0.2
    done = await hookcast.deliveries(hook["id"], page_length=100)
    assert {item["status"] for item in done["deliveries"]} == {"succeeded"}
    assert {item["attempts"] for item in done["deliveries"]} == {1}  # waiting is no attempt


async def test_mutual_tls_lets_the_webhook_with_the_certificate_in_and_refuses_the_other(
    hookcast: Deployment, database_url: str, tmp_path: Path
) -> None:
    require_sqlite(database_url)
    pki = make_pki(tmp_path)
    async with raw_server(answer(OK), tls=pki.server_context(require_client=True)) as server:
        url = f"https://127.0.0.1:{server.port}/hooks"
        with_certificate = await hookcast.create_webhook(
            url, client_certificate=pki.client().as_metadata(), name="mtls"
        )
        without = await hookcast.create_webhook(url, retry_policy=[0.1], name="plain")
        hookcast.start_worker(ca_file=str(pki.ca_file))

        await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
        await hookcast.wait_for_status(with_certificate["id"], "succeeded", 1)
        (failed,) = await hookcast.wait_for_status(without["id"], "failed", 1)

    assert len(server.requests) == 1
    assert server.requests[0].headers["webhook-id"] is not None
    shown = (await hookcast.webhook(with_certificate["id"]))["metadata"]["client_certificate"]
    assert shown["subject"] == "CN=hookcast-client"
    assert "private_key" not in shown
    assert failed["attempts"] == 2
