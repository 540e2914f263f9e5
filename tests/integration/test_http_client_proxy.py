"""Deliveries through an HTTP CONNECT egress proxy (HOOKCAST_EGRESS_PROXY).

The proxy here is a small asyncio server that answers CONNECT and then copies bytes both
ways, or refuses as smokescreen does (403 for a denied destination, 502 when it cannot
reach one). What is checked is what the operator and the webhook's owner see: the tunnel
asks for the address the SSRF guard checked, the receiver still sees the name, and a
proxy's failure is recorded as the proxy's, not the endpoint's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import ValidationError
from raw_servers import NAME, OK, CountingResolver, answer, open_sender, post, raw_server
from receivers import closed_port
from test_http_client import Certificates, certificates  # noqa: F401 (the fixture)

from hookcast.cli.runtime import Runtime
from hookcast.config import Settings
from hookcast.delivery.proxy import Proxy
from hookcast.domain.addresses import parse_networks


@dataclass
class ConnectProxy:
    """Answers CONNECT with `refuse` (a status line) or opens the tunnel and relays."""

    refuse: str | None = None
    port: int = 0
    asked: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            target = head[0].split(" ")[1]
            self.asked.append(target)
            headers = dict(line.split(": ", 1) for line in head[1:] if line)
            self.authorizations.append(headers.get("Proxy-Authorization"))
            if self.refuse is not None:
                writer.write(f"HTTP/1.1 {self.refuse}\r\nContent-Length: 0\r\n\r\n".encode())
                return
            host, _, port = target.rpartition(":")
            try:
                up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            except OSError:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@asynccontextmanager
async def connect_proxy(refuse: str | None = None) -> AsyncIterator[ConnectProxy]:
    proxy = ConnectProxy(refuse=refuse)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        await server.wait_closed()


async def test_a_delivery_goes_through_a_tunnel_to_the_checked_address() -> None:
    resolver = CountingResolver({NAME: ["127.0.0.1"]})
    async with (
        raw_server(answer(OK)) as server,
        connect_proxy() as proxy,
        open_sender(
            resolver=resolver, proxy=Proxy.from_url(f"http://ops:s%3Acret@127.0.0.1:{proxy.port}")
        ) as sender,
    ):
        outcomes = [await post(sender, f"http://{NAME}:{server.port}/hook") for _ in range(3)]

    assert [(o.status_code, o.error) for o in outcomes] == [(200, None)] * 3
    assert proxy.asked == [f"127.0.0.1:{server.port}"]  # one tunnel, kept alive, to the address
    assert proxy.authorizations == ["Basic b3BzOnM6Y3JldA=="]  # ops:s:cret
    assert server.requests[0].headers["host"] == f"{NAME}:{server.port}"


async def test_https_goes_through_the_tunnel_with_the_names_certificate(
    certificates: Certificates,  # noqa: F811
) -> None:
    resolver = CountingResolver({"localhost": ["127.0.0.1"]})
    async with (
        raw_server(answer(OK), tls=certificates.server) as server,
        connect_proxy() as proxy,
        open_sender(
            resolver=resolver,
            ssl_context=certificates.trusting_client(),
            proxy=Proxy.from_url(f"http://127.0.0.1:{proxy.port}"),
        ) as sender,
    ):
        outcome = await post(sender, f"https://localhost:{server.port}/secure")

    assert (outcome.status_code, outcome.error) == (200, None)
    assert proxy.asked == [f"127.0.0.1:{server.port}"]


async def test_the_ssrf_guard_refuses_before_the_proxy_is_asked() -> None:
    resolver = CountingResolver({NAME: ["127.0.0.1"]})
    async with (
        connect_proxy() as proxy,
        open_sender(
            allowed=parse_networks("10.0.0.0/8"),
            resolver=resolver,
            proxy=Proxy.from_url(f"http://127.0.0.1:{proxy.port}"),
        ) as sender,
    ):
        outcome = await post(sender, f"http://{NAME}:8080/hook")

    assert outcome.error is not None
    assert outcome.error.startswith("refused by the SSRF guard")
    assert proxy.asked == []


@pytest.mark.parametrize(
    ("refuse", "status"), [("403 Forbidden", "403 Forbidden"), (None, "502 Bad Gateway")]
)
async def test_a_proxy_refusing_the_tunnel_is_recorded_as_the_proxys_failure(
    refuse: str | None, status: str
) -> None:
    port = closed_port()  # for the 502: the proxy cannot reach the endpoint
    async with (
        connect_proxy(refuse=refuse) as proxy,
        open_sender(proxy=Proxy.from_url(f"http://127.0.0.1:{proxy.port}")) as sender,
    ):
        outcome = await post(sender, f"http://127.0.0.1:{port}/hook")

    assert outcome.status_code is None
    assert outcome.error == (
        f"the egress proxy 127.0.0.1:{proxy.port} refused a tunnel to 127.0.0.1:{port}: {status}"
    )


async def test_an_unreachable_proxy_is_named_in_the_error() -> None:
    proxy_port = closed_port()
    async with open_sender(proxy=Proxy.from_url(f"http://127.0.0.1:{proxy_port}")) as sender:
        outcome = await post(sender, "http://127.0.0.1:8080/hook")

    assert outcome.error is not None
    assert outcome.error.startswith(f"could not connect to the egress proxy 127.0.0.1:{proxy_port}")


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:3128", "socks5://127.0.0.1:1080", "http://proxy/path", "proxy:3128"]
)
def test_only_an_http_connect_proxy_url_is_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="HOOKCAST_EGRESS_PROXY must be http://host:port"):
        Proxy.from_url(url)


async def test_hookcast_egress_proxy_sends_the_workers_deliveries_through_it(
    tmp_path: Path,
) -> None:
    async with raw_server(answer(OK)) as server, connect_proxy() as proxy:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'proxy.db'}",
            allowed_networks="127.0.0.0/8",
            egress_proxy=f"http://127.0.0.1:{proxy.port}",
        )
        runtime = await Runtime.open(settings)
        _worker, sender = runtime.worker()
        try:
            outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")
        finally:
            await sender.close()
            await runtime.store.close()

    assert (outcome.status_code, outcome.error) == (200, None)
    assert proxy.asked == [f"127.0.0.1:{server.port}"]


def test_a_bad_egress_proxy_stops_start_up_without_showing_the_password() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(egress_proxy="https://ops:hunter2@proxy.internal:3128")

    assert "must be http://host:port" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_tunnels_on_uvloop(certificates: Certificates) -> None:  # noqa: F811
    uvloop = pytest.importorskip("uvloop")  # hookcast serve and worker run on it
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_a_delivery_goes_through_a_tunnel_to_the_checked_address())
        runner.run(test_https_goes_through_the_tunnel_with_the_names_certificate(certificates))
