"""What a `hookcast` command loads before it does anything. Every command imports the whole
Typer app, so a heavy import at the top of any command module was paid by all of them:
`hookcast --help` took ~1 s of CPU loading the settings (pydantic), the use-cases and the
SMTP client, >15 s of wall time on a loaded machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

# The server's code and libraries: none of them is needed to talk to the API. (Not pydantic:
# Typer (0.29 here) loads it itself, to coerce the first option value it reads.)
SERVER_STACK = (
    "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "fastapi", "starlette", "uvicorn",
    "jinja2", "aiohttp", "pydantic_settings", "aiosmtplib", "prometheus_client",
    "hookcast.config", "hookcast.services", "hookcast.store", "hookcast.api",
    "hookcast.dashboard", "hookcast.delivery", "hookcast.bootstrap",
)  # fmt: skip

# Runs the CLI as the `hookcast` script does and writes, as it exits, which modules loaded.
_PROGRAM = """
import atexit, json, sys
listing, sys.argv = sys.argv[1], ["hookcast", *sys.argv[2:]]
atexit.register(lambda: open(listing, "w").write(json.dumps(sorted(sys.modules))))
from hookcast.cli import main
main()
"""
# What `hookcast worker` imports before it opens its store (cli/app.py, cli/runtime.py).
_WORKER = """
import json, sys
import hookcast.cli.app, hookcast.cli.runtime, hookcast.store
open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules)))
"""
# The API, the dashboard and their libraries, and the schema upgrades (Alembic).
WEB_STACK = (
    "fastapi", "starlette", "uvicorn", "jinja2", "alembic", "hookcast.api", "hookcast.dashboard",
)  # fmt: skip


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, so nobody else takes it meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def loaded_by(argv: Sequence[str], tmp_path: Path, **environ: str) -> list[str]:
    """The modules loaded by `hookcast ARGV`, as the process held them when it exited."""
    return run_listing(_PROGRAM, argv, tmp_path, environ)


def run_listing(
    program: str, argv: Sequence[str], tmp_path: Path, environ: dict[str, str]
) -> list[str]:
    listing = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", program, str(listing), *argv],
        env={**os.environ, **environ},
        capture_output=True,
        check=False,
        timeout=120,  # a loaded CI machine took >15 s to start a command
    )
    modules: list[str] = json.loads(listing.read_text())
    return modules


def server_code_in(modules: list[str], stack: Sequence[str] = SERVER_STACK) -> list[str]:
    return [name for name in modules if any(_within(name, part) for part in stack)]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["webhooks", "list", "--help"], ["worker", "--help"], ["serve", "--help"]],
)
def test_help_loads_no_server_code_and_no_http_client(argv: list[str], tmp_path: Path) -> None:
    modules = loaded_by(argv, tmp_path)
    assert "hookcast.cli" in modules  # the probe ran the CLI
    assert server_code_in(modules) == []
    assert "httpx" not in modules  # loaded by the commands that call the API, when they do


@pytest.mark.parametrize(
    "argv", [["webhooks", "list"], ["sites", "list"], ["trigger", "media_available"]]
)
def test_the_client_commands_load_no_server_code(
    argv: list[str], tmp_path: Path, closed_port: int
) -> None:
    # Run for real, against a server that is not there: the SDK client and httpx load.
    modules = loaded_by(
        argv, tmp_path, HOOKCAST_URL=f"http://127.0.0.1:{closed_port}", HOOKCAST_API_KEY="k"
    )
    assert "httpx" in modules
    assert server_code_in(modules) == []


def test_the_worker_loads_no_web_stack(tmp_path: Path) -> None:
    # `hookcast worker` builds its store, services and sender, never the API and dashboard,
    # and opening its store upgrades no schema.
    modules = run_listing(_WORKER, [], tmp_path, {})
    assert "hookcast.store" in modules
    assert server_code_in(modules, WEB_STACK) == []
