"""HookCast wired as a deployment would wire it, for the delivery integration tests.

`Deployment` is the API (httpx over ASGI, no network) plus any number of in-process delivery
workers on one database. `ServerProcess` runs `hookcast serve` / `hookcast worker` as a real
subprocess, for the crash and shutdown tests. Every wait is bounded; everything started here is
stopped in `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import pytest
from benchmarks.lifeline import dies_with_parent
from receivers import DEADLINE, Behaviour, Receiver, closed_port

from hookcast.cli.runtime import Runtime
from hookcast.config import Settings
from hookcast.delivery.sender import HttpSender
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.addresses import parse_networks
from hookcast.domain.models import Role
from hookcast.heartbeat import Heartbeat
from hookcast.ports import DeliveryQueue
from hookcast.store import SqlStore
from support.waiting import eventually

SECRET_KEY = "integration-test-key"
LOOPBACK = "127.0.0.0/8"
# Snappy workers: look for due work often so retries a fraction of a second apart happen then.
FAST = WorkerOptions(concurrency=32, idle_wait_seconds=0.05, lease_seconds=30.0)


def require_sqlite(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises the delivery engine, not the database: SQLite is enough")


def require_postgres(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("a PostgreSQL scenario")


def settings_for(database_url: str) -> Settings:
    # Retries a tenth of a second apart keep the tests short: below what a deployment allows.
    return Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        allowed_networks=LOOPBACK,
        min_retry_delay_seconds=0,
    )


class ClaimHeldAfterRead:
    """A store whose first claim that brings deliveries is held once the database has
    answered it: what it brings was read before whatever commits meanwhile (as with a claim
    under way while an edit is saved)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self.read = asyncio.Event()  # the held claim has its deliveries
        self.let_go = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_due_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        claimed = await self._store.claim_due_deliveries(*args, **kwargs)
        if claimed and not self.read.is_set():
            self.read.set()
            await self.let_go.wait()
        return claimed


class OffsetClock:
    """Real time plus an offset the test moves forward (to walk a retry schedule quickly)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Worker:
    worker: DeliveryWorker
    sender: HttpSender
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self, timeout: float = DEADLINE) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        finally:
            if not self.task.done():
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task
            await self.sender.close()


@dataclass
class Deployment:
    runtime: Runtime
    api: httpx.AsyncClient
    site_id: str
    admin_key: str
    workers: list[Worker] = field(default_factory=list)
    receivers: list[Receiver] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def open(cls, database_url: str) -> AsyncIterator[Deployment]:
        runtime = await Runtime.open(settings_for(database_url))
        transport = httpx.ASGITransport(app=runtime.app(with_worker=False))
        api = httpx.AsyncClient(transport=transport, base_url="http://hookcast.test")
        deployment: Deployment | None = None
        try:
            created = await runtime.services.accounts.bootstrap_admin_key()
            assert created is not None, "the database was not fresh"
            api.headers["Authorization"] = f"Bearer {created.secret}"
            site = await api.post("/v2/sites/", json={"metadata": {"name": "Main"}})
            assert site.status_code == 201, site.text
            deployment = cls(
                runtime=runtime, api=api, site_id=site.json()["id"], admin_key=created.secret
            )
            yield deployment
        finally:
            if deployment is not None:
                for worker in deployment.workers:
                    await worker.close()
                for receiver in deployment.receivers:
                    await receiver.close()
            await api.aclose()
            await runtime.store.close()

    async def receiver(self, behaviour: Behaviour | None = None) -> Receiver:
        """A loopback receiver, closed with the deployment."""
        started = await Receiver(behaviour).start()
        self.receivers.append(started)
        return started

    # --- workers ---

    def start_worker(
        self,
        options: WorkerOptions = FAST,
        *,
        clock: Callable[[], datetime] | None = None,
        runtime: Runtime | None = None,
        ca_file: str | None = None,
        heartbeat: Heartbeat | None = None,
        queue: DeliveryQueue | None = None,
    ) -> Worker:
        """A worker on `queue`, else on the store of `runtime` (this deployment's by default)."""
        sender = HttpSender(allowed=parse_networks(LOOPBACK), ca_file=ca_file)
        worker = DeliveryWorker(
            queue or (runtime or self.runtime).store,
            sender,
            clock=clock or (lambda: datetime.now(UTC)),
            options=options,
            heartbeat=heartbeat,
        )
        stop = asyncio.Event()
        running = Worker(worker, sender, stop, asyncio.create_task(worker.run(stop)))
        self.workers.append(running)
        return running

    # --- the API, as a customer and a publisher use it ---

    async def create_webhook(self, url: str, **metadata: Any) -> dict[str, Any]:
        body = {
            "name": "hook",
            "webhook_url": url,
            "events": ["*"],
            "site_ids": [self.site_id],
            **metadata,
        }
        response = await self.api.post("/v2/webhooks/", json={"metadata": body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def hook_for(self, receiver: Receiver, **metadata: Any) -> dict[str, Any]:
        """A webhook pointing at `receiver`, whose secret the receiver then verifies with."""
        created = await self.create_webhook(receiver.url, **metadata)
        receiver.secret = created["secret"]
        return created

    async def other_account(self, name: str) -> tuple[dict[str, str], str]:
        """A second account: its API key's headers and a site of its own."""
        accounts = self.runtime.services.accounts
        account = await accounts.create_account(name)
        issued = await accounts.issue_key(account.id, role=Role.ADMIN)
        headers = {"Authorization": f"Bearer {issued.secret}"}
        site = await self.api.post(
            "/v2/sites/", json={"metadata": {"name": "Theirs"}}, headers=headers
        )
        assert site.status_code == 201, site.text
        return headers, str(site.json()["id"])

    async def publish(self, *events: dict[str, Any]) -> list[str]:
        items = [{"site_id": self.site_id, **event} for event in events]
        body = items[0] if len(items) == 1 else {"events": items}
        response = await self.api.post("/v2/events/", json=body)
        assert response.status_code == 202, response.text
        ids: list[str] = response.json()["event_ids"]
        return ids

    async def publish_media(self, count: int, **extra: Any) -> list[str]:
        return await self.publish(
            *(
                {"event": "media_available", "media_id": f"MEDIA{n:03d}", **extra}
                for n in range(count)
            )
        )

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v2/webhooks/{webhook_id}/")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def deliveries(self, webhook_id: str, **params: Any) -> dict[str, Any]:
        response = await self.api.get(f"/v2/webhooks/{webhook_id}/deliveries/", params=params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def wait_for_status(
        self, webhook_id: str, status: str, count: int, *, timeout: float = DEADLINE
    ) -> list[dict[str, Any]]:
        """Polls the delivery log until `count` deliveries of the webhook have `status`."""
        found: list[dict[str, Any]] = []

        async def reached() -> bool:
            nonlocal found
            page = await self.deliveries(webhook_id, status=status, page_length=100)
            found = page["deliveries"]
            return int(page["total"]) >= count

        await eventually(
            reached,
            timeout=timeout,
            message=lambda: f"{len(found)} of {count} deliveries are {status}",
        )
        return found


# --- real processes ---------------------------------------------------------------------------


def hookcast_command() -> str:
    return str(Path(sys.executable).with_name("hookcast"))


@dataclass
class ServerProcess:
    """`hookcast serve` or `hookcast worker` in a subprocess, output kept in a log file."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 3 * DEADLINE) -> None:
        # Start-up is imports + migrate: several seconds on a loaded 2-core machine.
        async with httpx.AsyncClient() as client:

            async def healthy() -> bool:
                assert self.process.poll() is None, f"exited early:\n{self.log_tail()}"
                try:
                    return (await client.get(f"{self.url}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(
                healthy, timeout=timeout, message=lambda: f"not ready:\n{self.log_tail()}"
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after `timeout`."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(self.process.wait, timeout)
        return self.process.poll()

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            if await self.wait_exit(DEADLINE) is None:
                self.process.kill()
        await self.wait_exit(DEADLINE)


@dataclass
class Processes:
    """Starts HookCast subprocesses and guarantees they are gone at the end of a test."""

    database_url: str
    directory: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    started: list[ServerProcess] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HOOKCAST_")}
        env.update(
            HOOKCAST_DATABASE_URL=self.database_url,
            HOOKCAST_SECRET_KEY=SECRET_KEY,
            HOOKCAST_ALLOWED_NETWORKS=LOOPBACK,
            HOOKCAST_LOG_LEVEL="WARNING",
            **self.extra_env,
            **overrides,
        )
        return env

    def serve(self, *args: str, **env: str) -> ServerProcess:
        port = closed_port()
        return self._start(["serve", "--port", str(port), *args], port, env)

    def serve_on(self, port: int, *args: str) -> ServerProcess:
        """`hookcast serve` on `port`, which may be taken (another serve's)."""
        return self._start(["serve", "--port", str(port), *args], port, {})

    def worker(self, *args: str, **env: str) -> ServerProcess:
        return self._start(["worker", *args], None, env)

    def _start(self, args: list[str], port: int | None, env: dict[str, str]) -> ServerProcess:
        log = self.directory / f"hookcast-{len(self.started)}-{args[0]}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [hookcast_command(), *args],
                env=self.env(**env),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=dies_with_parent(signal.SIGTERM),  # if the run ends without close()
            )
        started = ServerProcess(process=process, log=log, port=port)
        self.started.append(started)
        return started

    async def close(self) -> None:
        for started in self.started:
            started.kill()
            await started.wait_exit(DEADLINE)


@asynccontextmanager
async def processes(database_url: str, directory: Path, **env: str) -> AsyncIterator[Processes]:
    running = Processes(database_url=database_url, directory=directory, extra_env=env)
    try:
        yield running
    finally:
        await running.close()


def with_options(**changes: Any) -> WorkerOptions:
    return replace(FAST, **changes)


_T = TypeVar("_T")


async def moved_while_claimed(
    hookcast: Deployment, webhook_id: str, url: str, send: Callable[[], Awaitable[_T]]
) -> _T:
    """Starts a worker whose first claim that brings deliveries is held once read
    (`ClaimHeldAfterRead`), runs `send` (what the claim brings), and saves `url` as the
    webhook's URL while the claim is held: it carries the webhook as it was. What `send`
    returned."""
    held = ClaimHeldAfterRead(hookcast.runtime.store)
    hookcast.start_worker(queue=cast(DeliveryQueue, held))
    try:
        sent = await send()
        await asyncio.wait_for(held.read.wait(), DEADLINE)
        moved = await hookcast.api.patch(
            f"/v2/webhooks/{webhook_id}/", json={"metadata": {"webhook_url": url}}
        )
        assert moved.status_code == 200, moved.text
    finally:
        held.let_go.set()
    return sent
