"""HookCast as a contestant: `hookcast serve` on SQLite (embedded), or `serve --no-worker`
plus workers on PostgreSQL (scaled out). The database is prepared, and any backlog seeded,
first; the attempts it records are counted after."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import EMBEDDED, HOOKCAST, PYTHON, SCALED, BenchFailure
from benchmarks.contestants.base import Contestant, run_json
from benchmarks.hookcast_setup import Prepared, Setup, settings_env
from benchmarks.latency import sent_times_path
from benchmarks.proc_cpu import parse_stat
from benchmarks.procs import HOST, Child, free_port, wait_for_port
from benchmarks.run import Run

_COUNTS = (
    "SELECT count(*) FROM attempts",
    "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
)


class HookcastContestant(Contestant):
    def __init__(
        self, run: Run, name: str, *, backlog: int, phase: str, webhooks: int, target: str
    ) -> None:
        self.run = run
        self.target = target
        self.name = name
        self.backlog = backlog
        self.phase = phase
        self.webhooks = webhooks
        self.children: list[Child] = []
        self.postmaster: int | None = None  # scaled out: the PostgreSQL server's pid
        if name == EMBEDDED:
            directory = Path(tempfile.mkdtemp(prefix="db-", dir=run.work))
            self.database_url = f"sqlite:///{directory}/hookcast.db"
        else:
            self.database_url = run.new_postgres_url()
        self.port = free_port()
        self.api = f"http://{HOST}:{self.port}"

    def start(self) -> None:
        run = self.run
        prepared: Prepared = Setup(self.database_url).prepare(
            self.target, webhooks=self.webhooks, backlog=self.backlog, phase=self.phase
        )
        self.api_key, self.secret = prepared.api_key, prepared.secret
        self.prepare_seconds = prepared.seed_seconds
        if self.name == SCALED:
            self.postmaster = postmaster_pid(self.database_url)
        verify = 16 if self.webhooks == 1 else 1 << 30  # one secret per webhook
        run.receiver.reset(secret=self.secret, record=True, verify_every=verify)
        env = settings_env(self.database_url)
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(self.port)]
        if self.name == SCALED:
            serve.append("--no-worker")
        self._spawn(f"{self.name}:serve", serve, env)
        if self.name == SCALED:
            for number in range(run.config.scaled_workers):
                self._spawn(f"{self.name}:worker{number}", [HOOKCAST, "worker"], env)
        wait_for_port(self.port, timeout=60, process=self.children[0].process, name=self.name)

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        child = self.run.children.start(name, command, env=env, cwd=self.run.work)
        self.children.append(child)
        self.run.rss.watch(f"{name}@{self.phase}", child.pid)

    def stop(self) -> None:
        for child in reversed(self.children):
            self.run.rss.sample()
            self.run.rss.unwatch(f"{child.name}@{self.phase}")
            self.run.children.stop(child)

    def processes(self) -> dict[str, int]:
        found = {child.name.split(":", 1)[1]: child.pid for child in self.children}
        if self.postmaster is not None:
            found["postgres"] = self.postmaster
        return found

    def configuration(self) -> str:
        if self.name == EMBEDDED:
            return (
                "`hookcast serve` on SQLite (WAL, synchronous=FULL): API and worker in one process"
            )
        return (
            f"`hookcast serve --no-worker` + {self.run.config.scaled_workers} `hookcast worker` "
            "on a throwaway PostgreSQL (fsync=off, synchronous_commit=off as in the tests)"
        )

    def durable_count(self, expected: int) -> int | None:
        """The deliveries recorded as succeeded (bounded wait: the recorder flushes in
        batches a few ms behind the sends)."""
        deadline = time.monotonic() + 30
        _, succeeded = self._counts()
        while succeeded < expected and time.monotonic() < deadline:
            time.sleep(0.1)
            _, succeeded = self._counts()
        return succeeded

    def check_durable(self, expected: int) -> None:
        """Every delivery succeeded and has its attempt row (the recorder flushes in
        batches a few ms behind the sends: wait for it, bounded)."""
        deadline = time.monotonic() + 30
        while True:
            attempts, succeeded = self._counts()
            if attempts >= expected and succeeded >= expected:
                break
            if time.monotonic() > deadline:
                raise BenchFailure(
                    f"{self.name}: {attempts} attempts and {succeeded} succeeded deliveries "
                    f"recorded, expected {expected}"
                )
            time.sleep(0.1)
        if attempts != expected:
            raise BenchFailure(f"{self.name}: {attempts} attempts recorded for {expected}")

    def _counts(self) -> tuple[int, int]:
        if self.name == EMBEDDED:
            path = self.database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
                a, s = (db.execute(q).fetchone()[0] for q in _COUNTS)
                return int(a), int(s)
        return asyncio.run(_postgres_counts(self.database_url))

    def loadgen(self, mode: str, *args: str) -> dict[str, Any]:
        """Runs benchmarks.loadgen's `mode` against this contestant's API; its report."""
        command = [
            PYTHON,
            "-m",
            "benchmarks.loadgen",
            mode,
            "--api",
            self.api,
            "--key",
            self.api_key,
            *args,
        ]
        report: dict[str, Any] = run_json(command, timeout=600)
        return report

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        return self.loadgen(
            "pace-hookcast",
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--phase",
            phase,
            "--out",
            str(out),
            "--sent-out",
            str(sent_times_path(out)),
        )


_POSTMASTERS: dict[str, int] = {}


def postmaster_pid(database_url: str) -> int:
    """The pid of the PostgreSQL server holding `database_url` (the parent of a backend)."""
    server = database_url.rsplit("/", 1)[0]
    if server not in _POSTMASTERS:
        _POSTMASTERS[server] = asyncio.run(_postmaster_of_backend(database_url))
    return _POSTMASTERS[server]


async def _postgres_counts(database_url: str) -> tuple[int, int]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(database_url)
    try:
        return (int(await conn.fetchval(_COUNTS[0])), int(await conn.fetchval(_COUNTS[1])))
    finally:
        await conn.close()


async def _postmaster_of_backend(database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        # Read while the backend lives: it exits as soon as the connection closes.
        return parse_stat(Path(f"/proc/{backend}/stat").read_text()).ppid  # noqa: ASYNC240
    finally:
        await conn.close()
