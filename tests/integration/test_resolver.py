"""SystemResolver (c-ares through aiodns) against a DNS server on loopback that answers some
names at once and never answers others, as an account's own slow DNS servers would."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import pytest

from hookcast.ports import LookupTimeout
from hookcast.resolver import SystemResolver

_A, _AAAA = 1, 28


class _Dns(asyncio.DatagramProtocol):
    """Answers A queries for names ending in `.fast.test` with 192.0.2.7, answers "no such
    name" for `.gone.test`, and stays silent for anything else."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        name, end = _question(data)
        qtype = struct.unpack("!H", data[end : end + 2])[0]
        if name.endswith(".fast.test"):
            answers = [_a_record()] if qtype == _A else []
            rcode = 0
        elif name.endswith(".gone.test"):
            answers, rcode = [], 3  # NXDOMAIN
        else:
            return  # a DNS server that never answers
        header = struct.pack("!HHHHHH", _id(data), 0x8180 | rcode, 1, len(answers), 0, 0)
        assert self.transport is not None
        self.transport.sendto(header + data[12 : end + 4] + b"".join(answers), addr)


def _id(data: bytes) -> int:
    return int(struct.unpack("!H", data[:2])[0])


def _question(data: bytes) -> tuple[str, int]:
    labels, at = [], 12
    while data[at]:
        labels.append(data[at + 1 : at + 1 + data[at]].decode("ascii"))
        at += 1 + data[at]
    return ".".join(labels).lower(), at + 1


def _a_record() -> bytes:
    # A pointer to the question's name, type A, class IN, TTL 60, 4 bytes of address.
    return struct.pack("!HHHIH", 0xC00C, _A, 1, 60, 4) + socket.inet_aton("192.0.2.7")


@asynccontextmanager
async def dns_server() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Dns, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        transport.close()


async def test_names_whose_servers_never_answer_do_not_delay_others() -> None:
    async with dns_server() as address:
        resolver = SystemResolver(timeout_seconds=1.5, nameservers=[address])
        slow = [asyncio.create_task(resolver.resolve(f"n{i}.slow.test")) for i in range(40)]
        started = time.monotonic()
        fast = await resolver.resolve("www.fast.test")
        took = time.monotonic() - started
        failures = await asyncio.gather(*slow, return_exceptions=True)
        await resolver.close()

    assert fast == ["192.0.2.7"]
    assert took < 0.5  # not behind forty lookups that take 1.5 s each
    assert {type(failure) for failure in failures} == {LookupTimeout}


async def test_a_name_that_does_not_exist_is_no_addresses_not_a_timeout() -> None:
    async with dns_server() as address:
        resolver = SystemResolver(timeout_seconds=1.5, nameservers=[address])
        assert await resolver.resolve("www.gone.test") == []
        await resolver.close()


async def test_a_timeout_is_raised_in_time() -> None:
    async with dns_server() as address:
        resolver = SystemResolver(timeout_seconds=0.5, nameservers=[address])
        started = time.monotonic()
        with pytest.raises(LookupTimeout):
            await resolver.resolve("www.slow.test")
        await resolver.close()

    assert time.monotonic() - started < 1.0
