"""The composition root: settings in, a wired store, services, app and worker out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from hookcast.api import create_app
from hookcast.bootstrap import open_settings_store, policy, secret_key, utc_now
from hookcast.config import Settings
from hookcast.delivery.sender import AiohttpSender
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.addresses import parse_networks
from hookcast.ports import Store
from hookcast.resolver import SystemResolver
from hookcast.services import Services, build_services

_log = logging.getLogger("hookcast")

# Re-exported: tests and older imports take them from here.
__all__ = ["Runtime", "policy", "secret_key", "utc_now"]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    services: Services

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        store = await open_settings_store(settings)
        services = build_services(
            store, clock=utc_now, resolver=SystemResolver(), policy=policy(settings)
        )
        return cls(settings=settings, store=store, services=services)

    def worker(self, *, concurrency: int | None = None) -> tuple[DeliveryWorker, AiohttpSender]:
        options = WorkerOptions(
            concurrency=concurrency or self.settings.worker_concurrency,
            endpoint_concurrency=self.settings.endpoint_concurrency,
            lease_seconds=self.settings.lease_seconds,
            disable_after=timedelta(days=self.settings.disable_after_days),
        )
        sender = AiohttpSender(
            allowed=parse_networks(self.settings.allowed_networks),
            per_host_limit=self.settings.endpoint_concurrency,
        )
        return DeliveryWorker(self.store, sender, clock=utc_now, options=options), sender

    async def run_worker(self, stop: asyncio.Event, *, concurrency: int | None = None) -> None:
        worker, sender = self.worker(concurrency=concurrency)
        try:
            await worker.run(stop)
        finally:
            await sender.close()

    def app(self, *, with_worker: bool) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            # The worker lives inside the server's lifespan so SIGTERM drains it before the
            # process exits (uvicorn runs lifespan shutdown before it returns).
            stop = asyncio.Event()
            task = asyncio.create_task(self.run_worker(stop)) if with_worker else None
            try:
                yield
            finally:
                stop.set()
                if task is not None:
                    await task
                await self.store.close()

        return create_app(
            self.services, max_body_bytes=self.settings.max_body_bytes, lifespan=lifespan
        )
