"""`hookcast serve` bounds the client connections it holds open: connections anyone can open
without a key, and never use, took every file descriptor of the process, and then every
account's deliveries failed ("Too many open files", counted against each receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from harness import cli_env, serve
from receivers import Receiver
from starlette.types import Receive, Scope, Send

from hookcast.metrics import Metrics

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            self.entered.put_nowait(None)
            await self.release.wait()
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Clients:
    """Opens connections to a port, closing them all at the end."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []

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
    )
    config.lifespan = "off"  # SlowApp has none
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)  # as Server.serve sets it
    await server.startup()
    clients = Clients(int(server.servers[0].sockets[0].getsockname()[1]))
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
    async with bounded_server(SlowApp(), keep_alive=60.0, head=0.5) as clients:
        reader, writer = await clients.open()
        assert await answer(reader, writer, "/") == b"HTTP/1.1 200 OK"
        writer.write(b"GET / HTTP/1.1\r\nhost: hoo")  # then nothing more
        said = await closed_within(reader, WAIT)
        assert said.startswith(b"HTTP/1.1 408 "), said
        assert json.loads(said.split(b"\r\n\r\n", 1)[1])["errors"][0]["code"] == ("request_timeout")


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
