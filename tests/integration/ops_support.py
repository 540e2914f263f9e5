"""Helpers for the operations and security tests: a worker wired as `Runtime.run_worker`
wires it (reporting to the runtime's metrics), Prometheus text parsing, log capture."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from delivery_harness import FAST, Deployment, Worker
from prometheus_client.parser import text_string_to_metric_families

from hookcast.delivery.sender import HttpSender
from hookcast.delivery.worker import DeliveryWorker
from hookcast.domain.addresses import parse_networks
from hookcast.logs import JsonFormatter
from hookcast.ports import Resolver


def observed_worker(
    hookcast: Deployment,
    *,
    allowed: str = "127.0.0.0/8",
    resolver: Resolver | None = None,
) -> Worker:
    """A worker reporting to the deployment's metrics, closed with the deployment."""
    runtime = hookcast.runtime
    sender = HttpSender(allowed=parse_networks(allowed), resolver=resolver)
    worker = DeliveryWorker(
        runtime.store,
        sender,
        clock=lambda: datetime.now(UTC),
        options=FAST,
        observer=runtime.metrics,
    )
    runtime.metrics.outage = worker.outage  # as Runtime.deliver does
    stop = asyncio.Event()
    running = Worker(worker, sender, stop, asyncio.create_task(worker.run(stop)))
    hookcast.workers.append(running)
    return running


class Scrape:
    """One /metrics answer, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self._values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self._values[(name, frozenset(labels.items()))]


async def scrape(hookcast: Deployment, **headers: str) -> Scrape:
    response = await hookcast.api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


@contextmanager
def json_logs(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Every log record while inside, formatted by HookCast's JSON formatter and parsed back
    (each must be one JSON object on one line)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        for line in stream.getvalue().splitlines():
            lines.append(orjson.loads(line))
