"""A throwaway PostgreSQL server driven with pg_ctl, so a scenario can stop it
(`pg_ctl stop -m fast`) and start it again on the same port and data directory.

PostgreSQL refuses to run as root: under root the server runs as the `postgres` system
user (or `nobody`), as in tests/support/postgres.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from chaos.procs import free_port

SUPERUSER = "chaos"
_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"


def find_bin_dir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, but neither a postgres nor a nobody user exists")


class Postgres:
    def __init__(self, bin_dir: Path) -> None:
        self._bin = bin_dir
        self._user = _run_as()
        self.base = Path(tempfile.mkdtemp(prefix="hookcast-chaos-pg-"))
        self._data = self.base / "data"
        self._log = self.base / "postgres.log"
        self.port = free_port()
        self._databases = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _pg(self, *args: str, timeout: float = 60.0) -> None:
        user = self._user
        result = subprocess.run(
            [str(self._bin / args[0]), *args[1:]],
            cwd=self.base,
            capture_output=True,
            timeout=timeout,
            check=False,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout!r} {result.stderr!r}")

    def init(self) -> None:
        if self._user is not None:
            os.chown(self.base, self._user.pw_uid, self._user.pw_gid)
        self._pg("initdb", "-D", str(self._data), "--no-sync", "--auth=trust", "-U", SUPERUSER)
        self.start()

    def start(self) -> None:
        """Starts the server and waits (-w) until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base} {_OPTIONS}"
        self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self._data),
            "-l",
            str(self._log),
            "-o",
            options,
        )

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: sessions are aborted, the server shuts down cleanly."""
        self._pg("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self._data))

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._pg("pg_ctl", "stop", "-w", "-t", "30", "-m", "immediate", "-D", str(self._data))
        shutil.rmtree(self.base, ignore_errors=True)

    async def new_database(self) -> str:
        self._databases += 1
        name = f"chaos_{self._databases}"
        conn = await asyncpg.connect(self.url(), timeout=10)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            conn = await asyncpg.connect(self.url(), timeout=10)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            finally:
                await conn.close()

    async def stop_async(self) -> None:
        await asyncio.to_thread(self.stop)

    async def start_async(self) -> None:
        await asyncio.to_thread(self.start)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres | None]:
    """A running server, destroyed on exit (even on failure); None if PostgreSQL is missing."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        yield None
        return
    server = Postgres(bin_dir)
    try:
        server.init()
        yield server
    finally:
        server.destroy()
