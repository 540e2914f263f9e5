"""Celery as a contestant: a prefork worker on Redis running benchmarks/celery_app.py's
delivery task, the backlog enqueued first; its results in Redis are counted after."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.config import CELERY, PYTHON, REPO, BenchFailure
from benchmarks.contestants.base import Contestant, run_json
from benchmarks.procs import Child
from benchmarks.run import Run


def _version() -> str:
    import celery  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return str(celery.__version__)


class CeleryContestant(Contestant):
    name = CELERY
    secret = "whsec_celery-benchmark-secret"

    def __init__(self, run: Run, *, backlog: int, phase: str, target: str) -> None:
        self.run = run
        self.backlog = backlog
        self.phase = phase
        self.child: Child | None = None
        assert run.redis_url is not None
        self.env = {"BENCH_REDIS_URL": run.redis_url}
        self.url = f"{target}/hook"
        self.redis_pid: int | None = None

    def _redis(self) -> Any:
        import redis  # type: ignore[import-not-found,unused-ignore]

        return redis.Redis.from_url(self.env["BENCH_REDIS_URL"])

    def start(self) -> None:
        client = self._redis()
        client.flushdb()
        self.redis_pid = int(client.info("server")["process_id"])
        self.run.receiver.reset(secret=self.secret, record=True)
        if self.backlog:
            self.prepare_seconds = self._enqueue()["seconds"]
        self.child = self.run.children.start(
            "celery",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "benchmarks.celery_app",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(self.run.config.celery_concurrency),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=self.env,
            cwd=REPO,
        )
        self.run.rss.watch(f"celery@{self.phase}", self.child.pid)

    def _enqueue(self) -> dict[str, Any]:
        report: dict[str, Any] = run_json(
            [
                PYTHON,
                "-m",
                "benchmarks.loadgen",
                "enqueue-celery",
                "--url",
                self.url,
                "--secret",
                self.secret,
                "--count",
                str(self.backlog),
                "--phase",
                self.phase,
            ],
            timeout=600,
            env=self.env,
        )
        return report

    def stop(self) -> None:
        if self.child is not None:
            self.run.rss.sample()
            self.run.rss.unwatch(f"celery@{self.phase}")
            self.run.children.stop(self.child)

    def processes(self) -> dict[str, int]:
        found = {} if self.child is None else {CELERY: self.child.pid}
        if self.redis_pid is not None:
            found["redis"] = self.redis_pid
        return found

    def configuration(self) -> str:
        from benchmarks.celery_app import app

        conf = app.conf
        client = self._redis()
        server = client.info("server")
        persistence = client.config_get("append*")
        return (
            f"Celery {_version()} prefork pool of {self.run.config.celery_concurrency}, "
            f"task_acks_late={conf.task_acks_late}, "
            f"task_reject_on_worker_lost={conf.task_reject_on_worker_lost}, "
            f"worker_prefetch_multiplier={conf.worker_prefetch_multiplier}, a pooled "
            "requests.Session per process, autoretry (8 tries, back-off); Redis "
            f"{server['redis_version']} as broker and result backend, "
            f"appendonly {persistence.get('appendonly')}, "
            f"appendfsync {persistence.get('appendfsync')}"
        )

    def durable_count(self, expected: int) -> int | None:
        """The task results in Redis (bounded wait: a result is stored after its POST)."""
        client = self._redis()
        deadline = time.monotonic() + 30
        while True:
            results = sum(1 for _ in client.scan_iter(match="celery-task-meta-*", count=10_000))
            if results >= expected or time.monotonic() > deadline:
                return results
            time.sleep(0.2)

    def check_durable(self, expected: int) -> None:
        results = self.durable_count(expected)
        if results != expected:
            raise BenchFailure(f"celery: {results} results recorded, expected {expected}")

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        report: dict[str, Any] = run_json(
            [
                PYTHON,
                "-m",
                "benchmarks.loadgen",
                "pace-celery",
                "--url",
                self.url,
                "--secret",
                self.secret,
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--phase",
                phase,
                "--out",
                str(out),
            ],
            timeout=600,
            env=self.env,
        )
        return report
