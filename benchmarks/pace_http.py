"""The open-loop publisher's HTTP: keep-alive HTTP/1.1 connections on a raw asyncio protocol
with httptools' C parser, one request in flight per connection, a new connection whenever
none is idle (so a slow answer never holds back the next send: the loop stays open).

aiohttp's client cost the publisher ~150-250 us of CPU per request: at 2,000 publishes/s
a third of a core on a 2-core machine, taken from the server it measures, and its own loop's
queueing counted in the latency "from send". This costs a fraction of that (the load
generator's CPU per event is reported beside each latency; docs/benchmarks/latency.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httptools

# What a finished request reports: its status (0: the connection failed) and when its
# answer was complete (time.time()), or the error's text.
Done = Callable[[int, float, str], None]


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `send` one request at a time, answered through `done`."""

    def __init__(self, idle: list[_Connection]) -> None:
        self._idle = idle
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._done: Done | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def send(self, request: bytes, done: Done) -> None:
        assert self._transport is not None
        self._done = done
        self._transport.write(request)

    def close(self) -> None:
        """Closes the connection (idle: nothing is lost)."""
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"bad response: {exc}")

    def on_message_complete(self) -> None:  # httptools' callback
        done, self._done = self._done, None
        if self._parser.should_keep_alive():
            self._idle.append(self)
        elif self._transport is not None:
            self._transport.close()
        if done is not None:
            done(self._parser.get_status_code(), time.time(), "")

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self._idle:
            self._idle.remove(self)
        self._fail(f"connection lost: {exc}")

    def _fail(self, why: str) -> None:
        done, self._done = self._done, None
        if self._transport is not None:
            self._transport.close()
        if done is not None:
            done(0, time.time(), why)


class Publisher:
    """POSTs JSON bodies to one path of `host`:`port` with the headers given."""

    def __init__(self, *, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self._host = host
        self._port = port
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("ascii")
        self._idle: list[_Connection] = []
        self._opening: set[asyncio.Task[None]] = set()

    def post(self, body: bytes, done: Done) -> None:
        """Sends now on an idle connection, or on a new one once it is open."""
        request = self._head + str(len(body)).encode("ascii") + b"\r\n\r\n" + body
        if self._idle:
            self._idle.pop().send(request, done)
            return
        task = asyncio.get_running_loop().create_task(self._open_and_send(request, done))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    def close(self) -> None:
        """Closes the idle connections (call once nothing is in flight)."""
        while self._idle:
            self._idle.pop().close()

    async def _open_and_send(self, request: bytes, done: Done) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self._idle), self._host, self._port
            )
        except OSError as exc:
            done(0, time.time(), f"connect: {exc}")
            return
        connection.send(request, done)
