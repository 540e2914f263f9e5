"""`hookcast serve` delivers on a thread and event loop of its own (cli/delivery_thread.py):
the API answers publishes while delivery work holds that thread, and publishes still hand
their deliveries straight to the worker."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import httpx
import pytest
from delivery_harness import Deployment

from hookcast.cli.delivery_thread import DeliveryThread
from hookcast.delivery.sender import HttpSender
from hookcast.delivery.worker import DeliveryWorker
from hookcast.ports import Handoff, OutboundRequest, SendOutcome
from hookcast.store import SqlStore

BOUND = 10.0  # seconds: how long the worker's thread is held at most


async def test_a_publish_is_answered_while_delivery_work_holds_the_worker(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    held_too_long: list[bool] = []
    send = HttpSender.send

    async def held_once(sender: HttpSender, request: OutboundRequest) -> SendOutcome:
        if not entered.is_set():
            entered.set()
            # Blocks the worker's thread and loop outright, as a long batch of delivery
            # work would: on a loop shared with the API, nothing would be answered now.
            if not release.wait(BOUND):
                held_too_long.append(True)
        return await send(sender, request)

    monkeypatch.setattr(HttpSender, "send", held_once)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        await hookcast.hook_for(receiver)
        app = hookcast.runtime.app(with_worker=True)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://hookcast.test",
                headers={"Authorization": f"Bearer {hookcast.admin_key}"},
            ) as serve,
        ):
            first = await _publish(serve, hookcast.site_id, "MEDIA001")
            assert await asyncio.to_thread(entered.wait, BOUND), "the worker never sent"

            second = await _publish(serve, hookcast.site_id, "MEDIA002")

            release.set()
            await receiver.wait_for_events({first, second})
    assert not held_too_long, "the publish was answered only after the worker let go"
    receiver.assert_all_verified()


async def test_a_worker_that_crashes_is_logged_at_once_and_reported_to_serve(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(_worker: DeliveryWorker, _stop: asyncio.Event) -> None:
        raise RuntimeError("the worker broke")

    monkeypatch.setattr(DeliveryWorker, "run", crash)
    reported = asyncio.Event()
    async with Deployment.open(database_url) as hookcast:
        app = hookcast.runtime.app(
            with_worker=True, on_delivery_failure=lambda _error: reported.set()
        )
        async with app.router.lifespan_context(app):
            # Reported while the server runs, on its loop: not only once it is shut down.
            async with asyncio.timeout(BOUND):
                await reported.wait()
            died = [
                record
                for record in caplog.records
                if record.levelno == logging.ERROR and "delivery thread died" in record.message
            ]
            assert len(died) == 1, caplog.text
            assert died[0].exc_info is not None
            assert str(died[0].exc_info[1]) == "the worker broke"
        # ...and the lifespan's shutdown after it raises nothing: the failure was told once.


async def _publish(client: httpx.AsyncClient, site_id: str, media_id: str) -> str:
    body = {"event": "media_available", "site_id": site_id, "media_id": media_id}
    response = await client.post("/v2/events/", json=body)
    assert response.status_code == 202, response.text
    event_id: str = response.json()["event_ids"][0]
    return event_id


async def test_an_edit_saved_through_the_api_is_told_to_the_delivery_threads_store(
    database_url: str,
) -> None:
    """The worker on the delivery thread waits on a store of its own: the API store's edits
    reach that store's listeners (the worker's, delivery/edits.py) on the worker's thread,
    not only its once-a-second look at what it holds queued."""
    told: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    listening = asyncio.Event()
    api_loop = asyncio.get_running_loop()

    async def run_worker(
        store: SqlStore, stop: asyncio.Event, _handoff: Callable[[DeliveryWorker], Handoff]
    ) -> None:
        def edited(webhook_id: str) -> None:
            here = threading.current_thread().name
            api_loop.call_soon_threadsafe(told.put_nowait, (webhook_id, here))

        unwatch = store.watch_edits(edited)
        api_loop.call_soon_threadsafe(listening.set)
        try:
            await stop.wait()
        finally:
            unwatch()

    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver)
        thread = DeliveryThread(hookcast.runtime.settings, hookcast.runtime.store, run_worker)
        thread.start()
        try:
            async with asyncio.timeout(BOUND):
                await listening.wait()
            moved = await hookcast.api.patch(
                f"/v2/webhooks/{hook['id']}/", json={"metadata": {"name": "renamed"}}
            )
            assert moved.status_code == 200, moved.text
            async with asyncio.timeout(BOUND):
                assert await told.get() == (hook["id"], "hookcast-delivery")
            deleted = await hookcast.api.delete(f"/v2/webhooks/{hook['id']}/")
            assert deleted.status_code == 204, deleted.text
            async with asyncio.timeout(BOUND):
                assert await told.get() == (hook["id"], "hookcast-delivery")
        finally:
            await thread.stop()
