"""HOOKCAST_URL pointing at something that is not HookCast: every remote command prints one
line that says what answered instead, and exits 1 (never a traceback). The servers are
plain loopback HTTP servers standing in for the usual mix-ups: the `hookcast listen` port,
a web server, a proxy whose upstream is down, a closed port, https:// to plain HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from harness import cli_env, run_cli
from receivers import closed_port
from typer.testing import CliRunner

from hookcast.cli import app

HTML = b"<!DOCTYPE html><html><head><title>Index</title></head>\n<body>\nhello\n</body></html>"
# Values for what a command requires; anything else required is an id.
REQUIRED = {"--url": "http://127.0.0.1:9/hook", "--since": "2h", "event": "media_available"}
# What a command needs beyond its required parameters to reach the server at all: an update
# with nothing to change is a usage mistake, refused before any request.
NEEDS: dict[tuple[str, ...], list[str]] = {("webhooks", "update"): ["--name", "Renamed"]}


def remote_commands() -> list[list[str]]:
    """Every command that talks to a server (it has --server), with what it requires."""
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:  # Typer's (click's) command classes
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        if not any("--server" in param.opts for param in command.params):
            return
        args = list(path)
        for param in command.params:
            if not param.required:
                continue
            key = param.opts[0] if param.param_type_name == "option" else param.name or ""
            value = REQUIRED.get(key, "Abc12345")
            args += [key, value] if param.param_type_name == "option" else [value]
        found.append(args + NEEDS.get(tuple(path), []))

    walk(typer.main.get_command(app), [])
    return found


REMOTE = remote_commands()


def test_the_walk_finds_every_remote_command() -> None:
    names = {" ".join(arg for arg in args if not arg.startswith(("-", "http"))) for args in REMOTE}
    assert {"webhooks list", "trigger media_available", "simulate", "sites list"} <= names
    assert {"webhooks secret rotate Abc12345", "deliveries retry Abc12345"} <= names
    assert len(REMOTE) >= 19  # as of this writing; new commands join by having --server


class _Answer(BaseHTTPRequestHandler):
    status = 200
    body = b""
    content_type = "text/html"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test output is the CLI's


@contextmanager
def answering(status: int, body: bytes, content_type: str = "text/html") -> Iterator[str]:
    """A plain HTTP server on loopback giving every request the same answer; its URL."""
    fields = {"status": status, "body": body, "content_type": content_type}
    handler = type("Handler", (_Answer,), fields)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def assert_one_line(url: str, args: list[str], *fragments: str) -> None:
    env = {"HOOKCAST_URL": url, "HOOKCAST_API_KEY": "hck_some_key", "COLUMNS": "80"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1, (args, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), (args, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (args, result.stderr)
    assert lines[0].startswith("error: "), (args, lines[0])
    for fragment in fragments:
        assert fragment in lines[0], (args, lines[0])


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (200, HTML, "answered HTTP 200 with an HTML page, not HookCast's JSON"),
        (200, b'{"status": "ok"}', "answered HTTP 200 with JSON of another shape"),
        (404, b"File not found\n", "answered HTTP 404 Not Found, not HookCast's JSON"),
        (502, HTML, "answered HTTP 502 Bad Gateway, not HookCast's JSON: a proxy answered"),
    ],
    ids=["html-page", "other-json", "plain-404", "proxy-502"],
)
def test_a_server_that_is_not_hookcast(status: int, body: bytes, says: str) -> None:
    with answering(status, body) as url:
        for args in REMOTE:
            assert_one_line(url, args, url, says)


def test_a_closed_port() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for args in REMOTE:
        # In words: httpx's "[Errno 111] Connection refused" gives a number no reader needs.
        assert_one_line(
            url, args, f"cannot reach HookCast at {url}: Connection refused (", "hookcast serve"
        )


def test_https_to_a_plain_http_server() -> None:
    with answering(200, HTML) as url:
        tls_url = url.replace("http://", "https://")
        for args in REMOTE:
            assert_one_line(tls_url, args, f"cannot reach HookCast at {tls_url}", "TLS failed")


def test_the_real_executable_prints_one_line(tmp_path: Path) -> None:
    with answering(200, HTML) as url:
        env = cli_env(f"sqlite:///{tmp_path / 'unused.db'}", HOOKCAST_URL=url)
        env["HOOKCAST_API_KEY"] = "hck_some_key"
        for args in (["webhooks", "list"], ["trigger", "media_available"]):
            done = run_cli(args, env, tmp_path)
            assert done.returncode == 1
            assert done.stdout == ""
            assert done.stderr.strip() == (
                f"error: {url} answered HTTP 200 with an HTML page, not HookCast's JSON: is "
                "HOOKCAST_URL (or --server) a HookCast server? `hookcast serve` listens on "
                "http://127.0.0.1:8000 unless told otherwise"
            )
