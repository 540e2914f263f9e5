"""The composition root: settings in, a wired store, services, app and worker out."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from hookcast.bootstrap import (
    open_settings_store,
    policy,
    previous_secret_keys,
    secret_key,
    utc_now,
)
from hookcast.cli.database import describe
from hookcast.cli.open_files import idle_outgoing_at_most
from hookcast.config import Settings
from hookcast.delivery.mailer import Mailer
from hookcast.delivery.outage import Outage
from hookcast.delivery.proxy import Proxy
from hookcast.delivery.retention import Retention, RetentionOptions
from hookcast.delivery.sender import HttpSender
from hookcast.delivery.smtp import SmtpServer, SmtpTransport
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.addresses import parse_networks
from hookcast.heartbeat import Heartbeat
from hookcast.metrics import Metrics
from hookcast.ports import Handoff, Tracer
from hookcast.resolver import SystemResolver
from hookcast.services import Services, build_services
from hookcast.store import SqlStore
from hookcast.tracing import open_tracer

if TYPE_CHECKING:
    # The API and the dashboard (FastAPI, Starlette, Jinja2) load in `app()`: `hookcast
    # worker` and the operator commands never build them.
    from fastapi import FastAPI

    from hookcast.api.operations import Operations
    from hookcast.cli.delivery_thread import DeliveryThread

_log = logging.getLogger("hookcast")

# Re-exported: tests and older imports take them from here.
__all__ = ["Runtime", "policy", "secret_key", "utc_now"]

_APIVIDEO_TOKENS = "hookcast-apivideo-tokens"  # the label of the api.video tokens' key


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    services: Services
    # This process's metrics: the worker and the event service report to it, /metrics shows it.
    metrics: Metrics = field(default_factory=Metrics)
    # Spans of publishes and attempts, when tracing is configured (hookcast/tracing).
    tracer: Tracer | None = None

    @classmethod
    async def open(cls, settings: Settings, *, secrets: bool = True) -> Runtime:
        """The store and services on `settings`; without `secrets`, for a command that
        reads and writes no webhook secret (bootstrap.open_settings_store)."""
        store = await open_settings_store(settings, secrets=secrets)
        metrics = Metrics(webhooks_per_account=settings.max_webhooks_per_account)
        tracer = open_tracer(
            settings.otel_exporter_otlp_endpoint,
            os.environ,
            trust_traceparent=settings.otel_trust_traceparent,
            counter=metrics,
        )
        services = build_services(
            store,
            clock=utc_now,
            resolver=SystemResolver(nameservers=settings.dns_nameservers()),
            policy=policy(settings),
            publish_observer=metrics,
            tracer=tracer,
        )
        return cls(
            settings=settings, store=store, services=services, metrics=metrics, tracer=tracer
        )

    async def close(self) -> None:
        """Closes the store, then exports the spans still batched."""
        await self.store.close()
        if self.tracer is not None:
            await asyncio.to_thread(self.tracer.close)  # blocks while it exports

    def worker(
        self, *, concurrency: int | None = None, heartbeat: Heartbeat | None = None
    ) -> tuple[DeliveryWorker, HttpSender]:
        in_flight = concurrency or self.settings.worker_concurrency
        options = WorkerOptions(
            concurrency=in_flight,
            prefetch=max(1024, 4 * in_flight),
            endpoint_concurrency=self.settings.endpoint_concurrency,
            bytes_in_flight=self.settings.worker_bytes_in_flight,
            slow_endpoint_seconds=self.settings.slow_endpoint_seconds,
            lease_seconds=self.settings.lease_seconds,
            disable_after=timedelta(days=self.settings.disable_after_days),
            disable_warning=timedelta(hours=self.settings.disable_warning_hours),
            # SQLite takes one delivering process: a worker starting on it is the only one.
            sole_worker=self.settings.is_sqlite(),
            write_ahead=self.settings.is_sqlite(),
        )
        if self.settings.is_sqlite():
            # Outcomes written `concurrency` at a time, not twice that (delivery/options.py):
            # the larger writes were measured on PostgreSQL, where they save a write's fixed
            # cost; on SQLite each write holds the one writer ahead of the API's next group
            # commit, twice as long for twice the outcomes (docs/benchmarks/postgres-delivery.md,
            # "The recording statement, priced").
            options = replace(options, flush_batch=in_flight)
        proxy = self.settings.egress_proxy
        sender = HttpSender(
            allowed=parse_networks(self.settings.allowed_networks),
            # Each account is held to endpoint_concurrency per endpoint by the worker's gate;
            # several accounts' requests to one shared host must not wait on each other's
            # connections, so the pool's own bound is the worker's.
            per_host_limit=self.settings.worker_concurrency,
            proxy=Proxy.from_url(proxy) if proxy else None,
            nameservers=self.settings.dns_nameservers(),
            ca_file=self.settings.ca_bundle or None,
            max_idle=idle_outgoing_at_most(),
        )
        worker = DeliveryWorker(
            self.store,
            sender,
            clock=utc_now,
            options=options,
            observer=self.metrics,
            heartbeat=heartbeat,
            tracer=self.tracer,
            database=describe(self.settings),
        )
        return worker, sender

    def retention(self, outage: Outage | None = None) -> Retention | None:
        """The background pruning every delivering process runs (None: keep forever);
        `outage`: the worker's, where its failures are said."""
        if self.settings.retention_days <= 0:
            return None
        options = RetentionOptions(max_age=timedelta(days=self.settings.retention_days))
        return Retention(
            self.store,
            clock=utc_now,
            options=options,
            on_pruned=self.metrics.on_pruned,
            outage=outage,
        )

    async def run_worker(
        self,
        stop: asyncio.Event,
        *,
        concurrency: int | None = None,
        heartbeat: Heartbeat | None = None,
        handoff: Callable[[DeliveryWorker], Handoff] | None = None,
    ) -> None:
        """Delivers (and prunes, and mails) until `stop` is set. This process's publishes
        hand their deliveries to the worker through `handoff(worker)` (default: the worker
        itself, on this loop)."""
        worker, sender = self.worker(concurrency=concurrency, heartbeat=heartbeat)
        try:
            # Before pruning and mail start: on SQLite, a second delivering process is
            # refused here (AnotherDeliverer) having done nothing.
            await worker.start(stop)
        except BaseException:
            await sender.close()
            raise
        # One outage line for the process, whichever of them finds the database gone.
        retention = self.retention(worker.outage)
        pruning = asyncio.create_task(retention.run(stop)) if retention is not None else None
        mailer = self.mailer(worker.outage)
        mailing = asyncio.create_task(mailer.run(stop)) if mailer is not None else None
        self.services.events.handoff = worker if handoff is None else handoff(worker)
        self.metrics.heartbeat = worker.heartbeat
        self.metrics.outage = worker.outage  # hookcast_database_writable
        finishing = asyncio.create_task(self._finish_walks(worker.outage))
        try:
            await worker.run(stop)
        finally:
            self.services.events.handoff = None
            await sender.close()
            stop.set()  # the worker may have ended on an error: stop pruning and mail too
            finishing.cancel()  # what it walked stays done; the next start walks the rest
            await asyncio.gather(finishing, return_exceptions=True)
            for task in (pruning, mailing):
                if task is not None:
                    await task

    async def _finish_walks(self, outage: Outage) -> None:
        """The walks over webhooks' backlogs a stopped process cut short, finished beside
        the worker (store/cut_short.py; on PostgreSQL a pause's). A failure is said as the
        worker's are (`outage`: a database gone is one line, not a traceback, as when it
        goes away just as a worker starts): the next start, or on SQLite the webhook's next
        save, walks again."""
        try:
            walked = await self.store.finish_walks(utc_now())
        except Exception as error:
            outage.failed("finishing the walks cut short by a stopped process", error)
        else:
            if walked:
                _log.info("finished the walks of %d webhooks cut short by a stop", walked)

    def mailer(self, outage: Outage | None = None) -> Mailer | None:
        """The e-mail sender every delivering process runs (None: no SMTP server set);
        `outage`: the worker's, where its failures are said."""
        if not self.settings.smtp_url:
            return None
        transport = SmtpTransport(
            SmtpServer.from_url(self.settings.smtp_url), sender=self.settings.mail_from
        )
        return Mailer(
            self.store, transport, clock=utc_now, outage=outage, on_mailed=self.metrics.on_mailed
        )

    def operations(self, heartbeat: Heartbeat | None) -> Operations:
        from hookcast.api.operations import Operations

        return Operations(
            metrics=self.metrics,
            heartbeat=heartbeat,
            metrics_token=self.settings.metrics_token,
            rate_limit_per_second=self.settings.rate_limit_per_second,
            rate_limit_burst=self.settings.rate_limit_burst,
            account_rate_limit_per_second=self.settings.account_rate_limit_per_second,
            account_rate_limit_burst=self.settings.account_rate_limit_burst,
        )

    def app(
        self,
        *,
        with_worker: bool,
        on_delivery_failure: Callable[[BaseException], None] | None = None,
    ) -> FastAPI:
        """The API and dashboard; `with_worker`, a delivery thread too, whose death (logged
        by it) is reported to `on_delivery_failure`, with its error, on the server's loop."""
        from hookcast.api import create_app
        from hookcast.dashboard import dashboard_key, install_dashboard
        from hookcast.tokens import derive_key

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            # The worker lives inside the server's lifespan so SIGTERM drains it before the
            # process exits (uvicorn runs lifespan shutdown before it returns).
            delivering = (
                self.delivery_thread(heartbeat, on_failure=on_delivery_failure)
                if heartbeat is not None
                else None
            )
            if delivering is not None:
                delivering.start()
            try:
                yield
            finally:
                if delivering is not None:
                    await delivering.stop()
                await self.close()

        heartbeat = Heartbeat() if with_worker else None  # /readyz then watches the worker
        app = create_app(
            self.services,
            max_body_bytes=self.settings.max_body_bytes,
            lifespan=lifespan,
            operations=self.operations(heartbeat),
            # Derived from the secret key every server shares: each takes the others' tokens.
            apivideo_key=derive_key(secret_key(self.settings), _APIVIDEO_TOKENS),
            clock=utc_now,
            portal_key=dashboard_key(secret_key(self.settings)),
        )
        # After the API's routers, so /v2, /docs, /openapi.json and /healthz keep their routes.
        key = dashboard_key(secret_key(self.settings))  # sessions and portal links sign with it
        install_dashboard(
            app,
            self.services,
            signing_key=key,
            clock=utc_now,
            secure_cookies=self.settings.cookie_secure,
            previous_keys=[dashboard_key(old) for old in previous_secret_keys(self.settings)],
        )
        return app

    def delivery_thread(
        self, heartbeat: Heartbeat, *, on_failure: Callable[[BaseException], None] | None = None
    ) -> DeliveryThread:
        """`serve`'s worker, on a thread and event loop of its own beside the API's
        (cli/delivery_thread.py), on a store of its own, reporting to this process's metrics;
        `on_failure(error)` runs on the API's loop if the thread dies."""
        from hookcast.cli.delivery_thread import DeliveryThread

        async def run_worker(
            store: SqlStore,
            stop: asyncio.Event,
            handoff: Callable[[DeliveryWorker], Handoff],
        ) -> None:
            on_own_store = replace(self, store=store)
            await on_own_store.run_worker(stop, heartbeat=heartbeat, handoff=handoff)

        return DeliveryThread(self.settings, self.store, run_worker, on_failure=on_failure)


def settle_heap() -> None:
    """Takes what start-up built (modules, the app, SQLAlchemy's metadata: ~150,000 objects)
    out of the cyclic garbage collector's sight, once a `serve` or `worker` process is ready.
    Every full collection walked all of it: ~100 ms with the loop stopped, several times a
    minute while delivering (measured with gc.callbacks during a drain). What requests and
    deliveries allocate later is collected as before. Only for those long-lived processes:
    what is frozen is never collected, so a process that builds apps over and over (the
    tests) must not call it."""
    gc.collect()
    gc.freeze()
