"""`hookcast serve` bounds the client connections it holds open: connections anyone can open
without a key, and never use, took every file descriptor of the process, and then every
account's deliveries failed ("Too many open files", counted against each receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import socket
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import SITE_ID, cli_env, serve
from ops_support import Scrape
from receivers import Receiver
from starlette.types import Receive, Scope, Send

from hookcast.cli.serving import BodyPace
from hookcast.metrics import Metrics
from support.waiting import eventually

SITE = "1A23bCD4"
OPEN_FILES = 256  # serve's `ulimit -n`: it holds at most half, 128 client connections
UNUSED = 300  # connections opened and never sent a byte: more than the limit allows


@contextlib.contextmanager
def unused_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        yield opened
    finally:
        for sock in opened:
            sock.close()


def ask(connection: http.client.HTTPConnection, method: str, path: str, **kw: object) -> object:
    connection.request(method, path, **kw)  # type: ignore[arg-type]
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status < 300, (answer.status, body)
    return json.loads(body) if body else None


def first_answer(port: int) -> tuple[int, bytes]:
    """A new connection's answer to GET /healthz: its status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


async def test_unused_connections_neither_starve_deliveries_nor_shut_out_the_api(
    tmp_path: Path,
) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}", HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8")
    receiver = await Receiver().start()
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(serve(env, tmp_path, open_files=OPEN_FILES))
            port = int(server.url.rsplit(":", 1)[1])
            headers = {"Authorization": server.admin_key(), "Content-Type": "application/json"}
            # The first client's connection, opened before the others (one of the 128).
            api = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            stack.callback(api.close)
            site = {"id": SITE, "metadata": {"name": "Main"}}
            ask(api, "POST", "/v2/sites/", body=json.dumps(site), headers=headers)
            hook = {
                "metadata": {
                    "name": "hook",
                    "webhook_url": receiver.url,
                    "events": ["media_available"],
                    "site_ids": [SITE],
                }
            }
            ask(api, "POST", "/v2/webhooks/", body=json.dumps({**hook}), headers=headers)

            with unused_connections(port, UNUSED):
                # A new client gets in: the connections idle the longest (the publisher's
                # among them) were closed to make room for it.
                status, body = first_answer(port)
                assert status == 200, body
                publisher = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                stack.callback(publisher.close)
                event = {"event": "media_available", "site_id": SITE, "media_id": "MNYaMSQl"}
                ask(publisher, "POST", "/v2/events/", body=json.dumps(event), headers=headers)
                # The worker in the same process still has descriptors to deliver with.
                (delivered,) = await receiver.wait_for(1)
            assert delivered.payload["media_id"] == "MNYaMSQl"
            assert "Too many open files" not in server.stderr()
    finally:
        await receiver.close()


@pytest.mark.parametrize(
    ("open_files", "wanted", "held", "idle"), [(256, 1000, 128, 64), (8192, 1000, 1000, 1024)]
)
def test_serve_holds_at_most_half_the_open_file_limit(
    open_files: int, wanted: int, held: int, idle: int
) -> None:
    """Client connections at most half of `ulimit -n`, idle connections to receivers at most
    a quarter."""
    import resource

    from hookcast.cli.open_files import idle_outgoing_at_most
    from hookcast.cli.serving import connections_at_most

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < open_files:
        pytest.skip(f"this machine's hard open-file limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))
    try:
        assert (connections_at_most(wanted), idle_outgoing_at_most()) == (held, idle)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# serve's uvicorn in this process, with timeouts short enough to watch and a bound of two.
BOUND = 2
WAIT = 10.0  # the most any step here may take on a loaded machine; none waits it out


class SlowApp:
    """Answers `GET /slow` once `release` is set (a request under way meanwhile), anything
    else at once."""

    def __init__(self) -> None:
        self.entered: asyncio.Queue[None] = asyncio.Queue()  # one item per slow request
        self.release = asyncio.Event()
        self.gone = asyncio.Event()  # a client of /endless went away

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            self.entered.put_nowait(None)
            await self.release.wait()
        if scope["path"] == "/upload":
            await self._upload(receive, send)
        elif scope["path"] == "/endless":
            await self._endless(receive, send)
        else:
            headers = [(b"content-length", b"2")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

    async def _upload(self, receive: Receive, send: Send) -> None:
        """Answers with the length of the body it read."""
        length, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            length += len(message.get("body", b""))
            more = message.get("more_body", False)
        said = str(length).encode()
        headers = [(b"content-length", str(len(said)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": said})

    async def _endless(self, receive: Receive, send: Send) -> None:
        """An answer without end, until the client is gone."""

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.gone.set()

        watching = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"x" * 65536
        while not self.gone.is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await watching


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Clients:
    """Opens connections to a port, closing them all at the end."""

    def __init__(self, port: int, protocols: set[Any] | None = None) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []
        self.protocols = set() if protocols is None else protocols  # the server's, one a connection

    async def open(self) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        return reader, writer

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def bounded_server(
    app: SlowApp,
    *,
    keep_alive: float = 60.0,
    head: float = 60.0,
    body: BodyPace | None = None,
    write_stall: float = 60.0,
    metrics: Metrics | None = None,
) -> AsyncIterator[Clients]:
    """serve's uvicorn on a free port, holding at most BOUND connections."""
    import uvicorn

    from hookcast.cli.serving import server_config
    from hookcast.config import Settings

    settings = Settings(max_connections=BOUND)
    config = server_config(
        app,
        settings,
        host="127.0.0.1",
        port=0,
        refused=(metrics or Metrics()).on_connection_refused,
        keep_alive_seconds=keep_alive,
        head_seconds=head,
        body=body or BodyPace(seconds=60.0),
        write_stall_seconds=write_stall,
    )
    config.lifespan = "off"  # SlowApp has none
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)  # as Server.serve sets it
    await server.startup()
    port = int(server.servers[0].sockets[0].getsockname()[1])
    clients = Clients(port, server.server_state.connections)
    try:
        yield clients
    finally:
        app.release.set()  # a failed test's slow requests would hold the shutdown
        await clients.close()
        await server.shutdown()


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    """The status line of GET `path` on a kept-alive connection."""
    writer.write(f"GET {path} HTTP/1.1\r\nhost: hookcast\r\n\r\n".encode())
    return await status_line(reader)


async def status_line(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(WAIT):
        line = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        await reader.readexactly(2)  # SlowApp's body
        return line.strip()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server said before closing the connection, failing if it stays open."""
    async with asyncio.timeout(seconds):
        return await reader.read()


async def test_a_request_head_left_unfinished_is_answered_408_and_closed() -> None:
    metrics = Metrics()
    async with bounded_server(SlowApp(), keep_alive=60.0, head=0.5, metrics=metrics) as clients:
        reader, writer = await clients.open()
        assert await answer(reader, writer, "/") == b"HTTP/1.1 200 OK"
        writer.write(b"GET / HTTP/1.1\r\nhost: hoo")  # then nothing more
        said = await closed_within(reader, WAIT)
        assert said.startswith(b"HTTP/1.1 408 "), said
        assert json.loads(said.split(b"\r\n\r\n", 1)[1])["errors"][0]["code"] == ("request_timeout")
        refusals = {"api": "connection", "status": "408", "reason": "head_timeout"}
        assert metrics.registry.get_sample_value("hookcast_api_refused_total", refusals) == 1


async def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_time() -> None:
    async with bounded_server(SlowApp(), keep_alive=0.5, head=60.0) as clients:
        reader, _ = await clients.open()
        assert await closed_within(reader, WAIT) == b""


async def test_at_the_bound_an_idle_connection_makes_room_and_one_under_way_is_never_cut() -> None:
    app, metrics = SlowApp(), Metrics()
    async with bounded_server(app, metrics=metrics) as clients:
        idle = await clients.open()
        assert await answer(*idle, "/") == b"HTTP/1.1 200 OK"  # then kept alive, idle
        busy = await clients.open()
        busy[1].write(b"GET /slow HTTP/1.1\r\nhost: hookcast\r\n\r\n")
        await under_way(app)
        # A third client gets in: the idle connection is closed for it.
        newcomer = await clients.open()
        assert await answer(*newcomer, "/") == b"HTTP/1.1 200 OK"
        assert await closed_within(idle[0], WAIT) == b""
        # Another: the newcomer, idle now, makes room again; the slow request stays.
        fourth = await clients.open()
        assert await answer(*fourth, "/") == b"HTTP/1.1 200 OK"
        assert await closed_within(newcomer[0], WAIT) == b""
        # With both held by requests under way, one more is refused, the slow ones not cut.
        fourth[1].write(b"GET /slow HTTP/1.1\r\nhost: hookcast\r\n\r\n")
        await under_way(app)
        refused = await clients.open()
        said = await closed_within(refused[0], WAIT)
        assert said.startswith(b"HTTP/1.1 503 "), said
        refusals = {"api": "connection", "status": "503", "reason": "too_many_connections"}
        assert metrics.registry.get_sample_value("hookcast_api_refused_total", refusals) == 1
        app.release.set()
        assert await status_line(busy[0]) == b"HTTP/1.1 200 OK"
        assert await status_line(fourth[0]) == b"HTTP/1.1 200 OK"


async def under_way(app: SlowApp) -> None:
    """Waits for a slow request to reach the app."""
    async with asyncio.timeout(WAIT):
        await app.entered.get()


# A body window of 0.5 s in which at least 4 KiB must arrive (8 KiB/s).
PACE = BodyPace(seconds=0.5, least_bytes=4096)


def upload_head(length: int) -> bytes:
    return f"POST /upload HTTP/1.1\r\nhost: hookcast\r\ncontent-length: {length}\r\n\r\n".encode()


def body_timeouts(metrics: Metrics) -> float | None:
    refusals = {"api": "connection", "status": "408", "reason": "body_timeout"}
    return metrics.registry.get_sample_value("hookcast_api_refused_total", refusals)


def said_error(said: bytes) -> tuple[bytes, str]:
    """A closing answer's status line and its error's description."""
    head, body = said.split(b"\r\n\r\n", 1)
    return head.split(b"\r\n")[0], json.loads(body)["errors"][0]["description"]


async def test_bodies_held_back_are_answered_408_and_free_their_connections() -> None:
    app, metrics = SlowApp(), Metrics()
    async with bounded_server(app, body=PACE, metrics=metrics) as clients:
        held = [await clients.open() for _ in range(BOUND)]
        for _, writer in held:  # a complete head, a little of the body, then nothing
            writer.write(upload_head(1_000_000) + b"{")
        for reader, _ in held:
            status, description = said_error(await closed_within(reader, WAIT))
            assert status == b"HTTP/1.1 408 Request Timeout"
            assert description == "the request's body did not arrive in time"
        assert body_timeouts(metrics) == BOUND
        # Their connections are free again: a newcomer is served, not refused.
        assert await answer(*await clients.open(), "/") == b"HTTP/1.1 200 OK"


async def test_a_body_dripped_a_byte_at_a_time_is_answered_408() -> None:
    metrics = Metrics()
    async with bounded_server(SlowApp(), body=PACE, metrics=metrics) as clients:
        reader, writer = await clients.open()
        writer.write(upload_head(1000))
        said = b""
        async with asyncio.timeout(WAIT):  # a byte every 0.05 s: 20 bytes/s, under 8 KiB/s
            while not said:
                writer.write(b" ")
                with contextlib.suppress(TimeoutError):
                    said = await asyncio.wait_for(reader.read(), 0.05)
        assert said_error(said) == (
            b"HTTP/1.1 408 Request Timeout",
            "the request's body did not arrive in time",
        )
        assert body_timeouts(metrics) == 1


async def test_a_large_body_on_a_slow_link_arrives_whole() -> None:
    """24 windows' worth at 16 KiB/s, twice the least: a body is bounded by its pace, not
    its length."""
    metrics = Metrics()
    async with bounded_server(SlowApp(), body=PACE, metrics=metrics) as clients:
        reader, writer = await clients.open()
        length = 192 * 1024
        writer.write(upload_head(length))
        for _ in range(length // 1024):
            writer.write(b"x" * 1024)
            await writer.drain()
            await asyncio.sleep(1 / 16)  # the link's pace, not a wait for the server
        async with asyncio.timeout(WAIT):
            assert (await reader.readline()).strip() == b"HTTP/1.1 200 OK"
            while (await reader.readline()) != b"\r\n":
                pass
            assert await reader.read(len(str(length))) == str(length).encode()
        assert body_timeouts(metrics) == 0


async def test_an_answer_the_client_never_reads_is_given_up() -> None:
    app = SlowApp()
    async with bounded_server(app, write_stall=0.5) as clients:
        _, writer = await clients.open()
        writer.transport.set_write_buffer_limits(0)
        writer.write(b"GET /endless HTTP/1.1\r\nhost: hookcast\r\n\r\n")
        async with asyncio.timeout(WAIT):  # reading nothing: the server's buffers fill
            await app.gone.wait()
        assert await answer(*await clients.open(), "/") == b"HTTP/1.1 200 OK"


async def test_a_connection_lost_while_its_answer_waits_is_let_go_at_once() -> None:
    """A client gone while serve waited for it to read its answer: the connection is freed
    then, not held until the stall's bound (60 s here)."""
    app = SlowApp()
    async with bounded_server(app, write_stall=60.0) as clients:
        _, writer = await clients.open()
        writer.write(b"GET /endless HTTP/1.1\r\nhost: hookcast\r\n\r\n")
        await eventually(lambda: bool(clients.protocols), timeout=WAIT)
        protocol = weakref.ref(next(iter(clients.protocols)))

        def waiting_to_write() -> bool:  # the client reads nothing: the buffers fill
            held = protocol()
            return held is not None and bool(held.flow.write_paused)

        await eventually(waiting_to_write, timeout=WAIT)
        writer.transport.abort()

        def let_go() -> bool:
            gc.collect()
            return protocol() is None

        await eventually(let_go, timeout=WAIT, message="the lost connection is still held")


async def test_the_packet_that_starts_a_body_counts_in_its_first_window() -> None:
    """The least of a window sent with the head, the rest in the next window: on pace."""
    metrics = Metrics()
    async with bounded_server(SlowApp(), body=BodyPace(1.0, 4096), metrics=metrics) as clients:
        reader, writer = await clients.open()
        writer.write(upload_head(4096 + 10) + b"x" * 4096)
        await asyncio.sleep(1.5)  # the link's pace, not a wait for the server
        writer.write(b"x" * 10)
        async with asyncio.timeout(WAIT):
            assert (await reader.readline()).strip() == b"HTTP/1.1 200 OK"
        assert body_timeouts(metrics) == 0


def publish_head(key: str, length: int) -> bytes:
    return (
        f"POST /v2/events/ HTTP/1.1\r\nhost: hookcast\r\nauthorization: {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


async def test_serve_answers_a_body_held_back_408_and_takes_a_slow_batch_whole(
    tmp_path: Path,
) -> None:
    """The real `serve` and its 10 s body windows: a held-back body no longer holds one of
    its two connections for ever, while a 96 KiB publish batch sent at 8 KiB/s (12 s,
    longer than a window) is taken whole."""
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}", HOOKCAST_MAX_CONNECTIONS="2")
    with serve(env, tmp_path) as server:
        port, key = int(server.url.rsplit(":", 1)[1]), server.admin_key()
        setup = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        site = {"id": SITE_ID, "metadata": {"name": "Main"}}
        headers = {"Authorization": key, "Content-Type": "application/json"}
        ask(setup, "POST", "/v2/sites/", body=json.dumps(site), headers=headers)
        setup.close()
        event = {"event": "media_available", "site_id": SITE_ID, "data": {"pad": "x" * 900}}
        batch = json.dumps({"events": [{**event, "media_id": f"M{n:07d}"} for n in range(100)]})
        assert 96_000 < len(batch) < 100_000
        clients = Clients(port)
        try:
            withheld, publisher = await clients.open(), await clients.open()
            withheld[1].write(publish_head(key, 1_000_000) + b"{")
            publisher[1].write(publish_head(key, len(batch)))
            for start in range(0, len(batch), 2048):  # 8 KiB/s: a slow link, 5x the least
                publisher[1].write(batch[start : start + 2048].encode())
                await publisher[1].drain()
                if start == 0:  # both connections have a request under way: none is free
                    status, _ = said_error(await closed_within((await clients.open())[0], WAIT))
                    assert status == b"HTTP/1.1 503 Service Unavailable"
                await asyncio.sleep(0.25)  # the link's pace, not a wait for the server
            async with asyncio.timeout(30):
                assert (await publisher[0].readline()).startswith(b"HTTP/1.1 20"), batch[:80]
            status, description = said_error(await closed_within(withheld[0], 30))
            assert (status, description) == (
                b"HTTP/1.1 408 Request Timeout",
                "the request's body did not arrive in time",
            )
        finally:
            await clients.close()
        assert first_answer(port)[0] == 200
        scrape = await asyncio.to_thread(_scrape, server.url)
        refused = "hookcast_api_refused_total"
        assert scrape.value(refused, api="connection", status="408", reason="body_timeout") == 1


def _scrape(url: str) -> Scrape:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", "/metrics")
        return Scrape(connection.getresponse().read().decode())
    finally:
        connection.close()


async def test_serve_closes_a_connection_whose_body_it_refused_413(tmp_path: Path) -> None:
    """A keyless client sending a chunked body past HOOKCAST_MAX_BODY_BYTES is answered 413;
    the rest of its body is taken for one 10 s window more, then its connection is closed,
    though the client sends 16 KiB/s, ten times the least: kept, it held a connection slot
    for as long as it kept sending."""
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}", HOOKCAST_MAX_BODY_BYTES="1024")
    with serve(env, tmp_path) as server:
        clients = Clients(int(server.url.rsplit(":", 1)[1]))
        said = b""
        try:
            reader, writer = await clients.open()
            writer.write(
                b"POST /v2/events/ HTTP/1.1\r\nhost: hookcast\r\n"
                b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            async with asyncio.timeout(30):
                with contextlib.suppress(ConnectionError):  # reset while sending: closed
                    while not reader.at_eof():
                        writer.write(b"1000\r\n" + b" " * 4096 + b"\r\n")  # never the last
                        await writer.drain()
                        with contextlib.suppress(TimeoutError):  # the link's pace
                            said += await asyncio.wait_for(reader.read(65536), 0.25)
        finally:
            await clients.close()
        assert said.count(b"HTTP/1.1 ") == 1, said  # its answer, and nothing after it
        status, description = said_error(said)
        assert status == b"HTTP/1.1 413 Request Entity Too Large"
        assert description == "the request body is larger than 1024 bytes"


async def test_a_connection_answered_before_its_body_ended_is_kept_for_the_next_request() -> None:
    """An answer before the body (a 401, a 429 of the rate limit, a 413), the body's end
    after it: the client was told nothing of a close and may send its next request on the
    connection at once, which is answered; idle, it is closed at the keep-alive time. Closed
    at the body's end, the next request was lost ("Server disconnected without sending a
    response": a portal's form posted after its 429, in CI)."""
    async with bounded_server(SlowApp(), keep_alive=0.5, body=BodyPace(60.0, 1)) as clients:
        reader, writer = await clients.open()
        writer.write(b"POST / HTTP/1.1\r\nhost: hookcast\r\ncontent-length: 10\r\n\r\n")
        assert await status_line(reader) == b"HTTP/1.1 200 OK"  # answered, the body unread
        writer.write(b"x" * 10)
        assert await answer(reader, writer, "/") == b"HTTP/1.1 200 OK"
        assert await closed_within(reader, WAIT) == b""
