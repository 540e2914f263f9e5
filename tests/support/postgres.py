"""A throwaway PostgreSQL server for the test session.

Started from the binaries of the installed PostgreSQL (Debian's /usr/lib/postgresql/*/bin, or
PATH) in a temporary directory, tuned for speed over durability (fsync off), and stopped with
a fast shutdown when the session ends. PostgreSQL refuses to run as root, so under root (as
in CI) the server runs as the `postgres` system user, or `nobody`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from benchmarks.lifeline import dies_with_parent

from support.waiting import wait_until

__all__ = ["PostgresServer", "find_bin_dir", "postgres_server", "run_sql", "sweep_abandoned"]

SUPERUSER = "hookcast"
_START_TIMEOUT = 30.0
# A throwaway server: durability traded for speed.
_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
)


def find_bin_dir() -> Path | None:
    """The directory holding initdb and postgres, newest installed version first."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("postgres") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Identity(TypedDict, total=False):
    """The keyword arguments of Popen that set who a process runs as."""

    user: int
    group: int
    extra_groups: list[int]


@dataclass(frozen=True)
class _RunAs:
    """Who the server runs as: None when we are not root."""

    user: pwd.struct_passwd | None

    @classmethod
    def for_current_process(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(None)
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                return cls(pwd.getpwnam(name))
        raise RuntimeError("running as root, but neither a postgres nor a nobody user exists")

    def chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def popen_args(self) -> _Identity:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}


# A server in memory (`postgres_server(in_memory=True)`) keeps its WAL at most this big, so
# that what it holds in RAM is bounded: checkpoints of a server without fsync cost little.
_IN_MEMORY_SETTINGS = ("max_wal_size=256MB",)
# tmpfs room a server in memory asks for: its WAL above, and the databases the tests copy.
_IN_MEMORY_ROOM = 2 << 30


def memory_directory() -> str | None:
    """/dev/shm when it is a writable tmpfs with room for a test server, else None.

    Each PostgreSQL test gets its own copy of a migrated ~10 MB template, created and dropped
    (thousands per `make test`): on a disk's file system that is file creations, unlinks and
    writeback, on tmpfs page-cache work alone. 40 copies and drops here: 23.6 and 29.0 s of
    wall time under /tmp, 9.2 and 3.5 s under /dev/shm (docs/benchmarks/suite-time.md,
    Round 7). A container's small default /dev/shm (64 MB) falls back to the temporary
    directory."""
    root = "/dev/shm"  # a private mkdtemp under it, as tempfile makes under /tmp
    try:
        room = shutil.disk_usage(root).free
    except OSError:
        return None
    if room < _IN_MEMORY_ROOM or not os.access(root, os.W_OK | os.X_OK):
        return None
    return root


_PREFIX = "hookcast-pg-"
# A directory younger than this is never swept: its owner may not have locked it yet.
_SWEEP_AGE = 60.0


def _owned(base: Path) -> int:
    """A descriptor holding an exclusive lock on `base` for as long as it is open: the
    owning test process's, released by the kernel however that process ends."""
    descriptor = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return descriptor


def sweep_abandoned(directory: str | None) -> list[Path]:
    """Removes the server directories under `directory` (the temporary directory if None)
    whose test process is gone: a run stopped by SIGTERM or SIGKILL skips its teardown, and
    under /dev/shm each left ~40-90 MB of RAM behind until the next boot (five of them,
    266 MB, after a day of runs here). Gone: its lock (`_owned`) can be taken, and it is
    older than _SWEEP_AGE. Another user's, and a running session's, are left."""
    removed = []
    for base in Path(directory or tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            if time.time() - base.stat().st_mtime < _SWEEP_AGE:
                continue
            descriptor = _owned(base)
        except OSError:  # locked by its owner, another user's, or already gone
            continue
        try:
            shutil.rmtree(base, ignore_errors=True)
            removed.append(base)
        finally:
            os.close(descriptor)
    return removed


class PostgresServer:
    def __init__(
        self, bin_dir: Path, *, settings: tuple[str, ...] = (), in_memory: bool = False
    ) -> None:
        self._bin = bin_dir
        directory = memory_directory() if in_memory else None
        extra = _IN_MEMORY_SETTINGS if directory is not None else ()
        self._settings = (*_SETTINGS, *extra, *settings)
        self._run_as = _RunAs.for_current_process()
        sweep_abandoned(directory)
        self._base = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=directory))
        self._owner = _owned(self._base)
        self._data = self._base / "data"
        self._sockets = self._base / "sockets"
        self._log = self._base / "postgres.log"
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs."""
        return None if self._process is None else self._process.pid

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        for directory in (self._base, self._data, self._sockets):
            directory.mkdir(exist_ok=True)
            self._run_as.chown(directory)
        initdb = [str(self._bin / "initdb"), "-D", str(self._data), "--no-sync"]
        self._run(*initdb, "--auth=trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8")
        self.resume()

    def resume(self) -> None:
        """Starts the server again after `pause` (same data, same port)."""
        command = [str(self._bin / "postgres"), "-D", str(self._data), "-k", str(self._sockets)]
        command += ["-h", "127.0.0.1", "-p", str(self.port)]
        for setting in self._settings:
            command += ["-c", setting]
        log = self._log.open("wb")
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._base,
            # Its fast shutdown if this process ends without stopping it (SIGTERM, a crash).
            preexec_fn=dies_with_parent(signal.SIGINT),
            **self._run_as.popen_args(),
        )
        log.close()
        self._wait_until_ready()

    def pause(self) -> None:
        """Stops the server, keeping its data for `resume`: a database that goes away."""
        self._halt()

    def stop(self) -> None:
        self._halt()
        shutil.rmtree(self._base, ignore_errors=True)
        os.close(self._owner)

    def _halt(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # "fast" shutdown: abort sessions, no wait
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            args,
            cwd=self._base,
            capture_output=True,
            check=False,
            **self._run_as.popen_args(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout!r} {result.stderr!r}")

    def _wait_until_ready(self) -> None:
        def answers() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self._log.read_text(errors='replace')}")
            try:
                run_sql(self.url(), "SELECT 1")
            except (OSError, asyncpg.PostgresError, TimeoutError):
                return False
            return True

        wait_until(
            answers,
            timeout=_START_TIMEOUT,
            message=lambda: f"postgres did not start: {self._log.read_text(errors='replace')}",
        )


def run_sql(url: str, *statements: str) -> None:
    """Runs statements one by one outside a transaction (CREATE DATABASE needs that).

    Through a private event loop in a worker thread, so it works from sync fixtures and from
    code already running a loop alike.
    """

    async def execute() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, execute()).result()


@contextlib.contextmanager
def postgres_server(
    settings: tuple[str, ...] = (), *, in_memory: bool = False
) -> Iterator[PostgresServer | None]:
    """A running server, stopped on exit (even on failure); None if PostgreSQL is missing.
    `settings`: more `name=value` server settings (benchmarks load pg_stat_statements).
    `in_memory`: its files on tmpfs where there is room (`memory_directory`): the tests'
    servers; benchmarks keep theirs on disk, as their earlier figures were measured."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        yield None
        return
    server = PostgresServer(bin_dir, settings=settings, in_memory=in_memory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
