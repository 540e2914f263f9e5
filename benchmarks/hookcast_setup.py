"""Preparing a HookCast database through its own services (the code path the API uses, less
HTTP): schema, an admin key, the benchmark site, webhooks on the receiver, and a backlog of
published events whose deliveries are pending when the contestant starts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmarks.payloads import EVENT_TYPE, SITE_ID, padded, published_event
from hookcast.bootstrap import open_settings_store, policy, utc_now
from hookcast.config import Settings
from hookcast.domain.models import Role
from hookcast.resolver import SystemResolver
from hookcast.services import Caller, Services, build_services
from hookcast.store import migrate

SECRET_KEY = "hookcast-benchmark-secret-key"  # shared by every process on one database


# Above the fan-out phase's 1,000 webhooks plus those the set-up made on the same account
# (at exactly 1,000 the full run's fan-out was refused its 1,000th webhook: HTTP 400).
BENCH_MAX_WEBHOOKS = 1100
BENCH_MAX_DELIVERIES = 1000 * BENCH_MAX_WEBHOOKS


def settings_env(database_url: str) -> dict[str, str]:
    return {
        "HOOKCAST_DATABASE_URL": database_url,
        "HOOKCAST_SECRET_KEY": SECRET_KEY,
        "HOOKCAST_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HOOKCAST_LOG_LEVEL": "WARNING",
        # The API's rate limits (100/s per key, 500/s per account by default) would refuse
        # the offered rates.
        "HOOKCAST_RATE_LIMIT_PER_SECOND": "0",
        "HOOKCAST_ACCOUNT_RATE_LIMIT_PER_SECOND": "0",
        # The fan-out phase measures one event to 1,000 webhooks; the seeding publishes
        # batches of 1,000 events to every webhook (README, "Configuration").
        "HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT": str(BENCH_MAX_WEBHOOKS),
        "HOOKCAST_MAX_DELIVERIES_PER_PUBLISH": str(BENCH_MAX_DELIVERIES),
    }


@dataclass
class Prepared:
    api_key: str
    webhook_ids: list[str]
    secret: str  # the first webhook's (add_webhooks' are checked with it too)
    seed_seconds: float = 0.0
    secrets: list[str] = field(default_factory=list)  # every webhook's, in order


@dataclass(frozen=True)
class _Backlog:
    """The events `Setup.prepare` publishes: enough for `deliveries` deliveries."""

    deliveries: int
    phase: str
    media: int | None
    event_bytes: int

    def batches(self, webhooks: int) -> Iterator[list[dict[str, Any]]]:
        """The events in publishes of 1,000 (of fewer large ones: ~5 MB a publish)."""
        batch = min(1000, max(1, 5_000_000 // self.event_bytes)) if self.event_bytes else 1000
        needed = -(-self.deliveries // max(1, webhooks))  # each event fans out to all
        for first in range(0, needed, batch):
            yield [self._event(number) for number in range(first, min(first + batch, needed))]

    def _event(self, number: int) -> dict[str, Any]:
        event = published_event(self.phase, number)
        if self.media:
            event["media_id"] = f"M{number % self.media:07d}"
        return padded(event, self.event_bytes) if self.event_bytes else event


class Setup:
    def __init__(self, database_url: str) -> None:
        self._settings = Settings(
            database_url=database_url,
            secret_key=SECRET_KEY,
            allowed_networks="127.0.0.0/8",
            max_webhooks_per_account=BENCH_MAX_WEBHOOKS,
            max_deliveries_per_publish=BENCH_MAX_DELIVERIES,
        )

    async def _services(self) -> Services:
        store = await open_settings_store(self._settings)
        return build_services(
            store, clock=utc_now, resolver=SystemResolver(), policy=policy(self._settings)
        )

    def prepare(
        self,
        receiver_url: str,
        *,
        webhooks: int = 1,
        backlog: int = 0,
        phase: str = "backlog",
        ordering: str | None = None,
        media: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_bytes: int = 0,
    ) -> Prepared:
        """Schema, key, site, `webhooks` on the receiver (with `ordering` and any other
        `metadata`, if given) and a backlog of `backlog` deliveries, each event about its own
        media (or about one of `media` media, in turn), with `event_bytes` more in its `data`
        (payloads.py `padded`)."""
        migrate(self._settings.database_url)
        extra = dict(metadata or {}) | ({} if ordering is None else {"ordering": ordering})
        backlogged = _Backlog(backlog, phase, media, event_bytes)
        return asyncio.run(self._prepare(receiver_url, webhooks, backlogged, extra))

    async def _prepare(
        self, receiver_url: str, webhooks: int, backlog: _Backlog, extra: dict[str, Any]
    ) -> Prepared:
        services = await self._services()
        try:
            account = await services.accounts.default_account()
            admin = Caller(account_id=account.id, role=Role.ADMIN)
            key = await services.accounts.issue_key(account.id, role=Role.ADMIN, name="bench")
            await services.sites.create(admin, name="Benchmark", site_id=SITE_ID)
            created = [
                await services.webhooks.create(
                    admin,
                    {
                        "name": f"bench {number}",
                        "webhook_url": f"{receiver_url}/hook/{number}",
                        # Not "*": the fan-out phase's media_updated webhooks are counted alone.
                        "events": [EVENT_TYPE],
                        "site_ids": [SITE_ID],
                        **extra,
                    },
                )
                for number in range(webhooks)
            ]
            started = time.perf_counter()
            for events in backlog.batches(webhooks):
                await services.events.publish(admin, {"events": events})
            return Prepared(
                api_key=key.secret,
                webhook_ids=[webhook.id for webhook in created],
                secret=created[0].secret if created else "",
                seed_seconds=time.perf_counter() - started,
                secrets=[webhook.secret for webhook in created],
            )
        finally:
            await services.store.close()

    def add_webhooks(self, api: str, receiver_url: str, count: int, key: str) -> list[str]:
        """Webhooks created through the running server's API (fan-out set-up)."""
        from benchmarks.procs import http_json

        ids = []
        for number in range(count):
            created = http_json(
                f"{api}/v2/webhooks/",
                {
                    "metadata": {
                        "name": f"fan {number}",
                        "webhook_url": f"{receiver_url}/fan/{number}",
                        "events": ["media_updated"],
                        "site_ids": [SITE_ID],
                    }
                },
                headers={"Authorization": key},
            )
            ids.append(created["id"])
        return ids
