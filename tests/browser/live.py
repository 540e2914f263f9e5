"""Helpers for the browser tests (fixtures are in conftest.py): a real `hookcast serve`
subprocess on a temporary SQLite database, a real loopback receiver, and Debian's Chromium
driven by Playwright's sync API.

Nothing is mocked: deliveries go from the server's own worker to the receiver over TCP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from benchmarks.lifeline import dies_with_parent
from playwright.sync_api import Page
from typer.testing import CliRunner

from hookcast.cli import app
from support.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "results" / "screenshots"
WIDTHS = (375, 1440)


def width_of(page: Page) -> int:
    """The page's viewport width: which of WIDTHS a `sized_page` test runs at."""
    size = page.viewport_size
    assert size is not None
    return int(size["width"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP endpoint: 200 "ok" on /ok..., 500 on /fail..., 401 on /refuse... (a
    receiver whose secret is wrong), 410 on /gone... (one that asks to stop), every request
    kept."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in list(self.requests) if r.path == path]


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, answer = 200, b"ok"
            if self.path.startswith("/fail"):
                status, answer = 500, b'{"error": "not today"}'
            elif self.path.startswith("/refuse"):
                status, answer = 401, b"refused: bad signature"
            elif self.path.startswith("/gone"):
                status, answer = 410, b"this endpoint was retired"
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    admin: str
    env: dict[str, str]

    def api(self, method: str, path: str, key: str, json_body: Any = None) -> Any:
        response = httpx.request(
            method, self.url + path, json=json_body, headers={"Authorization": key}, timeout=10
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def cli(self, *args: str) -> str:
        """A `hookcast` command on the server's database, run in-process by Typer's runner
        (tests/integration runs the executable; a fresh interpreter costs ~2 s of imports).
        On a thread of its own: Playwright's sync API holds this thread's event loop."""
        with ThreadPoolExecutor(max_workers=1) as thread:
            done = thread.submit(CliRunner().invoke, app, list(args), env=self.env).result()
        assert done.exit_code == 0, (args, done.output)
        return done.stdout.strip()


def _hookcast() -> str:
    return str(Path(sys.executable).parent / "hookcast")


def start_server(workdir: Path) -> Server:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HOOKCAST_")}
    env.update(
        HOOKCAST_DATABASE_URL=f"sqlite:///{workdir / 'hookcast.db'}",
        HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8",
        PYTHONUNBUFFERED="1",
    )
    with (workdir / "serve.stderr").open("w") as stderr:  # the child keeps its own copy
        process = subprocess.Popen(
            [_hookcast(), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            preexec_fn=dies_with_parent(signal.SIGTERM),  # if the run ends without its stop
        )
    admin = _read_admin_key(process)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _healthy(url), timeout=45, message="hookcast serve never answered /healthz")
    return Server(process=process, url=url, admin=admin, env=env)


def _read_admin_key(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    # `serve` prints a banner line then the key; readline blocks, but the process prints both
    # within a second of starting (or exits, which ends the loop).
    for _ in range(5):
        line = process.stdout.readline().strip()
        if line.startswith("hck_"):
            return line
    raise AssertionError("hookcast serve did not print an admin key")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)
    if server.process.stdout is not None:
        server.process.stdout.close()
