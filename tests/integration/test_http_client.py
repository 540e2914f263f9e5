"""HttpSender and its HTTP/1.1 client (delivery.http1) against raw loopback servers
(raw_servers.py).

Each server here is a small `asyncio.start_server` handler that writes exactly the bytes a
test needs (a stale keep-alive connection, an interim 103, a chunked or close-delimited body,
oversized headers, garbage), so what is checked is what a receiver on the wire causes: the
outcome HookCast records (status, body, error text, Retry-After) and how many connections it
opened. TLS uses a throwaway CA made at test time. The scenarios that depend most on the
transport also run on uvloop, which `hookcast serve` and `hookcast worker` use.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from raw_servers import (
    BODY,
    NAME,
    OK,
    CountingResolver,
    Peer,
    answer,
    open_sender,
    post,
    raw_server,
    response,
)
from receivers import closed_port

from hookcast.delivery import http1
from hookcast.domain.addresses import parse_networks
from support.loopback import has_ipv6_loopback
from support.waiting import DEADLINE, eventually

ONLY_IPV6_LOOPBACK = parse_networks("::1/128")  # 127.0.0.1 is refused by this guard


# --- keep-alive -------------------------------------------------------------------------------


async def test_sequential_sends_share_one_keep_alive_connection() -> None:
    async with raw_server(answer(OK)) as server, open_sender() as sender:
        outcomes = [await post(sender, f"http://127.0.0.1:{server.port}/hook") for _ in range(20)]

    assert {(o.status_code, o.response_body, o.error) for o in outcomes} == {(200, "ok", None)}
    assert server.connections == 1
    assert [r.body for r in server.requests] == [BODY] * 20


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    closed = asyncio.Event()

    async def one_request_per_connection(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)  # keep-alive by default, then the server's idle timeout fires
        await peer.close()
        closed.set()

    async with raw_server(one_request_per_connection) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = await post(sender, url)
        await closed.wait()
        second = await post(sender, url)

    assert (first.status_code, second.status_code, second.error) == (200, 200, None)
    assert server.connections == 2


async def test_a_request_lost_on_a_stale_keep_alive_connection_is_sent_again() -> None:
    async def drops_the_second_request(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        if peer.number == 0:
            # The server timed the connection out just as the next request arrived.
            await peer.request()
            return
        await answer(OK)(peer)

    async with raw_server(drops_the_second_request) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        outcomes = [await post(sender, url) for _ in range(2)]

    assert [(o.status_code, o.error) for o in outcomes] == [(200, None), (200, None)]
    assert server.connections == 2
    assert len(server.requests) == 3  # at least once: the dropped one arrived, unanswered


async def test_a_response_cut_after_its_first_bytes_is_not_sent_again() -> None:
    async def starts_the_second_answer(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        await peer.send(b"HTTP/1.1 50")

    async with raw_server(starts_the_second_answer) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        await post(sender, url)
        second = await post(sender, url)

    assert second.status_code is None
    assert second.error == "the server closed the connection without a response"
    assert (server.connections, len(server.requests)) == (1, 2)


async def test_connection_close_responses_are_not_reused() -> None:
    closing = response("200 OK", b"ok", "Connection: close")

    async def answers_and_waits_for_the_client_to_close(peer: Peer) -> None:
        await peer.request()
        await peer.send(closing)
        await peer.wait_for_eof()

    async with (
        raw_server(answers_and_waits_for_the_client_to_close) as server,
        open_sender() as sender,
    ):
        url = f"http://127.0.0.1:{server.port}/hook"
        outcomes = [await post(sender, url) for _ in range(3)]
        # the client closes each one itself (the server only waits for it to)
        await eventually(lambda: server.open == 0, message=lambda: f"{server.open} still open")

    assert [o.status_code for o in outcomes] == [200, 200, 200]
    assert server.connections == 3


# --- response framing -------------------------------------------------------------------------


async def test_a_chunked_body_is_read_and_the_connection_kept() -> None:
    async def chunked(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"5\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"):
                await asyncio.sleep(0.01)  # each chunk in a write of its own, on purpose
                await peer.send(piece)

    async with raw_server(chunked) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        outcomes = [await post(sender, url) for _ in range(2)]

    assert [(o.status_code, o.response_body, o.error) for o in outcomes] == [
        (202, "hello world", None)
    ] * 2
    assert server.connections == 1


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
async def test_a_body_delimited_by_the_connection_closing_is_read_whole(version: str) -> None:
    async def until_close(peer: Peer) -> None:
        await peer.request()
        await peer.send(f"{version} 200 OK\r\nContent-Type: text/plain\r\n\r\n".encode())
        await asyncio.sleep(0.02)  # the body in pieces, apart from the head, on purpose
        await peer.send(b"thanks, ")
        await asyncio.sleep(0.02)
        await peer.send(b"received")

    async with raw_server(until_close) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        outcomes = [await post(sender, url) for _ in range(2)]

    assert [(o.status_code, o.response_body, o.error) for o in outcomes] == [
        (200, "thanks, received", None)
    ] * 2
    assert server.connections == 2


@pytest.mark.parametrize("interim", ["100 Continue", "103 Early Hints"])
async def test_an_interim_response_is_skipped_for_the_final_one(interim: str) -> None:
    async def hints_first(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(f"HTTP/1.1 {interim}\r\nLink: </app.css>; rel=preload\r\n\r\n".encode())
            await asyncio.sleep(0.02)  # the final answer comes apart from the interim one
            await peer.send(response("201 Created", b"stored", "Retry-After: 7"))

    async with raw_server(hints_first) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        outcomes = [await post(sender, url) for _ in range(2)]

    assert [(o.status_code, o.response_body, o.retry_after, o.error) for o in outcomes] == [
        (201, "stored", "7", None)
    ] * 2
    assert server.connections == 1


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [
        ("503 Service Unavailable", "120"),
        ("429 Too Many Requests", "Wed, 21 Oct 2026 07:28:00 GMT"),
    ],
)
async def test_retry_after_is_captured_as_sent(status: str, retry_after: str) -> None:
    busy = response(status, b"slow down", f"retry-after: {retry_after}")
    async with raw_server(answer(busy)) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code == int(status[:3])
    assert (outcome.retry_after, outcome.response_body, outcome.error) == (
        retry_after,
        "slow down",
        None,
    )


async def test_a_response_without_retry_after_has_none() -> None:
    async with raw_server(answer(OK)) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert (outcome.status_code, outcome.retry_after) == (200, None)


async def test_a_repeated_retry_after_header_keeps_one_value() -> None:
    # A proxy and the application both set it: the retry must come in 120 s, not in the
    # 3600 s cap that "120120" seconds would be clamped to.
    busy = response("503 Service Unavailable", b"", "Retry-After: 120", "Retry-After: 120")
    async with raw_server(answer(busy)) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.retry_after == "120"


async def test_a_body_over_4_kib_is_cut_and_the_status_still_counts() -> None:
    big = response("500 Internal Server Error", b"x" * 100_000, "Content-Type: text/plain")
    async with raw_server(answer(big)) as server, open_sender() as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = await post(sender, url)
        second = await post(sender, url)

    assert (first.status_code, first.error) == (500, None)
    assert first.response_body == "x" * 4096
    assert second.status_code == 500  # the cut connection is not reused, a new one works
    assert server.connections == 2


async def test_a_body_shorter_than_its_content_length_is_reported_incomplete() -> None:
    async def cut_short(peer: Peer) -> None:
        await peer.request()
        await peer.send(response("200 OK", b"x" * 100, "Connection: close")[:-90])

    async with raw_server(cut_short) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert (outcome.status_code, outcome.response_body) == (200, "x" * 10)
    assert outcome.error == "the connection closed before the response body was complete"


async def test_a_keep_alive_body_cut_short_is_reported_incomplete() -> None:
    async def cut_short(peer: Peer) -> None:
        await peer.request()
        await peer.send(response("200 OK", b"x" * 100)[:-90])

    async with raw_server(cut_short) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert (outcome.status_code, outcome.response_body) == (200, "x" * 10)
    assert outcome.error == "the connection closed before the response body was complete"


# --- broken servers ---------------------------------------------------------------------------


async def test_response_headers_over_64_kib_are_an_invalid_response() -> None:
    headers = [f"X-Filler-{n}: {'y' * 1000}" for n in range(100)]
    huge = response("200 OK", b"ok", *headers)
    async with raw_server(answer(huge)) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid HTTP response")


async def test_an_endless_header_is_refused_without_waiting_for_the_timeout() -> None:
    async def endless_header(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        for _ in range(20):  # 1 MiB in all, never terminated
            await peer.send(b"z" * 65536)
        await asyncio.sleep(10)  # keeps the connection open: only the size limit ends it

    async with raw_server(endless_header) as server, open_sender() as sender:
        started = time.monotonic()
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook", timeout=1.0)
        elapsed = time.monotonic() - started

    assert outcome.error is not None
    assert outcome.error.startswith("invalid HTTP response")
    assert elapsed < 0.5


async def test_garbage_instead_of_http_is_an_invalid_response() -> None:
    async def ssh(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"SSH-2.0-OpenSSH_9.6\r\n")
        await asyncio.sleep(1)  # then silence, as sshd waits for the client's banner

    async with raw_server(ssh) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid HTTP response")


async def test_a_protocol_switch_is_an_invalid_response() -> None:
    switch = response("101 Switching Protocols", b"", "Upgrade: websocket", "Connection: Upgrade")

    async def upgrades(peer: Peer) -> None:
        await peer.request()
        await peer.send(switch + b"\x81\x05hello")
        await peer.wait_for_eof()

    async with raw_server(upgrades) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid HTTP response")


async def test_a_server_that_closes_without_answering() -> None:
    async def hangs_up(peer: Peer) -> None:
        await peer.request()

    async with raw_server(hangs_up) as server, open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    assert outcome.error == "the server closed the connection without a response"
    assert (server.connections, len(server.requests)) == (1, 1)  # a fresh connection: no retry


async def test_a_body_that_stalls_keeps_the_status() -> None:
    async def stalls(peer: Peer) -> None:
        await peer.request()
        await peer.send(response("200 OK", b"a" * 100)[:-90])
        await asyncio.sleep(5)  # the stall under test: the rest of the body never comes

    async with raw_server(stalls) as server, open_sender() as sender:
        started = time.monotonic()
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook", timeout=0.3)
        elapsed = time.monotonic() - started

    assert (outcome.status_code, outcome.response_body) == (200, "a" * 10)
    assert outcome.error == "timed out reading the response body"
    assert 0.25 < elapsed < 1.0


async def test_a_send_cancelled_while_its_body_is_read_closes_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A cancelled send (the worker shutting down) mid-body used to leave the connection
    # open: neither closed nor back in the pool, held until the server gave up on it.
    head_read = asyncio.Event()
    headers_complete = http1._Connection.on_headers_complete

    def on_headers_complete(connection: http1._Connection) -> None:
        headers_complete(connection)
        head_read.set()

    monkeypatch.setattr(http1._Connection, "on_headers_complete", on_headers_complete)
    closed = asyncio.Event()

    async def stalls(peer: Peer) -> None:
        await peer.request()
        await peer.send(response("200 OK", b"a" * 100)[:-90])  # the rest never comes
        await peer.wait_for_eof()
        closed.set()

    async with raw_server(stalls) as server, open_sender() as sender:
        send = asyncio.create_task(post(sender, f"http://127.0.0.1:{server.port}/hook"))
        await asyncio.wait_for(head_read.wait(), DEADLINE)
        send.cancel()
        with pytest.raises(asyncio.CancelledError):
            await send
        await asyncio.wait_for(closed.wait(), DEADLINE)  # the client closed its side

    assert server.connections == 1


async def test_no_response_head_in_time_is_a_timeout() -> None:
    async def silent(peer: Peer) -> None:
        await peer.request()
        await asyncio.sleep(5)  # the silence under test: no response head

    async with raw_server(silent) as server, open_sender() as sender:
        started = time.monotonic()
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook", timeout=0.25)
        elapsed = time.monotonic() - started

    assert outcome.status_code is None
    assert outcome.error == "timed out after 0.25 s"
    assert 0.2 < elapsed < 1.0
    assert 200 <= outcome.latency_ms < 1000


async def test_each_request_times_out_at_its_own_deadline() -> None:
    # The pool keeps one timer, at the earliest deadline: a shorter timeout sent after a
    # longer one must still end on time, and one sent after an answered request (whose
    # deadline the timer was set for) must still end at all.
    async def silent(peer: Peer) -> None:
        await peer.request()
        await asyncio.sleep(5)  # the silence under test: no response head

    async with (
        raw_server(silent) as quiet,
        raw_server(answer(OK)) as answering,
        open_sender() as sender,
    ):
        started = time.monotonic()
        long_wait = asyncio.create_task(
            post(sender, f"http://127.0.0.1:{quiet.port}/hook", timeout=1.5)
        )
        await eventually(lambda: len(quiet.requests) == 1)  # its deadline is the timer's
        short = await post(sender, f"http://127.0.0.1:{quiet.port}/hook", timeout=0.3)
        short_elapsed = time.monotonic() - started
        long = await long_wait
        long_elapsed = time.monotonic() - started
        answered = await post(sender, f"http://127.0.0.1:{answering.port}/hook", timeout=0.2)
        after_answered = time.monotonic()
        last = await post(sender, f"http://127.0.0.1:{quiet.port}/hook", timeout=0.5)
        last_elapsed = time.monotonic() - after_answered

    assert (short.error, long.error) == ("timed out after 0.3 s", "timed out after 1.5 s")
    assert 0.25 < short_elapsed < 1.2
    assert 1.45 < long_elapsed < 3.0
    assert answered.status_code == 200
    assert last.error == "timed out after 0.5 s"
    assert 0.45 < last_elapsed < 1.5


async def test_a_refused_connection_names_the_address() -> None:
    port = closed_port()
    async with open_sender() as sender:
        outcome = await post(sender, f"http://127.0.0.1:{port}/hook")

    assert outcome.status_code is None
    assert outcome.error == f"connection refused by 127.0.0.1:{port}"


# --- what goes on the wire --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/hooks/jw?site=1A23bCD4&tag=a%20b", "/hooks/jw?site=1A23bCD4&tag=a%20b"),
        ("/réception/ü?q=é", "/r%C3%A9ception/%C3%BC?q=%C3%A9"),
        ("", "/"),
        ("?only=query", "/?only=query"),
    ],
)
async def test_the_request_line_and_host_header(path: str, target: str) -> None:
    async with raw_server(answer(OK)) as server, open_sender() as sender:
        outcome = await post(
            sender,
            f"http://127.0.0.1:{server.port}{path}",
            headers={"Content-Type": "application/json", "webhook-id": "msg_1"},
        )

    assert outcome.status_code == 200
    (request,) = server.requests
    assert request.line == f"POST {target} HTTP/1.1"
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["content-length"] == str(len(BODY))
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_1"
    assert request.body == BODY


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no ::1")
async def test_an_ipv6_literal_url() -> None:
    async with raw_server(answer(OK), host="::1") as server, open_sender() as sender:
        outcome = await post(sender, f"http://[::1]:{server.port}/v6")

    assert (outcome.status_code, outcome.error) == (200, None)
    (request,) = server.requests
    assert request.line == "POST /v6 HTTP/1.1"
    assert request.headers["host"] == f"[::1]:{server.port}"


# --- the SSRF guard and DNS -------------------------------------------------------------------


async def test_an_ip_literal_outside_the_allowed_networks_is_refused_unconnected() -> None:
    async with raw_server(answer(OK)) as server, open_sender(allowed=ONLY_IPV6_LOOPBACK) as sender:
        outcome = await post(sender, f"http://127.0.0.1:{server.port}/hook")

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused by the SSRF guard")
    assert server.connections == 0


async def test_a_name_resolving_to_a_refused_address_is_refused_unconnected() -> None:
    resolver = CountingResolver({NAME: ["127.0.0.1"]})
    async with (
        raw_server(answer(OK)) as server,
        open_sender(allowed=ONLY_IPV6_LOOPBACK, resolver=resolver) as sender,
    ):
        outcomes = [await post(sender, f"http://{NAME}:{server.port}/hook") for _ in range(3)]

    for outcome in outcomes:
        assert outcome.status_code is None
        assert outcome.error is not None
        assert outcome.error.startswith("refused by the SSRF guard")
        assert NAME in outcome.error
    assert server.connections == 0
    assert resolver.asked == [NAME]  # the answer is cached


class SlowResolver(CountingResolver):
    """Answers, but only after `delay` seconds (a DNS server that is struggling)."""

    def __init__(self, answers: dict[str, list[str]], delay: float) -> None:
        super().__init__(answers)
        self.delay = delay

    async def resolve(self, host: str) -> list[str]:
        await asyncio.sleep(self.delay)
        return await super().resolve(host)


async def test_a_slow_dns_answer_counts_against_the_request_timeout() -> None:
    resolver = SlowResolver({NAME: ["127.0.0.1"]}, delay=2.0)
    async with raw_server(answer(OK)) as server, open_sender(resolver=resolver) as sender:
        started = time.monotonic()
        outcome = await post(sender, f"http://{NAME}:{server.port}/hook", timeout=0.3)
        took = time.monotonic() - started

    assert (outcome.status_code, outcome.error) == (None, "timed out after 0.3 s")
    assert took < 1.0  # not the resolver's 2 s
    assert server.connections == 0


async def test_one_refused_address_among_the_answers_refuses_the_name() -> None:
    resolver = CountingResolver({NAME: ["127.0.0.1", "::1"]})
    only_ipv4 = parse_networks("127.0.0.0/8")
    async with (
        raw_server(answer(OK)) as server,
        open_sender(allowed=only_ipv4, resolver=resolver) as sender,
    ):
        outcome = await post(sender, f"http://{NAME}:{server.port}/hook")

    assert outcome.error is not None
    assert outcome.error.startswith("refused by the SSRF guard")
    assert server.connections == 0


async def test_resolved_names_are_cached_across_new_connections() -> None:
    resolver = CountingResolver({NAME: ["127.0.0.1"]})
    closing = response("200 OK", b"ok", "Connection: close")
    async with (
        raw_server(answer(closing)) as server,
        open_sender(resolver=resolver) as sender,
    ):
        outcomes = [await post(sender, f"http://{NAME}:{server.port}/hook") for _ in range(3)]

    assert [o.status_code for o in outcomes] == [200, 200, 200]
    assert server.connections == 3  # each send needed a new connection, hence the addresses
    assert resolver.asked == [NAME]
    assert {r.headers["host"] for r in server.requests} == {f"{NAME}:{server.port}"}


async def test_a_name_that_does_not_resolve() -> None:
    resolver = CountingResolver({})
    async with open_sender(resolver=resolver) as sender:
        outcome = await post(sender, f"http://{NAME}:8080/hook")

    assert outcome.status_code is None
    assert outcome.error == f"could not connect to {NAME}:8080: {NAME} does not resolve"


# --- HTTPS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_pem: str
    server: ssl.SSLContext  # serves a certificate for localhost and 127.0.0.1, signed by the CA

    def trusting_client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("HookCast test CA")
    ca = _issue(
        ca_name,
        ca_key,
        ca_name,
        ca_key,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        ],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    leaf = _issue(
        _name("localhost"),
        key,
        ca_name,
        ca_key,
        [
            (names, False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )
    directory: Path = tmp_path_factory.mktemp("tls")
    (directory / "server.pem").write_bytes(_pem(leaf) + _pem(ca))
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "server.pem", directory / "server.key")
    return Certificates(ca_pem=_pem(ca).decode("ascii"), server=server)


async def test_https_to_a_name_signed_by_a_trusted_ca(certificates: Certificates) -> None:
    resolver = CountingResolver({"localhost": ["127.0.0.1"]})
    async with (
        raw_server(answer(OK), tls=certificates.server) as server,
        open_sender(resolver=resolver, ssl_context=certificates.trusting_client()) as sender,
    ):
        url = f"https://localhost:{server.port}/secure"
        outcomes = [await post(sender, url) for _ in range(3)]

    assert [(o.status_code, o.response_body, o.error) for o in outcomes] == [(200, "ok", None)] * 3
    assert server.connections == 1
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


async def test_https_to_an_ip_literal_in_the_certificate(certificates: Certificates) -> None:
    async with (
        raw_server(answer(OK), tls=certificates.server) as server,
        open_sender(ssl_context=certificates.trusting_client()) as sender,
    ):
        outcome = await post(sender, f"https://127.0.0.1:{server.port}/secure")

    assert (outcome.status_code, outcome.error) == (200, None)


async def test_https_with_system_trust_refuses_an_unknown_ca(certificates: Certificates) -> None:
    resolver = CountingResolver({"localhost": ["127.0.0.1"]})
    async with (
        raw_server(answer(OK), tls=certificates.server) as server,
        open_sender(resolver=resolver) as sender,
    ):
        outcome = await post(sender, f"https://localhost:{server.port}/secure")

    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("TLS certificate of localhost")
    assert server.requests == []


# --- the per-origin limit ---------------------------------------------------------------------


async def test_at_most_per_host_limit_connections_to_one_origin() -> None:
    async def slow(peer: Peer) -> None:
        while await peer.request() is not None:
            await asyncio.sleep(0.2)  # slow on purpose, so that requests overlap
            await peer.send(OK)

    async with raw_server(slow) as server, open_sender(per_host_limit=2) as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        started = time.monotonic()
        outcomes = await asyncio.gather(*(post(sender, url) for _ in range(6)))
        elapsed = time.monotonic() - started

    assert [o.status_code for o in outcomes] == [200] * 6
    assert server.most_open == 2
    assert server.connections == 2
    assert elapsed >= 0.55  # three rounds of two


async def test_a_request_that_waits_past_its_timeout_for_a_connection_frees_its_turn() -> None:
    held = asyncio.Event()  # the first request is answered once this is set

    async def hold_first(peer: Peer) -> None:
        while await peer.request() is not None:
            await held.wait()
            await peer.send(OK)

    async with raw_server(hold_first) as server, open_sender(per_host_limit=1) as sender:
        url = f"http://127.0.0.1:{server.port}/hook"
        first = asyncio.create_task(post(sender, url))
        await eventually(lambda: len(server.requests) == 1)
        waited = await post(sender, url, timeout=0.2)  # the one connection is busy
        held.set()
        answered = await first
        after = await post(sender, url)

    assert waited.status_code is None
    assert waited.error == "timed out after 0.2 s"
    assert (answered.status_code, after.status_code) == (200, 200)
    assert len(server.requests) == 2  # the one that timed out was never sent
    assert server.connections == 1


# --- on uvloop --------------------------------------------------------------------------------


async def close_delimited_body() -> None:
    await test_a_body_delimited_by_the_connection_closing_is_read_whole("HTTP/1.1")


async def early_hints() -> None:
    await test_an_interim_response_is_skipped_for_the_final_one("103 Early Hints")


UVLOOP_SCENARIOS = [
    close_delimited_body,
    early_hints,
    test_a_body_over_4_kib_is_cut_and_the_status_still_counts,
    test_sequential_sends_share_one_keep_alive_connection,
    test_a_connection_the_server_closed_while_idle_is_replaced,
    test_a_request_lost_on_a_stale_keep_alive_connection_is_sent_again,
    test_connection_close_responses_are_not_reused,
    test_a_chunked_body_is_read_and_the_connection_kept,
    test_a_keep_alive_body_cut_short_is_reported_incomplete,
    test_a_server_that_closes_without_answering,
    test_a_body_that_stalls_keeps_the_status,
    test_each_request_times_out_at_its_own_deadline,
    test_at_most_per_host_limit_connections_to_one_origin,
    test_a_request_that_waits_past_its_timeout_for_a_connection_frees_its_turn,
]


@pytest.fixture
def uvloop_runner() -> Iterator[asyncio.Runner]:
    uvloop = pytest.importorskip("uvloop")  # uvicorn[standard] brings it, except on Windows
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        yield runner


@pytest.mark.parametrize(
    "scenario", UVLOOP_SCENARIOS, ids=lambda test: test.__name__.removeprefix("test_")
)
def test_on_uvloop(
    uvloop_runner: asyncio.Runner, scenario: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    uvloop_runner.run(scenario())


@pytest.mark.parametrize(
    "scenario",
    [
        test_https_to_a_name_signed_by_a_trusted_ca,
        test_https_with_system_trust_refuses_an_unknown_ca,
    ],
    ids=lambda test: test.__name__.removeprefix("test_"),
)
def test_https_on_uvloop(
    uvloop_runner: asyncio.Runner,
    certificates: Certificates,
    scenario: Callable[[Certificates], Coroutine[Any, Any, None]],
) -> None:
    uvloop_runner.run(scenario(certificates))
