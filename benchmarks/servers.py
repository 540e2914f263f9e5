"""The stores the contestants need, started for the run and stopped after it: Redis (Celery's
broker and result backend) and a throwaway PostgreSQL (the scaled-out HookCast). Each
yields None where its binaries are missing, and that contestant is skipped."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.config import TESTS
from benchmarks.procs import HOST, Children, free_port, wait_for_port


@contextlib.contextmanager
def redis_server(children: Children, work: Path) -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    data = work / "redis"
    data.mkdir()
    # appendonly with fsync every second: Redis' usual durable setting for a broker.
    child = children.start(
        "redis",
        [
            binary,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "yes",
        ],
    )
    try:
        wait_for_port(port, timeout=20, process=child.process, name="redis")
        yield f"redis://{HOST}:{port}/0"
    finally:
        children.stop(child)


@contextlib.contextmanager
def postgres_server(settings: tuple[str, ...] = ()) -> Iterator[Any]:
    """tests/support/postgres.py's throwaway server (None where PostgreSQL is missing);
    `settings`: more server settings."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from support.postgres import (  # type: ignore[import-not-found,unused-ignore]
        postgres_server as server,
    )

    with server(settings) as running:
        yield running


def create_database(server: Any, name: str, locale: str = "") -> str:
    """A new, empty database on the throwaway server; its URL. `locale`: its collation and
    character classes (e.g. "C", or "en_US.UTF-8" where the system has it) instead of the
    server's C.UTF-8."""
    from support.postgres import run_sql  # type: ignore[import-not-found,unused-ignore]

    options = f" TEMPLATE template0 LOCALE '{locale}'" if locale else ""
    run_sql(server.url(), f"CREATE DATABASE {name}{options}")
    url: str = server.url(name)
    return url
