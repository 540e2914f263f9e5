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
from dataclasses import dataclass
from typing import Any

import typer
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hookcast.cli.open_files import share_of_open_files
from hookcast.cli.remote import os_error_words
from hookcast.config import Settings

__all__ = [
    "AnnouncingServer",
    "BodyPace",
    "BoundedProtocol",
    "Refused",
    "connections_at_most",
    "listening_sockets",
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

# How a request's body must keep coming once its head is read: at least `_BODY_BYTES` in
# every `_BODY_SECONDS` until it is complete (~1.6 KiB/s, 13 kbit/s: a 5 MiB publish batch,
# HOOKCAST_MAX_BODY_BYTES' default, in at most ~5 minutes). A body is a request under way,
# never closed at the bound, so a client that declared `Content-Length: 1000000` and sent
# nothing more held its connection for ever, and HOOKCAST_MAX_CONNECTIONS of them shut every
# client out. A rate, not only a gap between two packets, so that a byte every few seconds
# does not hold one either; measured per window rather than over the whole body, so that a
# large body on a slow link is not cut for its size. Holding every slot now costs an
# attacker that rate on each (~6.5 Mbit/s for serve's 512 at `ulimit -n` 1,024).
_BODY_SECONDS = 10.0
_BODY_BYTES = 16 * 1024

# How long an answer may stay unsent because the client reads nothing of it (the socket's
# buffers full): its request stays under way, never closed at the bound, for as long.
_WRITE_STALL_SECONDS = 30.0


def server_config(
    app: ASGIApp,
    settings: Settings,
    *,
    host: str,
    port: int,
    refused: Refused = lambda status, reason: None,
    keep_alive_seconds: float = _KEEP_ALIVE_SECONDS,
    head_seconds: float = _HEAD_SECONDS,
    body: BodyPace | None = None,
    write_stall_seconds: float = _WRITE_STALL_SECONDS,
) -> uvicorn.Config:
    """uvicorn's settings for `serve` (and for benchmarks.publish_asgi, which measures them);
    `refused(status, reason)` counts each connection the protocol answers itself before
    closing it (metrics' on_connection_refused). The timeouts are settable for the tests,
    which cannot wait 90 s."""
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
            Timeouts(head_seconds, body or BodyPace(), write_stall_seconds),
            refused=refused,
        ),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


# Told of each connection the protocol answers itself and closes: its status and why.
Refused = Callable[[int, str], None]


@dataclass(frozen=True)
class BodyPace:
    """The least of a request body that must arrive in each window of `seconds`, until it
    is complete (a request's head is read: its body is awaited by the app)."""

    seconds: float = _BODY_SECONDS
    least_bytes: int = _BODY_BYTES


@dataclass(frozen=True)
class Timeouts:
    """How long `BoundedProtocol` waits for a client: a head, a body, a read of its answer."""

    head_seconds: float = _HEAD_SECONDS
    body: BodyPace = BodyPace()
    write_stall_seconds: float = _WRITE_STALL_SECONDS


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
# Said to a connection whose request body stopped coming (or came too slowly).
_BODY_LATE = _closing_answer(
    "408 Request Timeout", "request_timeout", "the request's body did not arrive in time"
)
# Said once a minute at most while connections are refused.
_REFUSAL_LOG_SECONDS = 60.0


def _bounded_protocol(
    most: int, timeouts: Timeouts, *, refused: Refused
) -> type[HttpToolsProtocol]:
    """`BoundedProtocol` holding at most `most` connections, waiting for clients as long as
    `timeouts` say, telling `refused` of each connection it answers and closes (uvicorn
    takes a protocol class, so its settings are class attributes)."""
    settings = {
        "most": most,
        "timeouts": timeouts,
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
      keep-alive timer ends at that byte), or the connection is answered 408 and closed.
    - a request body must keep coming (`BodyPace`), or the connection is answered 408 (when
      no answer has begun) and closed; a body answered before its end (a 401, a 413) is
      read for one more body window at most, then the connection is closed, or kept alive
      if the body ended in it.
    - an answer the client reads nothing of for `write_stall_seconds` is given up: the
      connection is aborted (a close would wait for the client to read it)."""

    most = 1000
    timeouts = Timeouts()
    refused_logged_at: list[float] = []  # the loop time of the last refusal logged
    count_refusal: Refused = staticmethod(lambda status, reason: None)
    _idle_since = 0.0  # the loop time its last answer ended (or it connected)
    _head_timer: asyncio.TimerHandle | None = None
    _head_read = False  # set by on_headers_complete during one data_received
    _body_timer: asyncio.TimerHandle | None = None
    _body_arrived = 0  # body bytes received in the current window
    _write_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        if len(self.connections) > self.most and not self._make_room():
            transport.write(_OVER_BOUND)
            transport.close()
            self.count_refusal(503, "too_many_connections")
            self._log_refusal()
            return
        self._keep_alive()

    def _keep_alive(self) -> None:
        """Arms the keep-alive timer: the connection is idle from now, between requests."""
        self._unset_keepalive_if_required()
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
        if self._body_timer is None:  # a window may start here: its packet counts in it
            self._body_arrived = 0
        super().data_received(data)  # cancels the keep-alive timer
        # Armed only when a head began and did not end in this packet: none on the hot path.
        # Not when the parser refused the bytes (uvicorn answered 400 and closed).
        if self.transport.is_closing():
            return
        head_begun = between and not self._head_read and not self._body_awaited()
        if head_begun and self._head_timer is None:
            timeout = self.timeouts.head_seconds
            self._head_timer = self.loop.call_later(timeout, self._head_late)
        # Likewise a body not complete in the packets read so far.
        elif self._body_awaited() and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.timeouts.body.seconds, self._body_due)

    def on_headers_complete(self) -> None:
        self._head_read = True
        self._cancel_head_timer()
        self._unset_keepalive_if_required()  # armed by a late body's end in this packet
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_arrived += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.transport.is_closing():
            # The end of a body answered before it (_linger): the connection is between
            # requests again, idle under the keep-alive timer (its packets stopped it).
            # Closed here, a client told nothing of a close (a 401, a 429 keep the
            # connection) sent its next request on it and lost it: "Server disconnected
            # without sending a response" (a CI run, a portal's form after its 429).
            cycle.more_body = False  # uvicorn leaves it set once the answer is complete
            self._idle_since = self.loop.time()
            self._keep_alive()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            stall = self.timeouts.write_stall_seconds
            self._write_timer = self.loop.call_later(stall, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_write_timer()

    def on_response_complete(self) -> None:
        self._idle_since = self.loop.time()
        super().on_response_complete()
        if self._body_awaited() and not self.transport.is_closing():
            self._linger()

    def _linger(self) -> None:
        """The app answered (a 401, a 413, a 415) before its request's body ended: uvicorn
        would read the rest for as long as it came at the body's pace, and after a 413 a
        client without a key held a connection slot for ever. The rest is read (and
        dropped) for one body window at most, then the connection is closed (kept alive if
        the body ends in it): closed at once, the client still sending would be reset and
        could lose the answer."""
        self._cancel_body_timer()
        self._body_timer = self.loop.call_later(self.timeouts.body.seconds, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        # uvicorn resumes writing through its flow control, not through resume_writing:
        # the timer would hold this protocol until it fired.
        self._cancel_write_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _body_awaited(self) -> bool:
        """A request's head read, its body not complete yet (an upgrade has no cycle)."""
        return self.cycle is not None and self.cycle.more_body

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_HEAD_LATE)
            self.transport.close()
            self.count_refusal(408, "head_timeout")

    def _body_due(self) -> None:
        """A body window's end: another window if enough came, or if serve held it back."""
        self._body_timer = None
        arrived, self._body_arrived = self._body_arrived, 0
        if self.transport.is_closing() or not self._body_awaited():
            return
        if arrived >= self.timeouts.body.least_bytes or self._body_held_by_serve():
            self._body_timer = self.loop.call_later(self.timeouts.body.seconds, self._body_due)
            return
        # An app that answered without reading the body (a 401, a 413) said its answer: the
        # connection is only closed. Else the app waits in receive(), which the close ends
        # (http.disconnect), so it writes nothing after the 408.
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(_BODY_LATE)
            self.count_refusal(408, "body_timeout")
        self.transport.close()

    def _body_held_by_serve(self) -> bool:
        """Reading is paused (the app has not taken what came), or the client waits for the
        `100 Continue` the app has not asked for yet: the wait is serve's, not the client's."""
        cycle = self.cycle
        return self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue)

    def _write_stalled(self) -> None:
        self._write_timer = None
        self.transport.abort()  # connection_lost ends the app's wait to send (disconnected)

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


def listening_sockets(host: str, port: int, *, shared: bool) -> list[socket.socket]:
    """Sockets bound to host:port before anything else starts (bound by uvicorn, a taken
    port came after its start-up lines and its own error): one for each address `host`
    names, as asyncio's create_server binds them (`localhost` on 127.0.0.1 and ::1 where it
    names both, a name with only IPv6 addresses on those). Port 0: all on the port the first
    was given. `shared`: other processes may bind it too (SO_REUSEPORT): several
    `serve --no-worker --reuse-port` on one port use more than one core for the API without
    a load balancer in front; the kernel gives each new connection to one of them.

    An address this system cannot listen on (`_UNAVAILABLE`: no IPv6 in the kernel, ::1
    not configured) is skipped, in one log line, when another of the name's is bound;
    when none is, its error is raised as any other bind's."""
    if shared and not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Linux, BSDs have it
        raise OSError("this system cannot share a port (no SO_REUSEPORT)")
    bound: list[socket.socket] = []
    skipped: list[tuple[tuple[Any, ...], OSError]] = []
    try:
        for family, address in _addresses(host, port):
            if bound and port == 0:
                address = (address[0], bound[0].getsockname()[1], *address[2:])
            try:
                bound.append(_bound_socket(family, address, shared=shared))
            except OSError as exc:
                if exc.errno not in _UNAVAILABLE:
                    raise
                skipped.append((address, exc))
        if skipped and not bound:
            raise skipped[0][1]
    except OSError:
        for sock in bound:
            sock.close()
        raise
    if skipped:
        _log_skipped(host, bound, skipped)
    return bound


# Errors of an address, not of the port: the kernel has no IPv6 (EAFNOSUPPORT, from
# socket()), or the address is not this machine's (EADDRNOTAVAIL: ::1 removed, IPv6
# disabled on the loopback). A taken port (EADDRINUSE) or a privileged one (EACCES) still
# fails serve: the address it names is one clients are told to use.
_UNAVAILABLE = frozenset({errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL})


def _log_skipped(
    host: str, bound: list[socket.socket], skipped: list[tuple[tuple[Any, ...], OSError]]
) -> None:
    listening = ", ".join(str(sock.getsockname()[0]) for sock in bound)
    not_listening = "; ".join(f"{address[0]} ({bind_words(exc)})" for address, exc in skipped)
    _log.warning(
        "--host %s: listening on %s only; this system cannot listen on %s",
        host,
        listening,
        not_listening,
    )


def _addresses(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple[Any, ...]]]:
    """Each address `host` names for listening on `port`, once, in the resolver's order;
    an empty host, every address of each family (as asyncio takes it)."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    unique = dict.fromkeys((family, address) for family, _, _, _, address in found)
    return list(unique)


def _bound_socket(
    family: socket.AddressFamily, address: tuple[Any, ...], *, shared: bool
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # IPv6 only, as asyncio sets it: `--host ::` does not also take the port on every
            # IPv4 address (which 0.0.0.0, or another program, may hold), and a name's IPv4
            # address is its own socket.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
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
    if isinstance(exc, socket.gaierror):  # its errno is the resolver's: strerror knows it not
        return str(exc.strerror).lower()
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
        """uvicorn's start-up (lifespan; `sockets` bound already: listening_sockets), then the
        announcement."""
        await super().startup(sockets=sockets)
        from hookcast.cli.signposts import server_url

        bound = [sock for server in self.servers for sock in (server.sockets or ())]
        if not bound:
            return
        port = int(bound[0].getsockname()[1])
        # stdout, beside the admin key: for the person who started it, not a log record
        typer.echo("\n".join(self._announce(server_url(self.config.host, port))))
