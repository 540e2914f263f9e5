"""The send boundary: a delivery whose request cannot be built or sent is an attempt recorded
as failed with its reason, its endpoint's slot is free again, and it is not re-leased."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.sender import HttpSender
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.models import Delivery, DeliveryStatus, Webhook
from hookcast.ports import OutboundRequest, SendOutcome
from support import factories as make
from support.senders import Answer, RecordingSender, ok

NOW = make.later(10)
# One request at a time to an endpoint: a slot that leaked would hold back the next one.
ONE_AT_A_TIME = WorkerOptions(endpoint_concurrency=1, idle_wait_seconds=0.05)
WAIT = 10.0  # seconds a test waits for what it expects, far above what it takes


def raises(error: Exception) -> Answer:
    """Raises `error` on the first request, answers 200 to the others."""
    raised: list[Exception] = []

    async def answer(request: OutboundRequest) -> SendOutcome:
        if not raised:
            raised.append(error)
            raise error
        return await ok(request)

    return answer


def nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(depth):
        data = {"a": data}
    return data


def _queue_for(
    hook: Webhook, *datas: dict[str, Any] | None
) -> tuple[MemoryDeliveryQueue, list[Delivery]]:
    """A queue holding one delivery to `hook` per event data, due in that order."""
    queue = MemoryDeliveryQueue()
    deliveries = []
    for number, data in enumerate(datas):
        event = make.event(hook.account_id, data=data, created=make.later(number))
        delivery = make.delivery(event, hook.id)
        queue.add(delivery=delivery, event=event, webhook=hook)
        deliveries.append(delivery)
    return queue, deliveries


async def _deliver(
    queue: MemoryDeliveryQueue,
    sender: RecordingSender,
    *,
    requests: int,
    options: WorkerOptions = ONE_AT_A_TIME,
) -> None:
    """Runs a worker until `sender` has seen `requests` requests, then stops it (which
    records every outcome before `run` returns)."""
    worker = DeliveryWorker(queue, sender, clock=lambda: NOW, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await sender.wait_for(requests)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)


HOOK_URL = "https://receiver.example/hook"
IDN_TOO_LONG = "https://" + "\u00fc" * 64 + ".example/hook"  # a label over 63 characters


@pytest.mark.parametrize(
    ("url", "first_data", "make_answer", "requests", "reason"),
    [
        pytest.param(
            HOOK_URL,
            None,
            lambda: raises(RuntimeError("the client has a bug")),
            2,
            "the request could not be sent: RuntimeError: the client has a bug",
            id="sender-raises",
        ),
        pytest.param(
            HOOK_URL,
            nested(300),  # orjson serialises at most 254 levels
            lambda: ok,
            1,  # the broken one never reaches the sender
            "the request could not be built: ",
            id="body-too-deep",
        ),
        pytest.param(
            IDN_TOO_LONG,
            None,
            lambda: HttpSender(allowed=[]).send,  # the real client's IDNA encoding refuses it
            2,
            "invalid webhook_url: ",  # the sender's own outcome, no longer an exception
            id="host-unencodable",
        ),
    ],
)
async def test_a_delivery_that_cannot_be_sent_is_a_recorded_failure(
    url: str,
    first_data: dict[str, Any] | None,
    make_answer: Callable[[], Answer],
    requests: int,
    reason: str,
) -> None:
    hook = make.webhook("acct", webhook_url=url)
    queue, (broken, second) = _queue_for(hook, first_data, {"title": "next"})

    # Only one request at a time may go to the endpoint: the second delivery going out
    # shows the broken one's slot is free again.
    await _deliver(queue, RecordingSender(make_answer()), requests=requests)

    (attempt,) = [a for a in queue.attempts if a.delivery_id == broken.id]
    assert attempt.status_code is None
    assert (attempt.error or "").startswith(reason), attempt.error
    after = queue.delivery(broken.id)
    assert after.attempts == 1
    assert after.status is DeliveryStatus.PENDING
    assert after.next_attempt_at > NOW  # a retry, as the webhook's policy says
    assert after.lease_token is None  # recorded, not left leased
    assert queue.delivery(second.id).attempts == 1
    assert queue.claimed == 2  # nothing was leased again


async def test_a_send_cancelled_by_shutdown_gives_its_lease_back_unattempted() -> None:
    hook = make.webhook("acct", webhook_url=HOOK_URL)
    queue, (delivery,) = _queue_for(hook, None)
    never = asyncio.Event()

    async def hang(request: OutboundRequest) -> SendOutcome:
        await never.wait()
        raise AssertionError("unreachable")

    quick_exit = replace(ONE_AT_A_TIME, shutdown_grace_seconds=0.0)
    await _deliver(queue, RecordingSender(hang), requests=1, options=quick_exit)

    assert queue.attempts == []
    after = queue.delivery(delivery.id)
    assert (after.attempts, after.lease_token) == (0, None)
    assert after.next_attempt_at == NOW + quick_exit.busy_endpoint_delay


@pytest.mark.parametrize(
    "data", [None, {"note": "a" * 20_000}], ids=["signed-at-once", "signed-when-written"]
)
async def test_a_delivery_whose_signing_fails_is_a_recorded_failure(
    data: dict[str, Any] | None,
) -> None:
    # A secret that cannot sign (not base64 after whsec_): a large body is signed when its
    # request is written (ports/sending.py `LARGE_BODY`), and one never written (refused
    # here by the SSRF guard) is signed for its log in `conclude`, out of the send's boundary.
    url = "https://127.0.0.1/hook"
    broken_hook = make.webhook("acct", webhook_url=url, format="standard", secret="whsec_!!!")
    queue, (broken,) = _queue_for(broken_hook, data)
    hook = make.webhook("acct", webhook_url=url)
    event = make.event(hook.account_id, created=make.later(1))
    second = make.delivery(event, hook.id)
    queue.add(delivery=second, event=event, webhook=hook)

    # One request at a time to the endpoint: the second going out shows the slot is back.
    sender = RecordingSender(HttpSender(allowed=[]).send)  # refuses 127.0.0.1: never written
    await _deliver(queue, sender, requests=1 if data is None else 2)

    (attempt,) = [a for a in queue.attempts if a.delivery_id == broken.id]
    assert attempt.status_code is None
    assert attempt.error
    after = queue.delivery(broken.id)
    assert (after.attempts, after.status, after.lease_token) == (1, DeliveryStatus.PENDING, None)
    assert queue.delivery(second.id).attempts == 1
    assert queue.claimed == 2  # nothing was leased again
