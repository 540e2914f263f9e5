"""Hub: in-process publishing with the API's rules, and (PostgreSQL) inside the platform's
own transaction, so its write and its event commit or roll back together."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookcast import Hub
from hookcast.bootstrap import utc_now
from hookcast.domain.errors import LimitExceeded, ValidationFailed
from hookcast.domain.models import Role
from hookcast.ports import DeliveryQuery, EventQuery
from hookcast.resolver import SystemResolver
from hookcast.services import Caller, Policy, build_services
from hookcast.store import SqlStore, to_async_url
from hookcast.tracing.otel import OtelTracer

SITE = "1A23bCD4"


@pytest.fixture
async def hub(store: SqlStore) -> AsyncIterator[Hub]:
    async with Hub(store) as opened:  # a store passed in stays open: the fixture closes it
        yield opened


async def _account_site_webhook(store: SqlStore) -> tuple[str, str]:
    services = build_services(store, clock=utc_now, resolver=SystemResolver(), policy=Policy())
    account = (await services.accounts.default_account()).id
    editor = Caller(account_id=account, role=Role.EDITOR)
    await services.sites.create(editor, name="Main", site_id=SITE)
    # a public IP literal: accepted without DNS; nothing is ever delivered in these tests
    hook = await services.webhooks.create(
        editor,
        {
            "name": "ready",
            "webhook_url": "https://93.184.215.14/hooks",
            "events": ["media_available"],
            "site_ids": [SITE],
        },
    )
    return account, hook.id


async def _counts(store: SqlStore, account: str, webhook_id: str) -> tuple[int, int]:
    events = await store.list_events(EventQuery(account_id=account))
    deliveries = await store.list_deliveries(DeliveryQuery(account, webhook_id))
    return events.total, deliveries.total


async def test_publish_fans_out_like_the_api(hub: Hub, store: SqlStore) -> None:
    account, webhook_id = await _account_site_webhook(store)
    event_id = await hub.publish(
        event="media_available", site_id=SITE, media_id="MNYaMSQl", data={"tags": ["x"]}
    )
    ids = await hub.publish_many(
        [
            {"event": "media_available", "site_id": SITE, "media_id": "Other001"},
            {"event": "media_deleted", "site_id": SITE, "media_id": "Other001"},  # not subscribed
        ],
        account_id=account,
    )
    assert event_id.startswith("evt_")
    assert len(ids) == 2
    assert await _counts(store, account, webhook_id) == (3, 2)


async def test_the_api_rules_apply(hub: Hub, store: SqlStore) -> None:
    await _account_site_webhook(store)
    with pytest.raises(ValidationFailed, match="not a known event"):
        await hub.publish(event="media_exploded", site_id=SITE, media_id="MNYaMSQl")
    with pytest.raises(ValidationFailed, match="unknown site"):
        await hub.publish(event="media_available", site_id="Nowhere1", media_id="MNYaMSQl")
    with pytest.raises(ValidationFailed, match="media_id is required"):
        await hub.publish(event="media_available", site_id=SITE)


async def test_a_publish_past_its_count_of_arrays_and_objects_is_refused_whole(
    store: SqlStore,
) -> None:
    # Before: the count per publish was read only in an HTTP body (services/events.py
    # `check_body`), so a Hub batch of 1,000 events could hold 1,000 times the per-event
    # count, 10 million arrays and objects by default, where the API refuses 100,000.
    account, webhook_id = await _account_site_webhook(store)
    policy = Policy(max_containers_per_publish=50, max_containers_per_event=20)
    # {"events": [...]} is 2, each event 1, its data 1, "x" and its arrays 6: 2 + 6 x 8 = 50.
    batch = [
        {"event": "media_available", "site_id": SITE, "media_id": f"M{n}", "data": {"x": [[]] * 5}}
        for n in range(7)
    ]
    async with Hub(store, policy=policy) as hub:
        with pytest.raises(LimitExceeded, match="this publish holds 58 arrays and objects"):
            await hub.publish_many(batch, account_id=account)
        assert await _counts(store, account, webhook_id) == (0, 0)

        assert len(await hub.publish_many(batch[:6], account_id=account)) == 6
        assert await _counts(store, account, webhook_id) == (6, 6)


async def test_open_from_a_url(database_url: str, store: SqlStore, secret_key: bytes) -> None:
    await _account_site_webhook(store)
    async with await Hub.open(database_url, secret_key=secret_key.decode()) as hub:
        assert await hub.publish(event="channel_created", site_id=SITE, channel_id="Chan0001")


# --- the transactional outbox (PostgreSQL) ----------------------------------------------------

postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The platform's own engine and table, in the database HookCast uses."""
    engine = create_async_engine(to_async_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE media (id text PRIMARY KEY, status text)"))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _media(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT id FROM media"))).scalars())


@postgres_only
@pytest.mark.postgres
async def test_the_event_commits_with_the_platforms_write(
    hub: Hub, store: SqlStore, platform: AsyncEngine
) -> None:
    account, webhook_id = await _account_site_webhook(store)
    async with platform.begin() as conn:
        await conn.execute(text("INSERT INTO media VALUES ('MNYaMSQl', 'ready')"))
        await hub.publish(
            event="media_available", site_id=SITE, media_id="MNYaMSQl", connection=conn
        )
        assert await _counts(store, account, webhook_id) == (0, 0)  # not before the commit
    assert await _media(platform) == ["MNYaMSQl"]
    assert await _counts(store, account, webhook_id) == (1, 1)


@postgres_only
@pytest.mark.postgres
async def test_the_event_rolls_back_with_the_platforms_write(
    hub: Hub, store: SqlStore, platform: AsyncEngine
) -> None:
    account, webhook_id = await _account_site_webhook(store)

    class PlatformFailure(Exception):
        pass

    async def save_media_then_fail() -> None:
        async with platform.begin() as conn:
            await conn.execute(text("INSERT INTO media VALUES ('MNYaMSQl', 'ready')"))
            await hub.publish_many(
                [{"event": "media_available", "site_id": SITE, "media_id": "MNYaMSQl"}],
                connection=conn,
            )
            raise PlatformFailure("the platform's next step failed")

    with pytest.raises(PlatformFailure):
        await save_media_then_fail()
    assert await _media(platform) == []
    assert await _counts(store, account, webhook_id) == (0, 0)


@postgres_only
@pytest.mark.postgres
async def test_a_rule_violation_leaves_the_platforms_transaction_usable(
    hub: Hub, store: SqlStore, platform: AsyncEngine
) -> None:
    await _account_site_webhook(store)
    async with platform.begin() as conn:
        await conn.execute(text("INSERT INTO media VALUES ('MNYaMSQl', 'ready')"))
        with pytest.raises(ValidationFailed):
            await hub.publish(event="nope", site_id=SITE, media_id="x", connection=conn)
    assert await _media(platform) == ["MNYaMSQl"]


async def test_a_traced_publish_continues_the_callers_current_span(store: SqlStore) -> None:
    _account, hook_id = await _account_site_webhook(store)
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    host = provider.get_tracer("the platform")

    with host.start_as_current_span("the platform's request"):
        async with Hub(store, tracer=OtelTracer(provider)) as hub:
            event_id = await hub.publish(event="media_available", site_id=SITE, media_id="M1")

    fanout, request = spans.get_finished_spans()
    assert fanout.parent is not None
    assert request.context is not None
    assert fanout.context is not None
    assert fanout.parent.span_id == request.context.span_id
    (claimed,) = await store.claim_due_deliveries(now=utc_now(), limit=10, lease_seconds=30)
    assert (claimed.event_id, claimed.webhook.id) == (event_id, hook_id)
    traceparent = claimed.traceparent
    assert traceparent is not None
    assert traceparent.split("-")[1:3] == [
        f"{request.context.trace_id:032x}",
        f"{fanout.context.span_id:016x}",
    ]
