"""Webhook receivers on 127.0.0.1, written on asyncio streams so they can misbehave in ways
a well-mannered HTTP framework will not: answer 500 (also with NUL bytes in the body), hang
past the timeout, reset the connection, trickle the response, send a huge body, speak broken
HTTP, or go away (stop listening) and come back on the same port.

Each receiver tells the `Ledger` about every request (`arrivals`) and about every clean 2xx
it answered (`ack`), the only answer HookCast may count as delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
from enum import Enum

from chaos.ledger import Ledger
from chaos.procs import HOST, free_port

_HEAD_LIMIT = 64 * 1024
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!"
# What PostgreSQL cannot store as text: NUL bytes and bytes that are not UTF-8.
_NUL_BODY = b"\x00oops\x00 \xff\xfe\xc3\x28 not utf-8 \x00"
_NUL_ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n%s" % (
    len(_NUL_BODY),
    _NUL_BODY,
)
_BROKEN = (
    b"HELLO THERE\r\n\r\n",  # not a status line
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",  # a status code out of range
    b"\x00\x01\x02\x03 binary noise \xff\xfe\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Ty",  # the head cut off mid-header
)


class Fault(Enum):
    NONE = "none"
    STATUS_500 = "status-500"
    NUL_500 = "nul-500"  # a 500 whose body holds NUL bytes and invalid UTF-8
    TIMEOUT = "timeout"
    RESET = "reset"
    TRICKLE = "trickle"
    HUGE_BODY = "huge-body"
    BROKEN_HTTP = "broken-http"
    AWAY = "away"  # stops listening; handled by stop() / start(), not per request


# A fault's answer still counts as a success when HookCast gets a 2xx status line in time.
_ACKED = {Fault.NONE, Fault.TRICKLE, Fault.HUGE_BODY}


class Receiver:
    def __init__(
        self,
        ledger: Ledger,
        *,
        rng: random.Random,
        delay: float = 0.0,
        fault: Fault = Fault.NONE,
        fault_rate: float = 0.5,
        hang_seconds: float = 2.5,
        count_pairs: bool = True,
        head_limit: int = _HEAD_LIMIT,
    ) -> None:
        self._ledger = ledger
        self._rng = rng
        self.delay = delay  # seconds before a healthy answer: keeps deliveries in flight
        self.fault = fault
        self.fault_rate = fault_rate
        self.faulty = False  # the scenario switches misbehaviour on and off
        self._hang = hang_seconds
        # False: requests are only counted, their bodies never parsed (large bodies would
        # cost the runner's event loop, which also times other receivers' arrivals).
        self._count_pairs = count_pairs
        # HookCast's `Authorization: Bearer <JWT>` carries the whole body: past 64 KiB for
        # events near the publish size limit.
        self._head_limit = head_limit
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.faults_injected = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, HOST, self.port, reuse_address=True, limit=self._head_limit
        )

    async def stop(self) -> None:
        """Stops listening and drops open connections (connections are then refused)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    # --- one connection: requests until it closes ---

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client hung up or sent what we cannot parse: drop the connection
        except asyncio.CancelledError:
            pass  # stop(): the receiver goes away; ending quietly keeps asyncio's log clean
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Handles one request; True to keep the connection for the next one."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed an idle keep-alive connection
        if len(head) > self._head_limit:
            return False
        body = await reader.readexactly(_content_length(head))
        pair = _pair(body) if self._count_pairs else None
        self._ledger.arrivals += 1
        fault = self._pick()
        if fault is not Fault.NONE:
            self.faults_injected += 1
        return await self._answer(fault, pair, writer)

    def _pick(self) -> Fault:
        if self.faulty and self.fault is not Fault.AWAY and self._rng.random() < self.fault_rate:
            return self.fault
        return Fault.NONE

    def _acked(self, pair: tuple[str, str] | None) -> None:
        # Counted as the 2xx head is written: the receiver has taken the event. If the
        # sender died meanwhile it never learns that, and sends it again (a duplicate).
        if pair is not None:
            self._ledger.ack(pair)

    async def _answer(
        self, fault: Fault, pair: tuple[str, str] | None, writer: asyncio.StreamWriter
    ) -> bool:
        if fault in _ACKED and self.delay:
            await asyncio.sleep(self.delay)
        if fault in _ACKED:
            self._acked(pair)
        if fault is Fault.NONE:
            writer.write(_OK)
            await writer.drain()
            return True
        if fault in (Fault.STATUS_500, Fault.NUL_500):
            writer.write(_ERROR if fault is Fault.STATUS_500 else _NUL_ERROR)
            await writer.drain()
            return True
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(self._hang)  # past the webhook's timeout, then hang up
        elif fault is Fault.RESET:
            _reset(writer)
        elif fault is Fault.TRICKLE:
            await _trickle(writer)
        elif fault is Fault.HUGE_BODY:
            await _huge_body(writer)
        elif fault is Fault.BROKEN_HTTP:
            writer.write(self._rng.choice(_BROKEN))
            await writer.drain()
        return False


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _pair(body: bytes) -> tuple[str, str] | None:
    try:
        payload = json.loads(body)
        return str(payload["event_id"]), str(payload["webhook_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _reset(writer: asyncio.StreamWriter) -> None:
    """Closes with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _trickle(writer: asyncio.StreamWriter) -> None:
    """200 at once, then a 64 KiB body one byte every 100 ms (it never finishes in time)."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n")
    await writer.drain()
    for _ in range(60):  # bounded: at most 6 s, then hang up
        await asyncio.sleep(0.1)
        writer.write(b".")
        await writer.drain()


async def _huge_body(writer: asyncio.StreamWriter) -> None:
    """200 with a 64 MiB body, written until the client hangs up (it reads only 4 KiB)."""
    chunk = b"x" * 65536
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1024 * len(chunk)))
    for _ in range(1024):
        writer.write(chunk)
        await asyncio.wait_for(writer.drain(), 10)
