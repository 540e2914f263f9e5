"""A real `hookcast serve` for the developer-tool tests (SDK, listen, trigger, simulate,
webhooks): a subprocess on a tmp SQLite file that may deliver to loopback, with the admin
key it printed on first start, and the environment the CLI tools read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import Server, cli_env, serve

from hookcast import Client

SITE_ID = "1A23bCD4"


@dataclass
class LiveServer:
    server: Server
    admin_key: str
    cwd: Path

    @property
    def url(self) -> str:
        return self.server.url

    def env(self, api_key: str | None = None, **extra: str) -> dict[str, str]:
        """The environment a user of `trigger`, `simulate` or `webhooks` would have."""
        return cli_env(
            f"sqlite:///{self.cwd / 'hookcast.db'}",
            HOOKCAST_URL=self.url,
            HOOKCAST_API_KEY=api_key or self.admin_key,
            **extra,
        )

    def client(self, api_key: str | None = None) -> Client:
        return Client(self.url, api_key or self.admin_key, timeout=10)


@contextlib.contextmanager
def live_server(cwd: Path) -> Iterator[LiveServer]:
    env = cli_env(f"sqlite:///{cwd / 'hookcast.db'}", HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8")
    with serve(env, cwd) as server:
        live = LiveServer(server=server, admin_key=server.admin_key(), cwd=cwd)
        with live.client() as client:
            client.create_site("Main", site_id=SITE_ID)
        yield live
