"""One HookCast deployment under test: a fresh database, an admin key and a site made
in-process, HookCast processes started by `Processes`, receivers, and webhooks created
through the API as a customer would."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from chaos.ledger import HookSpec, Ledger
from chaos.load import LoadOptions, Publisher
from chaos.procs import HookcastProcess, Processes
from chaos.receivers import Receiver

# Fast retries that still span minutes (a receiver away for two minutes gets its deliveries
# when it is back): 10 waits (a custom schedule's most), about 3 minutes in all, never more
# than 30 s apart.
RETRY_WAITS = [1, 2, 5, 10, 20, 30, 30, 30, 30, 30]


async def bootstrap(database_url: str, secret_key: str) -> tuple[str, str]:
    """Migrates the database; returns (admin API key, site id)."""
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings
    from hookcast.domain.models import Role
    from hookcast.services import Caller
    from hookcast.store import migrate

    await asyncio.to_thread(migrate, database_url)
    runtime = await Runtime.open(Settings(database_url=database_url, secret_key=secret_key))
    try:
        created = await runtime.services.accounts.bootstrap_admin_key()
        assert created is not None, "the database was not fresh"
        account = await runtime.services.accounts.default_account()
        caller = Caller(account_id=account.id, role=Role.ADMIN)
        site = await runtime.services.sites.create(caller, name="Chaos", site_id=None)
        return created.secret, site.id
    finally:
        await runtime.store.close()


async def another_account(database_url: str, secret_key: str, name: str) -> tuple[str, str, str]:
    """A second account on a bootstrapped database, with its own admin key and site:
    returns (account id, API key, site id)."""
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings
    from hookcast.domain.models import Role
    from hookcast.services import Caller

    runtime = await Runtime.open(Settings(database_url=database_url, secret_key=secret_key))
    try:
        accounts = runtime.services.accounts
        account = await accounts.create_account(name)
        key = await accounts.issue_key(account.id, role=Role.ADMIN, name=f"{name} key")
        caller = Caller(account_id=account.id, role=Role.ADMIN)
        site = await runtime.services.sites.create(caller, name=name, site_id=None)
        return account.id, key.secret, site.id
    finally:
        await runtime.store.close()


@dataclass
class Deployment:
    ledger: Ledger
    procs: Processes
    api_key: str
    site_id: str
    rng: random.Random
    apis: list[HookcastProcess] = field(default_factory=list)
    receivers: list[Receiver] = field(default_factory=list)

    def api_urls(self) -> list[str]:
        running = [api.url for api in self.apis if api.running()]
        return running or [api.url for api in self.apis]

    async def receiver(self, **options: Any) -> Receiver:
        started = Receiver(self.ledger, rng=self.rng, **options)
        await started.start()
        self.receivers.append(started)
        return started

    async def webhook(self, receiver: Receiver, spec: HookSpec, *, timeout: int = 10) -> str:
        """A webhook to `receiver`, whose deliveries the ledger expects."""
        conditions = None if spec.tag is None else {"data.tags": {"$contains": spec.tag}}
        webhook_id = await self.webhook_to(
            receiver.url, spec.name, events=spec.events, timeout=timeout, conditions=conditions
        )
        self.ledger.add_hook(webhook_id, spec)
        return webhook_id

    async def webhook_to(
        self,
        url: str,
        name: str,
        *,
        events: Sequence[str] = ("*",),
        timeout: int = 10,
        conditions: Mapping[str, Any] | None = None,
    ) -> str:
        """A webhook to any URL, created through the API; the ledger is not told of it."""
        metadata: dict[str, Any] = {
            "name": name,
            "webhook_url": url,
            "events": list(events),
            "site_ids": [self.site_id],
            "retry_policy": RETRY_WAITS,
            "timeout_seconds": timeout,
        }
        if conditions is not None:
            metadata["conditions"] = conditions
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client,
            client.post(
                self.api_urls()[0] + "/v2/webhooks/", json={"metadata": metadata}, headers=headers
            ) as response,
        ):
            body = await response.json()
            assert response.status == 201, body
        return str(body["id"])

    async def standard_hooks(self, delay: float) -> None:
        """Three webhooks on two receivers: every event; media_available only; "sports"."""
        one = await self.receiver(delay=delay)
        two = await self.receiver(delay=delay)
        await self.webhook(one, HookSpec("all"))
        await self.webhook(two, HookSpec("media", events=("media_available",)))
        await self.webhook(two, HookSpec("sports", tag="sports"))

    def publisher(self, run: str, options: LoadOptions) -> Publisher:
        return Publisher(
            self.ledger,
            urls=self.api_urls,
            api_key=self.api_key,
            site_id=self.site_id,
            run=run,
            rng=self.rng,
            options=options,
        )

    async def settle(self, deadline: float, quiet: float = 1.5) -> float:
        """Waits until every accepted event reached every matching webhook (bounded), then
        a quiet moment to count late duplicates; returns the seconds waited."""
        started = time.monotonic()
        # Polling: acks come from every receiver's connections; a bounded, coarse loop.
        while not self.ledger.all_delivered() and time.monotonic() - started < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        waited = time.monotonic() - started
        await asyncio.sleep(quiet)
        return waited

    async def close(self) -> None:
        self.procs.close()
        for receiver in self.receivers:
            await receiver.stop()
