"""The publish-to-worker handoff of `hookcast serve`: deliveries created already leased to the
worker in the publishing process, handed over once committed, and still durable rows that
any worker claims once the lease expires."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from delivery_harness import Deployment
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hookcast.domain.models import Role
from hookcast.ports import ClaimedDelivery, Lease
from hookcast.resolver import SystemResolver
from hookcast.services import Caller, Policy, Services, build_services
from hookcast.store import SqlStore
from hookcast.tracing.otel import OtelTracer
from support.waiting import eventually

SITE = "1A23bCD4"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
EVENT = {"event": "media_available", "site_id": SITE, "media_id": "MNYaMSQl"}


class RecordingHandoff:
    def __init__(self, room: int) -> None:
        self.room = room
        self.taken: list[ClaimedDelivery] = []
        self.until: list[datetime] = []

    def lease(self) -> Lease | None:
        return (
            Lease(token="handoff-token", until=NOW + LEASE, room=self.room) if self.room else None
        )

    def take(self, leased: Sequence[ClaimedDelivery], until: datetime) -> None:
        self.taken.extend(leased)
        self.until.append(until)


async def _services_with_webhooks(
    store: SqlStore, count: int
) -> tuple[Services, Caller, list[str]]:
    services = build_services(store, clock=lambda: NOW, resolver=SystemResolver(), policy=Policy())
    account = (await services.accounts.default_account()).id
    editor = Caller(account_id=account, role=Role.EDITOR)
    await services.sites.create(editor, name="Main", site_id=SITE)
    hooks = []
    for number in range(count):
        hook = await services.webhooks.create(
            editor,
            {
                "name": f"hook {number}",
                # public IP literals: accepted without DNS; nothing is sent in these tests
                "webhook_url": f"https://93.184.215.{number + 1}/hooks",
                "events": ["media_available"],
                "site_ids": [SITE],
            },
        )
        hooks.append(hook.id)
    return services, editor, hooks


async def test_a_publish_hands_its_committed_deliveries_to_the_worker(store: SqlStore) -> None:
    services, editor, hooks = await _services_with_webhooks(store, 2)
    handoff = RecordingHandoff(room=10)
    services.events.handoff = handoff

    (event_id,) = await services.events.publish(editor, EVENT)

    assert sorted(c.webhook.id for c in handoff.taken) == sorted(hooks)
    assert {c.event.id for c in handoff.taken} == {event_id}
    assert {c.lease_token for c in handoff.taken} == {"handoff-token"}
    assert handoff.until == [NOW + LEASE]  # the worker starts nothing that could outlast it
    # Leased in the database as well: no other worker claims them while the lease holds...
    assert await store.claim_due_deliveries(now=NOW, limit=10, lease_seconds=30) == []
    # ...and once it has expired (the process died before sending), any worker does.
    reclaimed = await store.claim_due_deliveries(now=NOW + LEASE, limit=10, lease_seconds=30)
    assert sorted(c.delivery.id for c in reclaimed) == sorted(c.delivery.id for c in handoff.taken)


async def test_beyond_the_workers_room_deliveries_are_due_for_any_worker(store: SqlStore) -> None:
    services, editor, _hooks = await _services_with_webhooks(store, 3)
    handoff = RecordingHandoff(room=1)
    services.events.handoff = handoff

    await services.events.publish(editor, EVENT)

    assert len(handoff.taken) == 1
    due = await store.claim_due_deliveries(now=NOW, limit=10, lease_seconds=30)
    assert len(due) == 2
    assert {c.delivery.id for c in due}.isdisjoint(c.delivery.id for c in handoff.taken)


async def test_without_a_worker_or_room_nothing_is_handed_over(store: SqlStore) -> None:
    services, editor, _hooks = await _services_with_webhooks(store, 1)
    full = RecordingHandoff(room=0)

    await services.events.publish(editor, EVENT)  # no handoff at all
    services.events.handoff = full
    await services.events.publish(editor, {**EVENT, "media_id": "Other001"})

    assert full.taken == []
    assert len(await store.claim_due_deliveries(now=NOW, limit=10, lease_seconds=30)) == 2


async def test_a_republished_event_hands_over_nothing_new(store: SqlStore) -> None:
    services, editor, _hooks = await _services_with_webhooks(store, 1)
    handoff = RecordingHandoff(room=10)
    services.events.handoff = handoff

    await services.events.publish(editor, {**EVENT, "event_id": "same-id"})
    await services.events.publish(editor, {**EVENT, "event_id": "same-id"})

    assert len(handoff.taken) == 1


async def test_handed_over_deliveries_carry_the_publishs_traceparent(store: SqlStore) -> None:
    # In `serve` the worker's attempts continue the trace without reading the event back.
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    services = build_services(
        store,
        clock=lambda: NOW,
        resolver=SystemResolver(),
        policy=Policy(),
        tracer=OtelTracer(provider),
    )
    account = (await services.accounts.default_account()).id
    editor = Caller(account_id=account, role=Role.EDITOR)
    await services.sites.create(editor, name="Main", site_id=SITE)
    await services.webhooks.create(
        editor,
        {
            "name": "hook",
            "webhook_url": "https://93.184.215.1/hooks",
            "events": ["media_available"],
            "site_ids": [SITE],
        },
    )
    handoff = RecordingHandoff(room=10)
    services.events.handoff = handoff

    await services.events.publish(editor, EVENT)

    (fanout,) = spans.get_finished_spans()
    assert fanout.context is not None
    context = fanout.context
    flags = int(context.trace_flags)  # sampled, and "random" on recent SDKs (Trace Context 2)
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert [c.event.traceparent for c in handoff.taken] == [expected]


async def test_in_one_process_a_published_event_arrives_without_a_claim(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    store = hookcast.runtime.store
    claimed: list[int] = []
    claim = store.claim_due_deliveries

    async def counting_claim(**kwargs: Any) -> Sequence[ClaimedDelivery]:
        found = await claim(**kwargs)
        claimed.append(len(found))
        return found

    store.claim_due_deliveries = counting_claim  # type: ignore[method-assign]
    running = hookcast.start_worker()
    hookcast.runtime.services.events.handoff = running.worker  # as Runtime.run_worker does
    # A worker takes deliveries once its loop runs (serve starts it before serving).
    await eventually(lambda: running.worker.lease() is not None)

    ids = await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    await receiver.wait_for_events(set(ids))

    receiver.assert_all_verified()
    (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    assert delivery["attempts"] == 1
    assert sum(claimed) == 0  # sent from the handoff, not claimed from the database
