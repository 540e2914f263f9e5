"""An edit of a webhook reaches its deliveries that a worker has claimed and queued but not
sent yet: after a new URL is saved, nothing more goes to the old one but what was already
in flight; after a pause or a deletion nothing more goes at all.

The worker beside the API shares its store, which tells it of each edit before the API
answers (`serve`); a worker on a store of its own (another process, `hookcast worker`)
finds the edit by comparing its queued deliveries' webhooks with the stored ones
(delivery/edits.py), within `edit_check_seconds`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from delivery_harness import FAST, Deployment, moved_while_claimed, settings_for
from receivers import Receiver

from hookcast.cli.runtime import Runtime
from support.publishing import waiting_on_a_lock
from support.waiting import eventually

QUEUED = 4  # deliveries waiting in the worker behind the one in flight
# One request at a time to the endpoint: the rest of a claim waits in its queue.
ONE_AT_A_TIME = replace(FAST, endpoint_concurrency=1, new_endpoint_concurrency=1)


@dataclass
class Held:
    """A webhook whose endpoint holds its first request until `let_go` is set, with the
    rest of its deliveries queued in the worker behind it."""

    hookcast: Deployment
    hook: dict[str, str]
    old: Receiver
    let_go: asyncio.Event


@asynccontextmanager
async def held_webhook(database_url: str, *, own_store: bool = False) -> AsyncIterator[Held]:
    """`own_store`: the worker has a store of its own, as a separate process would."""
    let_go = asyncio.Event()

    async def held(_number: int, _request: web.Request) -> web.StreamResponse:
        await let_go.wait()
        return web.Response(text="ok")

    async with Deployment.open(database_url) as hookcast:
        other = await Runtime.open(settings_for(database_url)) if own_store else None
        try:
            old = await hookcast.receiver(held)
            hook = await hookcast.hook_for(old)
            hookcast.start_worker(ONE_AT_A_TIME, runtime=other)
            await hookcast.publish_media(1 + QUEUED)
            await old.wait_for(1)
            yield Held(hookcast, hook, old, let_go)
        finally:
            let_go.set()
            if other is not None:  # its worker stops before the store it uses closes
                for worker in hookcast.workers:
                    await worker.close()
                await other.store.close()


async def test_queued_deliveries_go_to_the_url_saved_after_they_were_claimed(
    database_url: str,
) -> None:
    async with held_webhook(database_url) as held:
        hookcast, hook = held.hookcast, held.hook
        new = await hookcast.receiver()
        new.secret = hook["secret"]

        moved = await hookcast.api.patch(
            f"/v2/webhooks/{hook['id']}/", json={"metadata": {"webhook_url": new.url}}
        )
        assert moved.status_code == 200, moved.text
        held.let_go.set()

        await hookcast.wait_for_status(hook["id"], "succeeded", 1 + QUEUED)
        assert (len(held.old.received), len(new.received)) == (1, QUEUED)
        new.assert_all_verified()


async def test_queued_deliveries_are_signed_with_the_secret_rotated_after_their_claim(
    database_url: str,
) -> None:
    async with held_webhook(database_url) as held:
        hookcast, hook, old = held.hookcast, held.hook, held.old

        rotated = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/secret/rotate/")
        assert rotated.status_code == 200, rotated.text
        old.secrets = [rotated.json()["secret"]]  # checks what arrives from now on
        held.let_go.set()

        await hookcast.wait_for_status(hook["id"], "succeeded", 1 + QUEUED)
        queued = old.received[1:]
        assert len(queued) == QUEUED
        assert all(item.jwt_ok and item.hex_ok for item in queued)


async def test_a_worker_of_another_process_moves_queued_deliveries_to_the_new_url(
    database_url: str,
) -> None:
    async with held_webhook(database_url, own_store=True) as held:
        hookcast, hook = held.hookcast, held.hook
        new = await hookcast.receiver()
        new.secret = hook["secret"]

        moved = await hookcast.api.patch(
            f"/v2/webhooks/{hook['id']}/", json={"metadata": {"webhook_url": new.url}}
        )
        assert moved.status_code == 200, moved.text
        # The old endpoint still holds its request: the queued ones reach the new one only
        # because the worker found the edit (within FAST.edit_check_seconds) and let them go.
        await new.wait_for(QUEUED)
        held.let_go.set()

        await hookcast.wait_for_status(hook["id"], "succeeded", 1 + QUEUED)
        assert (len(held.old.received), len(new.received)) == (1, QUEUED)


async def test_queued_deliveries_of_a_paused_webhook_stay_paused(database_url: str) -> None:
    async with held_webhook(database_url) as held:
        hookcast, hook = held.hookcast, held.hook

        paused = await hookcast.api.patch(
            f"/v2/webhooks/{hook['id']}/", json={"metadata": {"enabled": False}}
        )
        assert paused.status_code == 200, paused.text
        held.let_go.set()

        # The request in flight may end; it is recorded once the worker has taken its
        # answer, by when the queued ones would have gone to the endpoint too.
        await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        assert len(held.old.received) == 1
        paused_ones = await hookcast.wait_for_status(hook["id"], "paused", QUEUED)
        assert len(paused_ones) == QUEUED
        page = await hookcast.deliveries(hook["id"], status="succeeded")
        assert page["total"] == 1


async def test_queued_deliveries_of_a_deleted_webhook_are_not_sent(database_url: str) -> None:
    async with held_webhook(database_url) as held:
        hookcast, hook = held.hookcast, held.hook
        worker = hookcast.workers[0].worker

        deleted = await hookcast.api.delete(f"/v2/webhooks/{hook['id']}/")
        assert deleted.status_code == 204, deleted.text
        held.let_go.set()

        # The answer to the request in flight is recorded (on nothing: its row went with
        # the webhook) once the worker has taken it, by when the queued ones would have
        # gone to the endpoint too.
        await eventually(lambda: worker.delivered >= 1, message=lambda: "nothing recorded")
        assert len(held.old.received) == 1
        gone = await hookcast.api.get(f"/v2/webhooks/{hook['id']}/deliveries/")
        assert gone.status_code == 404, gone.text


async def test_an_edit_saved_while_a_claim_is_under_way_reaches_what_it_brings(
    database_url: str,
) -> None:
    async with Deployment.open(database_url) as hookcast:
        old = await hookcast.receiver()
        hook = await hookcast.hook_for(old)
        new = await hookcast.receiver()
        new.secret = hook["secret"]
        # Claimed with the webhook as it is now, not yet in the worker's queues.
        await moved_while_claimed(hookcast, hook["id"], new.url, lambda: hookcast.publish_media(1))

        await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        # The API answered before the claim handed its copy of the webhook on: the delivery
        # goes where the saved webhook says, as a queued one does.
        assert (len(old.received), len(new.received)) == (0, 1)
        new.assert_all_verified()


async def _waiting_for_events_lock(connection: asyncpg.Connection) -> bool:
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass"
    )
    return bool(waiting)


async def test_a_publish_under_way_when_its_webhook_is_paused_sends_it_nothing(
    database_url: str,
) -> None:
    """On PostgreSQL a publish checks its configuration (READ COMMITTED) before it inserts.
    Held at the insert, its deliveries are parked either way, and nothing is sent: written
    in two statements (store/append_postgres.py), the configuration was read before the
    pause, so they are made as if just before it, paused with the others (or left pending
    and paused by the worker that finds the webhook disabled); written in one statement
    (store/append_at_once.py: a publish alone), the statement waits for the lock before it
    reads anything, finds the configuration moved and is published again on the new one,
    where a disabled webhook holds what it is sent (`held`)."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite's write transaction excludes every other writer")
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver)
        hookcast.start_worker()
        (first,) = await hookcast.publish_media(1)  # the API keeps the configuration
        await receiver.wait_for_events({first})
        blocker = await asyncpg.connect(database_url)
        try:
            # Inserting events waits (reads do not): the next publish has checked its
            # configuration version and waits to insert its event.
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("LOCK TABLE events IN SHARE MODE")
            publishing = asyncio.create_task(hookcast.publish_media(2))
            await eventually(lambda: _waiting_for_events_lock(blocker), message="no wait")
            paused = {"metadata": {"enabled": False}}
            answered = await hookcast.api.patch(f"/v2/webhooks/{hook['id']}/", json=paused)
            assert answered.status_code == 200, answered.text
            await holding.rollback()
            later = set(await publishing)
        finally:
            await blocker.close()

        async def parked() -> bool:
            log = await hookcast.deliveries(hook["id"], page_length=100)
            statuses = [d["status"] for d in log["deliveries"] if d["event_id"] in later]
            return len(statuses) == 2 and set(statuses) <= {"paused", "held"}

        await eventually(parked, message="the publish's deliveries were not parked")
        assert receiver.event_ids() == [first]


async def test_a_publish_under_way_when_the_worker_disables_its_webhook_sends_it_nothing(
    database_url: str,
) -> None:
    """As above, with the webhook disabled by the worker (its endpoint answered 410 Gone)
    instead of through the API: the disable moves the webhook's `last_modified` as a pause
    does, so the delivery the publish made is parked, not sent."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite's write transaction excludes every other writer")
    let_go = asyncio.Event()

    async def gone_when_let_go(_number: int, _request: web.Request) -> web.StreamResponse:
        await let_go.wait()
        return web.Response(status=410, text="gone")

    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(gone_when_let_go)
        hook = await hookcast.hook_for(receiver)
        hookcast.start_worker()
        await hookcast.publish_media(1)  # the API keeps the configuration
        await receiver.wait_for(1)  # held until let go, then disables the webhook
        blocker = await asyncpg.connect(database_url)
        try:
            # The next publish of the same media moves its counter (the statement that
            # checks its configuration version) and waits for the row: it has checked.
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("SELECT * FROM resource_sequences FOR UPDATE")
            publishing = asyncio.create_task(hookcast.publish_media(1))
            await eventually(lambda: waiting_on_a_lock(database_url), message="no wait")
            let_go.set()

            async def disabled() -> bool:
                return not (await hookcast.webhook(hook["id"]))["metadata"]["enabled"]

            await eventually(disabled, message="the worker did not disable the webhook")
            await holding.rollback()
            await publishing
        finally:
            let_go.set()
            await blocker.close()

        await hookcast.wait_for_status(hook["id"], "paused", 1)
        assert len(receiver.received) == 1
