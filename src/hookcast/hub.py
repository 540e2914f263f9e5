"""`Hub`: publish from inside your platform's own process, straight into HookCast's database.

    from hookcast import Hub

    hub = await Hub.open("postgresql://hookcast@db/hookcast", secret_key="...")
    await hub.publish(event="media_available", site_id="1A23bCD4", media_id="MNYaMSQl")

    # A transactional outbox: the event commits or rolls back with your own write.
    async with engine.begin() as conn:
        await conn.execute(media.update().values(status="ready"))
        await hub.publish(event="media_available", site_id="1A23bCD4", media_id="MNYaMSQl",
                          connection=conn)

No HTTP: the same `services.events` use-case the API calls checks the event against the
catalog, fans it out to the matching webhooks and stores both, so a `Hub` event and an API
event are indistinguishable to workers and receivers. Rule violations raise HookCast's
domain errors (`hookcast.domain.errors.ValidationFailed`, with `.code` and `.description`).

It sits beside `bootstrap`, not in `sdk/`: it is HookCast's server side (store, services)
running in your process, where the SDK only speaks HTTP.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.bootstrap import open_settings_store, policy, utc_now
from hookcast.config import Settings
from hookcast.domain.models import Role
from hookcast.ports import Clock, Tracer
from hookcast.resolver import SystemResolver
from hookcast.sdk.events import batch_body, event_body
from hookcast.services import Caller, Policy, Services, build_services
from hookcast.store import SqlStore
from hookcast.tracing import open_tracer

__all__ = ["Hub"]


class Hub:
    """In-process publishing on an open `SqlStore` (see `Hub.open` to make one from a URL)."""

    def __init__(
        self,
        store: SqlStore,
        *,
        policy: Policy | None = None,
        clock: Clock = utc_now,
        owns_store: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        self._store = store
        # Publishes' fan-out spans, children of the caller's current span (docs/sdk.md);
        # closed by `close` when `Hub.open` made it, as the store is.
        self._tracer = tracer
        self._policy = policy or Policy()
        self._clock = clock
        self._owns_store = owns_store
        self._default_account_id: str | None = None
        self._services = self._wire(store)

    @classmethod
    async def open(cls, database_url: str | None = None, *, secret_key: str | None = None) -> Hub:
        """A Hub on `database_url` (default HOOKCAST_DATABASE_URL), which `hookcast migrate`
        has set up. `secret_key` defaults to HOOKCAST_SECRET_KEY (or, with SQLite, the key
        file beside the database); the other HOOKCAST_* settings apply as in `serve`."""
        overrides = {"database_url": database_url, "secret_key": secret_key}
        settings = Settings().model_copy(
            update={name: value for name, value in overrides.items() if value is not None}
        )
        store = await open_settings_store(settings)
        tracer = open_tracer(
            settings.otel_exporter_otlp_endpoint,
            os.environ,
            trust_traceparent=settings.otel_trust_traceparent,
        )
        return cls(store, policy=policy(settings), owns_store=True, tracer=tracer)

    def _wire(self, store: SqlStore) -> Services:
        return build_services(
            store,
            clock=self._clock,
            resolver=SystemResolver(),
            policy=self._policy,
            tracer=self._tracer,
        )

    async def publish(
        self,
        *,
        event: str,
        site_id: str,
        account_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        event_time: datetime | str | None = None,
        connection: AsyncConnection | None = None,
        **ids: str,
    ) -> str:
        """Publish one event (resource ids as keywords, e.g. `media_id=`); returns its id.

        Without `connection` the event is committed when this returns. With one (an
        `AsyncConnection` inside a transaction, on HookCast's database), it is written in
        that transaction and commits or rolls back with it. `account_id` defaults to the
        database's first account.
        """
        body = event_body(
            event, site_id=site_id, ids=ids, data=data, event_id=event_id, event_time=event_time
        )
        (published,) = await self._publish(body, account_id, connection)
        return published

    async def publish_many(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        account_id: str | None = None,
        connection: AsyncConnection | None = None,
    ) -> list[str]:
        """Publish a batch (items shaped like POST /v2/events/ takes them), all or none."""
        return await self._publish(batch_body(events), account_id, connection)

    async def _publish(
        self, body: Mapping[str, Any], account_id: str | None, connection: AsyncConnection | None
    ) -> list[str]:
        services = (
            self._services if connection is None else self._wire(self._store.using(connection))
        )
        caller = Caller(account_id=account_id or await self._default_account(), role=Role.PUBLISHER)
        services.events.check_values(body)  # the API counts these in the request's body
        return await services.events.publish(caller, body)

    async def _default_account(self) -> str:
        if self._default_account_id is None:
            self._default_account_id = (await self._services.accounts.default_account()).id
        return self._default_account_id

    async def close(self) -> None:
        """Closes the store and the tracer if `Hub.open` made them (a store or tracer passed
        in stays the caller's); the tracer exports the spans still batched."""
        if not self._owns_store:
            return
        await self._store.close()
        if self._tracer is not None:
            await asyncio.to_thread(self._tracer.close)  # blocks while it exports

    async def __aenter__(self) -> Hub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
