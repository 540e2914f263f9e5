"""Shared helpers for the API and CLI integration tests (fixtures are in conftest.py).

API tests build the real app in-process (Runtime.open on the `database_url` fixture, so each
runs on SQLite and PostgreSQL) and talk to it through httpx's ASGI transport. The one swap is
the DNS resolver behind the create-time SSRF check: a fake one answers from a fixed table, so
the tests never depend on (or send anything to) the network. No worker runs.

CLI tests run the installed `hookcast` executable in a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from benchmarks.lifeline import dies_with_parent

from hookcast.cli.runtime import Runtime, policy, utc_now
from hookcast.config import Settings
from hookcast.domain.models import Role
from hookcast.services import build_services
from support.waiting import wait_until

BASE_URL = "http://hookcast.test"
SITE_ID = "1A23bCD4"
PUBLIC_ADDRESS = "93.184.215.14"  # a public address; no test ever connects to it

# What the fake resolver answers. Names missing here do not resolve.
DNS: Mapping[str, Sequence[str]] = {
    "receiver.example.com": [PUBLIC_ADDRESS],
    "other.example.com": [PUBLIC_ADDRESS],
    "internal.example.com": ["10.1.2.3"],
    "metadata.example.com": ["169.254.169.254"],
    "rebind.example.com": [PUBLIC_ADDRESS, "127.0.0.1"],
}
WEBHOOK_URL = "https://receiver.example.com/hooks"


class FakeResolver:
    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self._answers = {name.lower(): list(addresses) for name, addresses in answers.items()}
        self.asked: list[str] = []

    async def resolve(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        return list(self._answers.get(host.lower().rstrip("."), ()))


_ADMIN = object()


@dataclass
class Api:
    """One in-process HookCast app with an admin key on the database's first account."""

    runtime: Runtime
    client: httpx.AsyncClient
    admin: str
    account_id: str
    resolver: FakeResolver
    _keys: dict[Role, str] = field(default_factory=dict)

    async def key(self, role: Role, account_id: str | None = None) -> str:
        """A key with `role` on the first account (cached) or on `account_id`."""
        if account_id is not None:
            issued = await self.runtime.services.accounts.issue_key(account_id, role=role)
            return issued.secret
        if role not in self._keys:
            issued = await self.runtime.services.accounts.issue_key(self.account_id, role=role)
            self._keys[role] = issued.secret
        return self._keys[role]

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: Any = _ADMIN,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A request as `key` (the admin by default; None sends no Authorization)."""
        sent = dict(headers or {})
        secret = self.admin if key is _ADMIN else key
        if secret is not None:
            sent.setdefault("Authorization", secret)
        return await self.client.request(
            method, path, json=json, content=content, params=params, headers=sent
        )

    async def site(self, site_id: str | None = None, name: str = "Main", **kw: Any) -> str:
        body: dict[str, Any] = {"metadata": {"name": name}}
        if site_id is not None:
            body["id"] = site_id
        response = await self.call("POST", "/v2/sites/", json=body, **kw)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def webhook(self, site_ids: Sequence[str], **metadata: Any) -> dict[str, Any]:
        key = metadata.pop("key", _ADMIN)
        body = {"metadata": webhook_metadata(site_ids, **metadata)}
        response = await self.call("POST", "/v2/webhooks/", json=body, key=key)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def webhook_metadata(site_ids: Sequence[str], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Media Available Webhook",
        "description": "Webhook to notify me when media is ready to be published",
        "webhook_url": WEBHOOK_URL,
        "events": ["media_available"],
        "site_ids": list(site_ids),
        **overrides,
    }


@contextlib.asynccontextmanager
async def open_api(
    database_url: str,
    *,
    allowed_networks: str = "",
    max_body_bytes: int | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Api]:
    """The app on `database_url`; `settings_overrides` are further `Settings` fields."""
    extra: dict[str, Any] = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    extra.update(settings_overrides)
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        allowed_networks=allowed_networks,
        **extra,
    )
    runtime = await Runtime.open(settings)
    resolver = FakeResolver(DNS)
    runtime.services = build_services(
        runtime.store,
        clock=utc_now,
        resolver=resolver,
        policy=policy(settings),
        publish_observer=runtime.metrics,
    )
    try:
        bootstrap = await runtime.services.accounts.bootstrap_admin_key()
        assert bootstrap is not None, "a fresh database has no API key yet"
        app = runtime.app(with_worker=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield Api(
                runtime=runtime,
                client=client,
                admin=bootstrap.secret,
                account_id=bootstrap.key.account_id,
                resolver=resolver,
            )
    finally:
        await runtime.store.close()


@contextlib.asynccontextmanager
async def in_process_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API server of its own on `settings` (no worker), for tests beside `open_api`'s."""
    runtime = await Runtime.open(settings)
    try:
        transport = httpx.ASGITransport(app=runtime.app(with_worker=False))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client
    finally:
        await runtime.store.close()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The response is `{"errors": [{"code", "description"}, ...]}` with `status`; returns
    the descriptions joined, for the caller to look into."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    assert isinstance(body["errors"], list)
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "description"}, error
        assert isinstance(error["code"], str)
        assert error["code"]
        assert isinstance(error["description"], str)
        assert error["description"]
    if code is not None:
        assert [error["code"] for error in body["errors"]] == [code], body
    return " ".join(error["description"] for error in body["errors"])


# --- subprocesses -----------------------------------------------------------------------------


def hookcast_bin() -> str:
    candidate = Path(sys.executable).parent / "hookcast"
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("hookcast")
    assert found, "the hookcast executable is not installed (run `make setup`)"
    return found


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HOOKCAST_")}
    env["HOOKCAST_DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hookcast_bin(), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def admin_key(self) -> str:
        """The admin API key serve printed, on a line of its own, when it made the database."""
        keys = [line.strip() for line in self.stdout().splitlines() if line.startswith("hck_")]
        assert keys, f"serve printed no admin key:\n{self.stdout()}\n{self.stderr()}"
        return keys[0]

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then the exit code, or None if it did not exit within `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


@contextlib.contextmanager
def serve(
    env: Mapping[str, str],
    cwd: Path,
    *args: str,
    port: int | None = None,
    open_files: int | None = None,
) -> Iterator[Server]:
    """`hookcast serve` on `port` (by default a free one), ready (/healthz answers) or failed
    within 15 s; always terminated on the way out. `open_files`: its `ulimit -n`."""
    port = port or free_port()
    dies = dies_with_parent(signal.SIGTERM)  # if the run ends without the finally

    def before_exec() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        dies()

    name = f"serve-{port}"
    stdout_path, stderr_path = cwd / f"{name}.out", cwd / f"{name}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [hookcast_bin(), "serve", "--port", str(port), *args],
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            preexec_fn=before_exec,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        if server.stop(timeout=10) is None:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def serve_to_loopback(directory: Path) -> Iterator[Server]:
    """`serve` on a new SQLite database in `directory`, allowed to deliver to 127.0.0.0/8
    (the official-client tests' receivers)."""
    database = f"sqlite:///{directory / 'hookcast.db'}"
    with serve(cli_env(database, HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8"), directory) as server:
        yield server


# Generous: a loaded 2-core CI machine can take several seconds just to import the stack.
READY_SECONDS = 45


def _wait_ready(server: Server) -> None:
    def healthy() -> bool:
        if server.process.poll() is not None:
            pytest.fail(
                f"hookcast serve exited with {server.process.returncode}:\n{server.stderr()}"
            )
        try:
            response = httpx.get(f"{server.url}/healthz", timeout=1, trust_env=False)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    wait_until(
        healthy,
        timeout=READY_SECONDS,
        message=lambda: f"hookcast serve did not answer /healthz:\n{server.stderr()}",
    )
