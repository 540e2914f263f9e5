"""uvicorn's server for `hookcast serve`, saying where HookCast is once it is listening."""

from __future__ import annotations

import socket
from collections.abc import Callable

import typer
import uvicorn
from starlette.types import ASGIApp

from hookcast.config import Settings

__all__ = ["AnnouncingServer", "server_config"]


def server_config(app: ASGIApp, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for `serve` (and for benchmarks.publish_asgi, which measures them)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler (text or JSON)
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


class AnnouncingServer(uvicorn.Server):
    """Prints `announce(url)`'s lines on stdout after the socket is bound, so every URL it
    prints answers (and names the port actually bound, --port 0 included)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str], list[str]]) -> None:
        super().__init__(config)
        self._announce = announce
        self.failure: str | None = None  # why it stopped, when not asked to

    def stop_failed(self, reason: str) -> None:
        """Stops serving as SIGTERM would (from the server's loop); `failure` says why."""
        self.failure = reason
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (lifespan, bind), then the announcement."""
        await super().startup(sockets=sockets)
        from hookcast.cli.signposts import server_url

        bound = [sock for server in self.servers for sock in (server.sockets or ())]
        if not bound:
            return
        port = int(bound[0].getsockname()[1])
        # stdout, beside the admin key: for the person who started it, not a log record
        typer.echo("\n".join(self._announce(server_url(self.config.host, port))))
