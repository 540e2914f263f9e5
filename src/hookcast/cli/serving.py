"""uvicorn's server for `hookcast serve`, saying where HookCast is once it is listening."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
from collections.abc import Callable

import typer
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hookcast.cli.remote import os_error_words
from hookcast.config import Settings

__all__ = ["AnnouncingServer", "connections_at_most", "server_config", "shared_socket"]

_log = logging.getLogger("hookcast.serve")


# How long an idle client connection stays open after an answer. uvicorn's 5 s broke JW
# Player's official client (PyPI `jwplatform`), which sends every call on one connection
# and never reconnects: a call after a pause over 5 s failed with RemoteDisconnected. Longer
# than the idle timeouts of the proxies put in front (AWS ALB 60 s, nginx's upstream 60 s
# and client 75 s), so a proxy reusing a connection never races serve closing it.
_KEEP_ALIVE_SECONDS = 90


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
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
        http=_bounded_protocol(connections_at_most(settings.max_connections)),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def connections_at_most(wanted: int) -> int:
    """The client connections `serve` holds open at once: HOOKCAST_MAX_CONNECTIONS, but never
    more than half the process's open-file limit (`ulimit -n`). The other half is the
    delivery worker's (its requests in flight, its idle keep-alive connections), the
    database's and the mailer's: idle connections anyone could open without a key took every
    file descriptor, and then every account's deliveries failed ("Too many open files",
    counted against each receiver) and the database answered nothing."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // 2))


# Said to a connection over the bound, before it is closed (the API's error format).
_OVER_BOUND_BODY = (
    b'{"errors":[{"code":"unavailable","description":"the server holds as many connections '
    b'as it may (HOOKCAST_MAX_CONNECTIONS): try again shortly"}]}'
)
_OVER_BOUND = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
    + str(len(_OVER_BOUND_BODY)).encode()
    + b"\r\n\r\n"
    + _OVER_BOUND_BODY
)
# Said once a minute at most while connections are refused.
_REFUSAL_LOG_SECONDS = 60.0


def _bounded_protocol(most: int) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol with two bounds it lacks: at most `most` connections open (a
    connection over it is answered 503 and closed at once, its descriptor freed), and a
    connection that sends no request closed after the keep-alive time, as an idle one is
    (uvicorn armed that timer only after a first answer: a connection that never sent a
    byte stayed open for as long as its client wished)."""
    refused_logged_at: list[float] = []  # the loop time of the last refusal logged

    class BoundedProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > most:  # this one is counted already
                transport.write(_OVER_BOUND)
                transport.close()
                self._log_refusal()
                return
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def _log_refusal(self) -> None:
            now = self.loop.time()
            if refused_logged_at and now - refused_logged_at[0] < _REFUSAL_LOG_SECONDS:
                return
            refused_logged_at[:] = [now]
            _log.warning(
                "serve holds %d client connections, its most (HOOKCAST_MAX_CONNECTIONS, at "
                "most half of ulimit -n): new ones are answered 503 and closed",
                most,
            )

    return BoundedProtocol


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other processes may bind too (SO_REUSEPORT): several
    `serve --no-worker --reuse-port` on one port use more than one core for the API without
    a load balancer in front; the kernel gives each new connection to one of them."""
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Linux and the BSDs have it
        raise OSError("this system cannot share a port (no SO_REUSEPORT)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn binds
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def bind_refusal(host: str, port: int) -> str:
    """Why host:port cannot be bound, in words ("address already in use", plus what to do):
    uvicorn keeps its own OSError to itself, so this binds once more to learn it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn binds
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        return bind_words(exc)
    return "it was taken while serve was starting"


def bind_words(exc: OSError) -> str:
    """A bind's OSError as serve says it, with what to do when the port is taken: under
    `make run` (make sets MAKELEVEL for what it runs), README's way to pass --port, since
    `make run --port 8001` is an option of make's."""
    if exc.errno == errno.EADDRINUSE:
        other = 'make run SERVE_ARGS="--port 8001"' if os.environ.get("MAKELEVEL") else "--port"
        return f"address already in use (stop what is on it, or choose another with {other})"
    return os_error_words(exc)


# uvicorn's own loop ticks every 0.1 s to see whether it should stop and, every tenth tick,
# to renew the Date header: an idle `serve` woke 10 times a second (two epoll waits each,
# strace). Its tick here is a second, the Date header's own precision, and a stop wakes it.
_TICK_SECONDS = 1.0


class AnnouncingServer(uvicorn.Server):
    """Prints `announce(url)`'s lines on stdout after the socket is bound, so every URL it
    prints answers (and names the port actually bound, --port 0 included). Its main loop
    ticks once a second, and at once when told to stop (`should_exit`)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str], list[str]]) -> None:
        self._stopping: asyncio.Event | None = None  # set with should_exit, in main_loop
        self._ticking: asyncio.AbstractEventLoop | None = None
        self._should_exit = False
        super().__init__(config)
        self._announce = announce
        self.failure: str | None = None  # why it stopped, when not asked to

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        """Set by uvicorn's signal handler (SIGTERM, SIGINT) or by `stop_failed`: the main
        loop wakes for it rather than at its next tick. Through the loop's thread-safe call,
        which a signal handler may make."""
        self._should_exit = value
        loop, stopping = self._ticking, self._stopping
        if value and loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(stopping.set)

    async def main_loop(self) -> None:
        """uvicorn's, ticking every `_TICK_SECONDS` instead of every 0.1 s (each tick
        renews the Date header, as uvicorn's every tenth did) and woken by a stop."""
        self._stopping = asyncio.Event()
        self._ticking = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # a multiple of 10: on_tick renews the Date
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TICK_SECONDS):
                    await self._stopping.wait()
            should_exit = await self.on_tick(counter)

    def stop_failed(self, reason: str) -> None:
        """Stops serving as SIGTERM would (from the server's loop); `failure` says why (the
        first reason given: a worker refused while a failed bind stops serve says it later)."""
        if self.failure is None:
            self.failure = reason
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (lifespan, bind), then the announcement."""
        try:
            await super().startup(sockets=sockets)
        except SystemExit:
            # uvicorn logs its bind's OSError among the INFO lines, shuts the lifespan down and
            # exits 3: a port already taken (a second `make run`) ended with no line of
            # HookCast's own. Say it as `serve --reuse-port` and `listen` do; serve exits 1.
            host, port = self.config.host, self.config.port
            self.stop_failed(f"cannot listen on {host}:{port}: {bind_refusal(host, port)}")
            return
        from hookcast.cli.signposts import server_url

        bound = [sock for server in self.servers for sock in (server.sockets or ())]
        if not bound:
            return
        port = int(bound[0].getsockname()[1])
        # stdout, beside the admin key: for the person who started it, not a log record
        typer.echo("\n".join(self._announce(server_url(self.config.host, port))))
