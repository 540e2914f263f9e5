"""A small HTTP/1.1 client for deliveries: keep-alive connections per origin, responses
parsed by httptools (llhttp, the parser Node.js uses), one request at a time per connection.

Why not aiohttp: a delivery is one small POST whose answer HookCast reads only up to 4 KiB,
and the general client's per-request machinery (URL objects, header multidicts, payload
registry, tracing hooks, cookie and redirect handling) cost ~4x the whole POST on loopback
(docs/benchmarks/earlier-rounds.md). Here a request is one `transport.write` of bytes built once,
and a response is a status, the Retry-After header and the head of the body.

What this client deliberately does not do: follow redirects (the sender reports them), read
HTTP(S)_PROXY (an egress proxy is configured explicitly, see delivery.proxy), decompress,
send cookies, pipeline requests, or speak HTTP/2.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

import httptools

from hookcast.delivery.eyeballs import CONNECT_STAGGER_SECONDS, first_connected, interleave
from hookcast.delivery.proxy import Proxy, open_tunnel

__all__ = [
    "BodyTimeout",
    "ConnectionClosed",
    "Origin",
    "Pool",
    "ProtocolError",
    "Request",
    "Response",
    "encode_head",
    "encode_request",
]

HEADER_LIMIT = 64 * 1024  # bytes a response head (status line and headers) may take
_TIMER_RESOLUTION = 0.001  # seconds early a loop's timer may fire


class ProtocolError(Exception):
    """The peer did not speak HTTP/1.1 well enough to read a status."""


class ConnectionClosed(ConnectionError):
    """The connection ended before a complete response head arrived."""

    def __init__(self, message: str, *, response_started: bool) -> None:
        super().__init__(message)
        self.response_started = response_started


class _StopParsing(Exception):
    """Raised in a parser callback once the response has failed; feed_data passes it on."""


def _head_too_large() -> ProtocolError:
    return ProtocolError(f"response head larger than {HEADER_LIMIT} bytes")


class BodyTimeout(Exception):
    """The head arrived, the rest of the body did not in time (see Response)."""


class Origin(NamedTuple):
    """Where a request goes. A tuple: the pool looks an origin up three times per request,
    and a tuple hashes and compares in C (a dataclass with its hash kept still called its
    Python `__hash__` each time)."""

    scheme: str  # "http" or "https"
    host: str  # as in the URL (IDNA-encoded name or an IP literal without brackets)
    port: int
    # The TLS client identity (delivery/tls.client_key) for mutual TLS, "" for none: part
    # of the key, so connections that presented a certificate serve only that identity.
    client: str = ""


@dataclass(slots=True)  # one per request, read once: a frozen __init__ costs ~3x
class Response:
    status: int
    retry_after: str | None
    body: bytes  # at most body_limit + 1 bytes: longer bodies are cut here
    complete: bool  # the whole body was read (else the connection was dropped)


def encode_request(
    *, host_header: str, target: str, headers: Mapping[str, str], body: bytes
) -> bytes:
    """The request's bytes. Names and values come from HookCast itself (signatures, a
    validated URL): no CR or LF can reach them."""
    return (
        encode_head(host_header=host_header, target=target, headers=headers, length=len(body))
        + body
    )


def encode_head(*, host_header: str, target: str, headers: Mapping[str, str], length: int) -> bytes:
    """The request line and headers of a POST whose body is `length` bytes, up to the blank
    line: written before the body, in one `writelines` (`Request`)."""
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    head = f"POST {target} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: {length}\r\n"
    return (head + lines + "\r\n").encode("latin-1")


Request = bytes | Callable[[], Sequence[bytes]]
"""What `Pool.post` writes: the request's bytes, or what makes them when a connection is
ready for it (the head, then the body; written by one `writelines`, never joined). A large
request is made that late: the bytes of one waiting for a slot, a connection or the body
budget would otherwise be held all that while (a 254 KB body in JW Player's format was
565 KB of request beside the body and its 339 KB JWT, per delivery under way)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parses what arrives and settles the exchange under way.

    An exchange is one future (`exchange`), settled here once, by whichever ends it first:
    the whole response (its Response), the body limit reached (the Response so far, the
    connection closed), a failure, the connection lost, or the pool's timer at the deadline
    (TimeoutError before the head, BodyTimeout after it; the connection closed). The one
    future and no coroutine of its own: a head and a body future awaited in an `exchange`
    coroutine, with a call each to reset, time, settle and read the response, were 9 of the
    ~25 Python calls per request HttpSender.send made beyond a minimal exchange
    (docs/benchmarks/embedded-delivery.md, "Tenth pass")."""

    def __init__(self, body_limit: int, timeouts: Timeouts) -> None:
        self._body_limit = body_limit
        self._loop = asyncio.get_running_loop()  # made by a protocol factory, in its loop
        self._timeouts = timeouts
        self._deadlines = timeouts.deadlines  # this connection's, while an exchange is under way
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None  # the exchange under way
        self._started = False  # any byte of this response has arrived
        self._status = 0
        self._head_bytes = 0  # bytes of the header lines parsed so far
        self._raw_head_bytes = 0  # bytes received while the head was incomplete
        self._close_delimited = True  # no Content-Length or Transfer-Encoding seen
        self._retry_after: str | None = None
        self._body = b""
        self._complete = False
        self.reusable = False
        self.closed = False
        self.idle_since = time.monotonic()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not subclasses of asyncio.Transport).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            # Bytes no request asked for (after a whole response, or while idle): whatever
            # they start would be read as the answer to the next request, so the connection
            # is done with.
            self.close()
            return
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
            return
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(str(exc) or type(exc).__name__))
            return
        if not self._status:
            # Still in the head: count the raw bytes too, so a header line that never ends
            # cannot grow without bound (the parser keeps an unfinished value whole).
            self._raw_head_bytes += len(data)
            if self._raw_head_bytes > HEADER_LIMIT:
                self._fail(_head_too_large())

    def eof_received(self) -> bool:
        return False  # close the transport: an HTTP/1.1 response never continues half-closed

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._status >= 200 and _waiting(self._waiter):
            # The head is in: a body with neither Content-Length nor chunking ends where the
            # connection does; any other body is cut short (complete stays False).
            self._complete = exc is None and self._close_delimited
            self._settle()
            return
        cause = f": {exc}" if exc is not None else ""
        self._fail(ConnectionClosed(f"connection closed{cause}", response_started=self._started))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        # httptools hands over whole names and values, however the bytes arrived.
        size = len(name)
        self._head_bytes += size + len(value) + 4
        if self._head_bytes > HEADER_LIMIT:
            self._fail(_head_too_large())
            raise _StopParsing  # ends feed_data; the response has already failed
        # Names of another length (most: Date, Server, Connection...) are not lowered.
        if size == 11:
            if self._retry_after is None and name.lower() == b"retry-after":
                # The first, as a repeated header is ambiguous.
                self._retry_after = value.decode("latin-1")
        elif size in (14, 17) and name.lower() in (b"content-length", b"transfer-encoding"):
            self._close_delimited = False

    def on_message_begin(self) -> None:
        if self._complete:  # a second response in the same bytes as the first: not ours
            self.close()
            raise _StopParsing

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if not 100 <= status <= 599:  # llhttp takes any three digits
            self._fail(ProtocolError(f"status {status} is not in 100-599"))
            raise _StopParsing
        self._status = status

    def on_body(self, body: bytes) -> None:
        room = self._body_limit + 1 - len(self._body)
        if room > 0:
            self._body += body[:room]
        if len(self._body) > self._body_limit:
            # Enough to log: stop here and drop the connection rather than read it all.
            self._settle()
            self.close()

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim response (103 Early Hints): the real one follows
            self._status = self._head_bytes = self._raw_head_bytes = 0
            self._retry_after = None
            self._close_delimited = True
            return
        self._complete = True
        self.reusable = self._parser.should_keep_alive() and len(self._body) <= self._body_limit
        # _settle written out: once per request.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._deadlines.pop(self, None)
            waiter.set_result(Response(self._status, self._retry_after, self._body, True))

    # the request side

    def exchange(self, request: Request, deadline: float) -> asyncio.Future[Response]:
        """Sends the request; the future is the whole response (body cut at the limit), or
        ends in TimeoutError when no head arrived by `deadline` (loop time), BodyTimeout
        when the rest of the body did not, ConnectionClosed or ProtocolError. Whoever
        abandons the future (a cancelled wait) closes the connection (`close`)."""
        self._started = self._complete = self.reusable = False
        self._status = self._head_bytes = self._raw_head_bytes = 0
        self._close_delimited = True
        self._retry_after = None
        self._body = b""
        waiter = self._waiter = self._loop.create_future()
        assert self._transport is not None
        if isinstance(request, bytes):
            self._transport.write(request)
        else:
            # Made now and let go once written: the transport keeps only what the socket
            # has not taken yet.
            self._transport.writelines(request())
        # Timeouts.add written out: once per request.
        self._deadlines[self] = deadline
        timeouts = self._timeouts
        if deadline < timeouts.at or self._loop is not timeouts.loop:
            timeouts.arm(self._loop, deadline)
        return waiter

    def time_out(self) -> None:
        """The deadline passed (the pool's timer): the exchange fails, the connection closes."""
        if _waiting(self._waiter):
            assert self._waiter is not None
            if self._status >= 200:
                self._waiter.set_exception(BodyTimeout(self._response(complete=False)))
            else:
                self._waiter.set_exception(TimeoutError())
            self._waiter = None  # see _fail
        self.close()

    def _response(self, *, complete: bool) -> Response:
        return Response(self._status, self._retry_after, self._body, complete)

    def _settle(self) -> None:
        """The exchange ends with the response as it stands."""
        self._deadlines.pop(self, None)
        if _waiting(self._waiter):
            assert self._waiter is not None
            self._waiter.set_result(self._response(complete=self._complete))

    def _fail(self, exc: Exception) -> None:
        self._deadlines.pop(self, None)
        if _waiting(self._waiter):
            assert self._waiter is not None
            self._waiter.set_exception(exc)
            # Not kept: raised in `Pool.post`, the exception's traceback holds that frame,
            # which holds this connection: kept here, the cycle held the request and its
            # sender's frame (the body, the JWT, the request's bytes) until the cyclic
            # collector ran. Receivers that closed every connection left 329 such requests
            # of 565 KB alive at once where at most 128 can be in flight (tracemalloc,
            # `serve`): RSS 1.2-1.6 GB, 183-201 MB without the cycle
            # (docs/benchmarks/feature-costs.md).
            self._waiter = None
        self.close()

    def close(self) -> None:
        """Closes the transport (once); the connection is then never reused. Its deadline,
        if an exchange was under way, goes with it."""
        self.reusable = False
        self._deadlines.pop(self, None)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


def _waiting(future: asyncio.Future[Response] | None) -> bool:
    return future is not None and not future.done()


Addresses = Callable[[], Awaitable[Sequence[str]]]


class Timeouts:
    """The deadlines of a pool's exchanges under way, and one timer at the earliest.

    A timer per request (`loop.call_at`, cancelled when the response came: nearly always)
    cost ~1.3 µs of the loop per request (timed alone on uvloop, 20,000 pending), most of
    it uvloop making and closing a libuv timer. Here an exchange is a dict entry (`deadlines`,
    set and removed by its connection); the one timer fires at the deadline it was set for,
    fails the exchanges past theirs, and is set again for the earliest left (once per
    timeout, not per request, while requests come back in time)."""

    __slots__ = ("_timer", "at", "deadlines", "loop")

    def __init__(self) -> None:
        self.deadlines: dict[_Connection, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.at = float("inf")  # when the timer fires
        self.loop: asyncio.AbstractEventLoop | None = None

    def arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        """The timer, on `loop`, fires at `at` (loop time) instead of when it was set for."""
        if self._timer is not None:
            self._timer.cancel()
        self.loop = loop
        self.at = at
        self._timer = loop.call_at(at, self._fire)

    def close(self) -> None:
        """Stops the timer (the pool is closing: its exchanges end with their connections)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.at = float("inf")

    def _fire(self) -> None:
        self._timer = None
        self.at = float("inf")
        assert self.loop is not None
        # A loop's timer may fire up to its clock's resolution early (uvloop's is a
        # millisecond, as a request's own call_at did): within it, a deadline has passed.
        now = self.loop.time() + _TIMER_RESOLUTION
        overdue = [c for c, deadline in self.deadlines.items() if deadline <= now]
        for connection in overdue:
            del self.deadlines[connection]
            connection.time_out()
        if self.deadlines:
            self.arm(self.loop, min(self.deadlines.values()))


class _Slots:
    """The requests to one origin: at most `size` hold a slot, the rest wait in order; and
    how many hold or wait (`users`). Not an asyncio.Semaphore: a free slot is taken by
    `Pool.post` without a coroutine (taking and giving back one: 0.25 us against the
    semaphore's 1.0, per request; docs/benchmarks/embedded-delivery.md)."""

    __slots__ = ("free", "users", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.users = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def wait(self, deadline: float) -> None:
        """Until a slot is handed over (first come, first served), or TimeoutError past
        `deadline` (loop time)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give_back()  # handed a slot just as this wait ended: pass it on
            elif waiter in self.waiters:
                self.waiters.remove(waiter)
            raise

    def give_back(self) -> None:
        """Hands the slot to the first request still waiting, or frees it."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class Pool:
    """Keep-alive connections per origin, at most `per_origin` open to each.

    New connections go to the addresses the caller's `addresses()` returns (the sender
    resolves and checks them first), tried as RFC 8305 says when there are several; idle
    connections are reused newest first and closed after `idle_seconds`. What is kept per
    origin is bounded: slots only while requests to it are under way, at most `max_idle`
    idle connections in all.
    """

    def __init__(
        self,
        *,
        per_origin: int,
        body_limit: int,
        idle_seconds: float = 15.0,
        max_idle: int = 1024,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        self._proxy = proxy
        self._per_origin = per_origin
        self._body_limit = body_limit
        self._idle_seconds = idle_seconds
        self._max_idle = max_idle
        self._ssl = ssl_context
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._slots: dict[Origin, _Slots] = {}
        self._timeouts = Timeouts()
        self._swept = time.monotonic()

    @property
    def origins(self) -> int:
        """Origins with state kept here (requests under way or idle connections)."""
        return len(self._slots.keys() | self._idle.keys())

    async def post(
        self,
        origin: Origin,
        *,
        addresses: Addresses,
        request: Request,
        deadline: float,
        tls: ssl.SSLContext | None = None,
    ) -> Response:
        """POSTs `request` to `origin` on an idle connection, or on a new one to the first of
        `addresses()` that accepts. A reused connection that the server had already closed
        (no byte of a response came back) is replaced by a new one, once. `tls`: the
        context for a new https connection instead of the pool's (mutual TLS)."""
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = _Slots(self._per_origin)
        slots.users += 1
        if slots.free > 0 and not slots.waiters:  # free, and nobody waits for one before us
            slots.free -= 1
        else:
            await self._wait_for_slot(origin, slots, deadline)
        try:
            connection = self._take_idle(origin)
            response = None
            if connection is not None:
                try:
                    response = await connection.exchange(request, deadline)
                except ConnectionClosed as exc:
                    if exc.response_started:
                        raise
                except BaseException:
                    connection.close()  # cancelled: nobody would read the rest
                    raise
            if response is None:  # none idle, or the idle one was closed by the server
                connection = await self._connect(origin, addresses, deadline, tls)
                try:
                    response = await connection.exchange(request, deadline)
                except BaseException:
                    connection.close()
                    raise
        except BaseException:
            self._release(origin, slots)
            raise
        self._release(origin, slots, connection)
        return response

    async def _wait_for_slot(self, origin: Origin, slots: _Slots, deadline: float) -> None:
        try:
            await slots.wait(deadline)
        except BaseException:
            self._leave(origin, slots)
            raise

    def _release(
        self, origin: Origin, slots: _Slots, connection: _Connection | None = None
    ) -> None:
        """A request's slot given back (to the first waiting, if any), its connection, if
        its exchange ended with a response, kept idle for the next request or closed; the
        origin forgotten when nobody holds or waits, and idle connections swept at most
        once a second. (One call after `exchange` rather than a coroutine wrapping it: each
        coroutine between the worker and the socket is a frame made and resumed per
        request.)"""
        if connection is not None:
            # _used written out: once per request.
            if connection.reusable and not connection.closed and self._idle_count < self._max_idle:
                connection.idle_since = time.monotonic()
                idle = self._idle.get(origin)
                if idle is None:  # not setdefault: its new deque would be made every time
                    idle = self._idle[origin] = deque()
                idle.append(connection)
                self._idle_count += 1
            else:
                connection.close()
        # _Slots.give_back, _leave, and _sweep's clock check, written out: once per request.
        if slots.waiters:
            slots.give_back()
        else:
            slots.free += 1
        slots.users -= 1
        if not slots.users:
            del self._slots[origin]
        if time.monotonic() - self._swept >= 1.0:
            self._sweep()

    def _leave(self, origin: Origin, slots: _Slots) -> None:
        slots.users -= 1
        if not slots.users:  # nobody holds or waits: forget the origin
            del self._slots[origin]

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.closed and now - connection.idle_since < self._idle_seconds:
                return connection
            connection.close()
        return None

    async def _connect(
        self,
        origin: Origin,
        addresses: Addresses,
        deadline: float,
        tls: ssl.SSLContext | None = None,
    ) -> _Connection:
        async with asyncio.timeout_at(deadline):  # a slow DNS answer counts against it too
            hosts = await addresses()
            if not hosts:
                raise OSError(f"no address for {origin.host}")
            tls = (tls or self._tls_context()) if origin.scheme == "https" else None
            attempts = [
                functools.partial(self._open, origin, host, tls) for host in interleave(hosts)
            ]
            return await first_connected(
                attempts, delay=CONNECT_STAGGER_SECONDS, discard=_Connection.close
            )

    async def _open(self, origin: Origin, host: str, tls: ssl.SSLContext | None) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._proxy is not None:
            return await self._open_tunnelled(origin, host, tls)
        _, connection = await loop.create_connection(
            lambda: _Connection(self._body_limit, self._timeouts),
            host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls is not None else None,
        )
        return connection

    async def _open_tunnelled(
        self, origin: Origin, host: str, tls: ssl.SSLContext | None
    ) -> _Connection:
        """A connection through the egress proxy to `host` (a checked address)."""
        assert self._proxy is not None
        transport = await open_tunnel(self._proxy, address=host, port=origin.port)
        connection = _Connection(self._body_limit, self._timeouts)
        try:
            if tls is None:
                transport.set_protocol(connection)
            else:
                loop = asyncio.get_running_loop()
                tunnelled = await loop.start_tls(
                    transport, connection, tls, server_hostname=origin.host
                )
                assert tunnelled is not None
                transport = tunnelled
        except BaseException:
            transport.close()
            raise
        connection.connection_made(transport)
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _sweep(self) -> None:
        """Closes connections idle too long (at most once a second, from post())."""
        now = time.monotonic()
        if now - self._swept < 1.0:
            return
        self._swept = now
        for origin, idle in list(self._idle.items()):
            while idle and now - idle[0].idle_since >= self._idle_seconds:
                idle.popleft().close()
                self._idle_count -= 1
            if not idle:
                del self._idle[origin]

    def close(self) -> None:
        self._timeouts.close()
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
