"""The composition root: settings in, a wired store, services, app and worker out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from hookcast.api import create_app
from hookcast.config import Settings, fernet_key_from_passphrase
from hookcast.delivery.sender import AiohttpSender
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.addresses import parse_networks
from hookcast.domain.errors import ValidationFailed
from hookcast.ports import Store
from hookcast.resolver import SystemResolver
from hookcast.services import Policy, Services, build_services
from hookcast.store import load_or_create_key, open_store

_log = logging.getLogger("hookcast")


def utc_now() -> datetime:
    return datetime.now(UTC)


def secret_key(settings: Settings) -> bytes:
    """HOOKCAST_SECRET_KEY, or a key file beside a SQLite database (made on first use)."""
    if settings.secret_key:
        return fernet_key_from_passphrase(settings.secret_key)
    path = settings.sqlite_path()
    if path is None:
        raise ValidationFailed(
            "HOOKCAST_SECRET_KEY is required with PostgreSQL: every server and worker must "
            "share it to read webhook secrets"
        )
    return load_or_create_key(Path(f"{path}.key"))


def policy(settings: Settings) -> Policy:
    return Policy(
        allowed_networks=parse_networks(settings.allowed_networks),
        rotation_grace=timedelta(hours=settings.secret_rotation_grace_hours),
        max_batch_events=settings.max_batch_events,
    )


@dataclass
class Runtime:
    settings: Settings
    store: Store
    services: Services

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        store = await open_store(settings.database_url, secret_key=secret_key(settings))
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
