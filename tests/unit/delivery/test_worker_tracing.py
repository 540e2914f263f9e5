"""The worker and a Tracer: each attempt gets its span before the send, the request carries
that span's traceparent, and the span is finished with what the attempt led to. Without a
tracer no traceparent header is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import AttemptReport, ClaimedDelivery, FanoutTrace, PublishTrace, Tracer
from support import factories as make
from support.senders import RecordingSender

NOW = make.later(10)
OPTIONS = WorkerOptions(idle_wait_seconds=0.05)
KEPT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class _Attempt:
    def __init__(self, claimed: ClaimedDelivery, number: int) -> None:
        self.claimed = claimed
        self.traceparent = f"00-4bf92f3577b34da6a3ce929d0e0e4736-{number:016x}-01"
        self.finished: list[AttemptReport | None] = []

    def finish(self, report: AttemptReport | None) -> None:
        self.finished.append(report)


class _RecordingTracer:
    def __init__(self) -> None:
        self.attempts: list[_Attempt] = []

    def publish_request(self, traceparent: str | None) -> PublishTrace:
        raise AssertionError("not a publish")

    @contextmanager
    def fanout(self) -> Iterator[FanoutTrace]:
        raise AssertionError("not a publish")
        yield

    def attempt(self, claimed: ClaimedDelivery) -> _Attempt:
        self.attempts.append(_Attempt(claimed, len(self.attempts) + 1))
        return self.attempts[-1]

    def close(self) -> None:
        return None


async def _deliver_one(tracer: Tracer | None) -> RecordingSender:
    hook = make.webhook(make.account().id)
    event = make.event(hook.account_id, traceparent=KEPT)
    queue = MemoryDeliveryQueue()
    queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)
    sender = RecordingSender()
    worker = DeliveryWorker(queue, sender, clock=lambda: NOW, options=OPTIONS, tracer=tracer)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await sender.wait_for(1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    return sender


async def test_each_attempt_sends_its_spans_traceparent_and_finishes_it() -> None:
    tracer = _RecordingTracer()
    sender = await _deliver_one(tracer)

    (attempt,) = tracer.attempts
    assert attempt.claimed.traceparent == KEPT  # the span's parent, as published
    (request,) = sender.requests
    assert request.headers["traceparent"] == attempt.traceparent
    (report,) = attempt.finished
    assert report is not None
    assert (report.outcome, report.status_code) == (DeliveryStatus.SUCCEEDED, 200)


async def test_without_a_tracer_no_traceparent_is_sent() -> None:
    sender = await _deliver_one(None)
    (request,) = sender.requests
    assert "traceparent" not in request.headers
