"""Raw loopback HTTP servers and a client-side harness for the tests of HttpSender and its
HTTP/1.1 client (delivery.http1): each server is an `asyncio.start_server` handler that
writes exactly the bytes a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from hookcast.delivery.sender import HttpSender
from hookcast.domain.addresses import parse_networks
from hookcast.ports import OutboundRequest, SendOutcome

LOOPBACK = parse_networks("127.0.0.0/8,::1/128")
BODY = b'{"event": "media_available", "media_id": "MNYaMSQl"}'
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
NAME = "hooks.example.test"


# --- raw servers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as it arrived: the request line, headers (names lower-cased), the body."""

    line: str
    headers: dict[str, str]
    body: bytes


class Peer:
    """The server's side of one accepted connection."""

    def __init__(
        self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.number = server.connections - 1  # 0 for the first connection
        self._reader = reader
        self._writer = writer

    async def request(self) -> Request | None:
        """The next request on this connection; None once the client has closed it."""
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        line, *fields = head.decode("latin-1").split("\r\n")[:-2]
        headers = {}
        for header in fields:
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        request = Request(line, headers, body)
        self.server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def wait_for_eof(self) -> None:
        """Returns once the client has closed its side (reading and dropping anything)."""
        with contextlib.suppress(ConnectionError):
            while await self._reader.read(65536):
                pass


Handler = Callable[[Peer], Awaitable[None]]


@dataclass
class RawServer:
    handler: Handler
    port: int = 0
    connections: int = 0  # accepted so far
    open: int = 0  # accepted and not yet closed
    most_open: int = 0
    requests: list[Request] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        peer = Peer(self, reader, writer)
        try:
            await self.handler(peer)
        except ConnectionError:
            pass  # the client hung up first: what a test sometimes wants
        except asyncio.CancelledError:
            # stop() ends handlers still holding a connection. Python 3.11's start_server
            # logs a handler task that ends cancelled as an error, so this one returns.
            pass
        finally:
            self.open -= 1
            await peer.close()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def raw_server(
    handler: Handler, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    raw = RawServer(handler)
    server = await asyncio.start_server(raw.serve, host, 0, ssl=tls)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        await raw.stop()
        await server.wait_closed()


def answer(response: bytes) -> Handler:
    """Answers every request on a connection with `response`, until the client closes."""

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(response)

    return handle


def response(status: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- the client side --------------------------------------------------------------------------


@asynccontextmanager
async def open_sender(**options: Any) -> AsyncIterator[HttpSender]:
    options.setdefault("allowed", LOOPBACK)
    sender = HttpSender(**options)
    try:
        yield sender
    finally:
        await sender.close()


async def post(
    sender: HttpSender,
    url: str,
    *,
    timeout: float = 3.0,
    headers: dict[str, str] | None = None,
) -> SendOutcome:
    request = OutboundRequest(
        url=url,
        body=BODY,
        headers={"Content-Type": "application/json"} if headers is None else headers,
        timeout_seconds=timeout,
    )
    return await sender.send(request)


class CountingResolver:
    """A ports.Resolver with fixed answers that remembers every name it was asked for."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.answers.get(host, [])
