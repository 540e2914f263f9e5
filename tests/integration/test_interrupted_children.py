"""Not a test of its own: test_interrupted_runs.py runs this module in a pytest of its own
(`-n 1`) and interrupts it. Its test starts children as the suite's fixtures do (the
session's PostgreSQL, a `hookcast serve`, nginx), writes their process ids to the file
HOOKCAST_TEST_CHILDREN_FILE names, and waits to be interrupted."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from benchmarks.nginx import Nginx, nginx_binary
from benchmarks.procs import Children, group_pids
from harness import cli_env, serve

from support.postgres import PostgresServer

CHILDREN_FILE = os.environ.get("HOOKCAST_TEST_CHILDREN_FILE")
pytestmark = pytest.mark.skipif(
    CHILDREN_FILE is None, reason="run by test_interrupted_runs.py, which interrupts it"
)


def _hold(*pids: int | None) -> None:
    """Says which processes the test holds (this worker among them), then waits for the
    interruption; ending by itself would be the failure test_interrupted_runs.py reports."""
    assert CHILDREN_FILE is not None
    with Path(CHILDREN_FILE).open("a") as out:
        out.write(" ".join(str(pid) for pid in (os.getpid(), *pids) if pid) + "\n")
    threading.Event().wait(timeout=300)


def test_holds_postgres_serve_and_nginx(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    postgres: PostgresServer | None = request.getfixturevalue("_postgres")  # the session's
    assert postgres is not None, "PostgreSQL is not installed"
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")
    with serve(env, tmp_path) as server:
        held: list[int | None] = [postgres.pid, server.process.pid]
        nginx = None if nginx_binary() is None else Nginx(Children(tmp_path), tmp_path)
        if nginx is not None:  # without it, PostgreSQL and serve are still checked
            held += group_pids(nginx.pid)
        _hold(*held)
