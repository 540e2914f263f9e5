"""`hookcast serve` bounds the client connections it holds open: connections anyone can open
without a key, and never use, took every file descriptor of the process, and then every
account's deliveries failed ("Too many open files", counted against each receiver)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import cli_env, serve
from receivers import Receiver

from support.waiting import wait_until

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


async def test_unused_connections_neither_starve_deliveries_nor_outlast_the_bound(
    tmp_path: Path,
) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}", HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8")
    receiver = await Receiver().start()
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(serve(env, tmp_path, open_files=OPEN_FILES))
            port = int(server.url.rsplit(":", 1)[1])
            headers = {"Authorization": server.admin_key(), "Content-Type": "application/json"}
            # The publisher's connection, opened before the others (one of the 128).
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
                # One more is told why it is refused, in the API's error format.
                status, body = first_answer(port)
                assert status == 503, body
                assert json.loads(body)["errors"][0]["code"] == "unavailable"
                event = {"event": "media_available", "site_id": SITE, "media_id": "MNYaMSQl"}
                ask(api, "POST", "/v2/events/", body=json.dumps(event), headers=headers)
                # The worker in the same process still has descriptors to deliver with.
                (delivered,) = await receiver.wait_for(1)
            assert delivered.payload["media_id"] == "MNYaMSQl"
            wait_until(
                lambda: first_answer(port)[0] == 200,
                timeout=30,
                message="serve still refused connections after the unused ones closed",
            )
            assert "new ones are answered 503" in server.stderr()
            assert "Too many open files" not in server.stderr()
    finally:
        await receiver.close()


@pytest.mark.parametrize(("open_files", "wanted", "held"), [(256, 1000, 128), (4096, 1000, 1000)])
def test_serve_holds_at_most_half_the_open_file_limit(
    open_files: int, wanted: int, held: int
) -> None:
    import resource

    from hookcast.cli.serving import connections_at_most

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < open_files:
        pytest.skip(f"this machine's hard open-file limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))
    try:
        assert connections_at_most(wanted) == held
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
