"""Harness programs that run beside the rest of the suite.

`python -m benchmarks --smoke` and `python -m chaos --short` are programs of their own: they
start their own servers and databases, and their tests only read what they report. Run
inline, they held the suite for about 2.5 minutes while using less than one core. A module
names such a program with `background_job(items)`; as soon as the session is collected,
the programs of every selected module start, one after another, on a thread beside the
suite, and those modules' tests run last and wait for their program's report. Under
pytest-xdist (`make test` runs two workers) the first worker starts the programs at
collection and is given those modules' tests after every other test has been sent out, the
others never (tests/conftest.py); such a module must be named in conftest's
_BACKGROUND_MODULES.

Each program is bounded (stopped with its process group after `timeout` seconds) and one
still running when the session ends is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.lifeline import dies_with_parent

__all__ = ["WAIT_LIMIT", "Finished", "Job", "Queue"]

# The longest a test may wait for its program: every job queued before it and its own run,
# each bounded by its timeout. Tests that read a program's report set this as their
# pytest-timeout; a queue whose timeouts add up to more is refused.
# 45 min: twelve chaos scenarios at 150 s each and the benchmark smoke run's 720 s (2,520 s),
# all worst cases (together they take about 6 minutes).
WAIT_LIMIT = 45 * 60.0


@dataclass(frozen=True)
class Job:
    """One program: `command` runs in `cwd` with `env` added to this process's environment
    and `--results <an empty directory>` added to its arguments."""

    name: str
    command: Sequence[str]
    cwd: Path
    timeout: float  # seconds, from its start
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """What a program left: its exit code (None if killed at its timeout), its output
    (stdout and stderr together) and the directory it may write results to."""

    returncode: int | None
    output: str
    results: Path
    seconds: float


class Queue:
    """Runs jobs one after another on a daemon thread: one stream of work beside the suite,
    not one per job, so the suite's own timing-sensitive tests compete with one program at
    most."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        total = sum(job.timeout for job in jobs)
        assert total < WAIT_LIMIT, f"background jobs may take {total:g} s, over {WAIT_LIMIT:g}"
        self._work = Path(tempfile.mkdtemp(prefix="hookcast-background-"))
        self._jobs = list(jobs)
        self._futures: dict[str, Future[Finished]] = {job.name: Future() for job in jobs}
        self._running: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._started = False
        self._lock = threading.Lock()  # stop() and the start of a job exclude each other
        self._thread = threading.Thread(target=self._run_all, name="background-jobs", daemon=True)

    def start(self) -> None:
        """Starts the jobs; once only, later calls do nothing."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self._thread.start()

    def result(self, name: str) -> Finished:
        """Waits for job `name`, started or still queued, to finish (each job before it and
        itself are killed at their timeouts, so the wait is bounded)."""
        return self._futures[name].result(WAIT_LIMIT)

    def stop(self) -> None:
        """Kills what is running and abandons the rest (the session is over)."""
        with self._lock:
            self._stopping = True
            if self._running is not None:
                _stop_group(self._running)
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        shutil.rmtree(self._work, ignore_errors=True)

    def _run_all(self) -> None:
        for job in self._jobs:
            future = self._futures[job.name]
            try:
                finished = self._run(job)
            except Exception as exc:  # reported by the job's own tests
                future.set_exception(exc)
            else:
                if finished is None:  # the session ended first
                    future.cancel()
                else:
                    future.set_result(finished)

    def _run(self, job: Job) -> Finished | None:
        results = self._work / job.name
        results.mkdir()
        log = self._work / f"{job.name}.log"
        started = time.monotonic()
        with self._lock, log.open("wb") as output:
            if self._stopping:
                return None
            process = subprocess.Popen(
                [*job.command, "--results", str(results)],
                cwd=job.cwd,
                env={**os.environ, **job.env},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a kill reaches its servers
                # Its KeyboardInterrupt stops them if this process ends without `stop`
                # (this thread waits for it, so it outlives it).
                preexec_fn=dies_with_parent(signal.SIGINT),
            )
            self._running = process
        try:
            returncode: int | None = process.wait(timeout=job.timeout)
        except subprocess.TimeoutExpired:
            returncode = None
            _stop_group(process)
        finally:
            with self._lock:
                self._running = None
        text = log.read_text(encoding="utf-8", errors="replace")
        return Finished(returncode, text, results, round(time.monotonic() - started, 1))


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGINT first: the harnesses stop what they started on KeyboardInterrupt (a PostgreSQL
    started with pg_ctl lives in a session of its own, which no group kill reaches); then
    SIGKILL to the whole group."""
    for sig, grace in ((signal.SIGINT, 30.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
            return
