"""uvicorn's server for `hookcast serve`, saying where HookCast is once it is listening."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
from collections.abc import Callable

import typer
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hookcast.cli.open_files import share_of_open_files
from hookcast.cli.remote import os_error_words
from hookcast.config import Settings

__all__ = [
    "AnnouncingServer",
    "BoundedProtocol",
    "connections_at_most",
    "listening_socket",
    "server_config",
]

_log = logging.getLogger("hookcast.serve")


# How long an idle client connection stays open after an answer. uvicorn's 5 s broke JW
# Player's official client (PyPI `jwplatform`), which sends every call on one connection
# and never reconnects: a call after a pause over 5 s failed with RemoteDisconnected. Longer
# than the idle timeouts of the proxies put in front (AWS ALB 60 s, nginx's upstream 60 s
# and client 75 s), so a proxy reusing a connection never races serve closing it.
_KEEP_ALIVE_SECONDS = 90


# How long a client may take over a request's head (request line and headers), from its
# first byte: uvicorn stops the keep-alive timer at a connection's first byte and starts it
# again only after an answer, so a connection that sent "G" and no more was held for ever,
# and HOOKCAST_MAX_CONNECTIONS of them shut every client out. A head is one packet from any
# real client; 10 s leaves room for a slow mobile link.
_HEAD_SECONDS = 10.0


def server_config(
    app: ASGIApp,
    settings: Settings,
    *,
    host: str,
    port: int,
    refused: Callable[[], None] = lambda: None,
    keep_alive_seconds: float = _KEEP_ALIVE_SECONDS,
    head_seconds: float = _HEAD_SECONDS,
) -> uvicorn.Config:
    """uvicorn's settings for `serve` (and for benchmarks.publish_asgi, which measures them);
    `refused` counts each connection answered 503 at the bound (metrics'
    on_connection_refused). The timeouts are settable for the tests, which cannot wait 90 s."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler (text or JSON)
        access_log=False,
        server_header=False,
        timeout_keep_alive=keep_alive_seconds,  # type: ignore[arg-type]  # a float works
        http=_bounded_protocol(
            connections_at_most(settings.max_connections),
            head_seconds=head_seconds,
            refused=refused,
        ),
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
    return share_of_open_files(wanted, parts=2)


def _closing_answer(status: str, code: str, description: str, *, headers: str = "") -> bytes:
    """An error answer in the API's format, written before the connection is closed, by
    the protocol itself (no request reached the app)."""
    errors = {"errors": [{"code": code, "description": description}]}
    body = json.dumps(errors, separators=(",", ":")).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}"
    head += f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


# Said to a connection over the bound.
_OVER_BOUND = _closing_answer(
    "503 Service Unavailable",
    "unavailable",
    "the server holds as many connections as it may (HOOKCAST_MAX_CONNECTIONS): try again shortly",
    headers="retry-after: 1\r\n",
)
# Said to a connection whose request head did not come in time.
_HEAD_LATE = _closing_answer(
    "408 Request Timeout", "request_timeout", "the request's headers did not arrive in time"
)
# Said once a minute at most while connections are refused.
_REFUSAL_LOG_SECONDS = 60.0


def _bounded_protocol(
    most: int, *, head_seconds: float, refused: Callable[[], None]
) -> type[HttpToolsProtocol]:
    """`BoundedProtocol` holding at most `most` connections, waiting `head_seconds` for a
    request head, telling `refused` of each connection refused (uvicorn takes a protocol
    class, so its settings are class attributes)."""
    settings = {
        "most": most,
        "head_seconds": head_seconds,
        "refused_logged_at": [],
        "count_refusal": staticmethod(refused),
    }
    return type("BoundedProtocol", (BoundedProtocol,), settings)


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with the bounds it lacks:
    - at most `most` connections open. Over it, the connection idle the longest (no request
      under way: it never sent a byte, or is between requests, or sent only part of a head)
      is closed to let the new one in; only when every connection has a request under way
      is the new one answered 503 and closed at once, its descriptor freed. A request under
      way (its head read) is never cut.
    - a connection that sends no request is closed after the keep-alive time, as an idle one
      is (uvicorn armed that timer only after a first answer).
    - a request head must be complete within `head_seconds` of its first byte (the
      keep-alive timer ends at that byte), or the connection is answered 408 and closed."""

    most = 1000
    head_seconds = _HEAD_SECONDS
    refused_logged_at: list[float] = []  # the loop time of the last refusal logged
    count_refusal: Callable[[], None] = staticmethod(lambda: None)
    _idle_since = 0.0  # the loop time its last answer ended (or it connected)
    _head_timer: asyncio.TimerHandle | None = None
    _head_read = False  # set by on_headers_complete during one data_received

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        if len(self.connections) > self.most and not self._make_room():
            transport.write(_OVER_BOUND)
            transport.close()
            self.count_refusal()
            self._log_refusal()
            return
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def idle(self) -> bool:
        """No request under way: none read yet, or every one read answered."""
        return self.cycle is None or self.cycle.response_complete

    def _make_room(self) -> bool:
        """Closes the connection idle the longest, if one is: False when every other
        connection has a request under way. Closed ones stay in `connections` until the loop
        reports them lost, so they are not counted. O(connections), only over the bound."""
        others = [c for c in self.connections if c is not self and not c.transport.is_closing()]
        if len(others) < self.most:
            return True
        idle = [c for c in others if isinstance(c, BoundedProtocol) and c.idle()]
        if not idle:
            return False
        min(idle, key=lambda c: c._idle_since).transport.close()
        return True

    def data_received(self, data: bytes) -> None:
        between = self.idle()
        self._head_read = False
        super().data_received(data)  # cancels the keep-alive timer
        # Armed only when a head began and did not end in this packet: none on the hot path.
        # Not when the parser refused the bytes (uvicorn answered 400 and closed).
        waiting = between and not self._head_read and self._head_timer is None
        if waiting and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.head_seconds, self._head_late)

    def on_headers_complete(self) -> None:
        self._head_read = True
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._idle_since = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_HEAD_LATE)
            self.transport.close()

    def _log_refusal(self) -> None:
        now = self.loop.time()
        logged = self.refused_logged_at
        if logged and now - logged[0] < _REFUSAL_LOG_SECONDS:
            return
        logged[:] = [now]
        _log.warning(
            "serve holds %d client connections, its most (HOOKCAST_MAX_CONNECTIONS, at most "
            "half of ulimit -n), each with a request under way: new ones are answered 503 "
            "and closed",
            self.most,
        )


def listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    """A socket bound to host:port, before anything else starts: bound by uvicorn, a taken
    port came after its start-up lines and its own error. `shared`: other processes may bind
    it too (SO_REUSEPORT): several `serve --no-worker --reuse-port` on one port use more than
    one core for the API without a load balancer in front; the kernel gives each new
    connection to one of them."""
    if shared and not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Linux, BSDs have it
        raise OSError("this system cannot share a port (no SO_REUSEPORT)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn binds
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


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
        """uvicorn's start-up (lifespan; `sockets` bound already: listening_socket), then the
        announcement."""
        await super().startup(sockets=sockets)
        from hookcast.cli.signposts import server_url

        bound = [sock for server in self.servers for sock in (server.sockets or ())]
        if not bound:
            return
        port = int(bound[0].getsockname()[1])
        # stdout, beside the admin key: for the person who started it, not a log record
        typer.echo("\n".join(self._announce(server_url(self.config.host, port))))
