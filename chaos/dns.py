"""Name troubles an account can point its webhooks at, on loopback: a DNS server that answers
some names and never answers others (HookCast asks it through HOOKCAST_DNS_SERVERS), and a
dead address that drops connection attempts, as a dead host or a firewall does.

Names in `answers` get those IPv4 addresses, in that order (and no IPv6 ones); the mapping is
read at each query, so a name added to it later is answered from then on. Other names under
`.black-hole.test` get no answer at all: their lookups can only time out. Anything else is
"no such name".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import cast

BLACK_HOLE = ".black-hole.test"
_A = 1
_NXDOMAIN = 3


class _Server(asyncio.DatagramProtocol):
    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self._answers = answers
        self.transport: asyncio.DatagramTransport | None = None
        self.unanswered = 0  # queries left without an answer (the black hole's)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            name, end = _question(data)
            (qtype,) = struct.unpack("!H", data[end : end + 2])
        except (IndexError, UnicodeDecodeError, struct.error):
            return  # not a query we can read: dropped, as a server would
        addresses = self._answers.get(name)
        if addresses is None and name.endswith(BLACK_HOLE):
            self.unanswered += 1
            return
        records = [_a_record(a) for a in addresses or ()] if qtype == _A else []
        rcode = _NXDOMAIN if addresses is None else 0
        (query_id,) = struct.unpack("!H", data[:2])
        header = struct.pack("!HHHHHH", query_id, 0x8180 | rcode, 1, len(records), 0, 0)
        assert self.transport is not None
        self.transport.sendto(header + data[12 : end + 4] + b"".join(records), addr)


def _question(data: bytes) -> tuple[str, int]:
    """The question's name (lower case) and the offset just past it."""
    labels, at = [], 12
    while data[at]:
        labels.append(data[at + 1 : at + 1 + data[at]].decode("ascii"))
        at += 1 + data[at]
    return ".".join(labels).lower(), at + 1


def _a_record(address: str) -> bytes:
    # A pointer to the question's name, type A, class IN, TTL 60, then the 4-byte address.
    return struct.pack("!HHHIH", 0xC00C, _A, 1, 60, 4) + socket.inet_aton(address)


@contextlib.asynccontextmanager
async def dns_server(answers: Mapping[str, Sequence[str]]) -> AsyncIterator[str]:
    """A DNS server on 127.0.0.1 (UDP); yields its "ip:port" for HOOKCAST_DNS_SERVERS."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Server(answers), local_addr=("127.0.0.1", 0)
    )
    try:
        yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    finally:
        transport.close()


@contextlib.contextmanager
def dead_address(host: str, port: int) -> Iterator[None]:
    """`host:port` ignores connection attempts (no refusal, no answer): a listening socket
    whose accept queue is full, because nothing accepts, so the kernel drops further SYNs
    and a client waits until its own timeout."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind((host, port))
        listener.listen(0)
        for _ in range(3):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((host, port))
        yield
