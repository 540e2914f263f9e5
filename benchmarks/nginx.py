"""nginx as the throughput receiver: 1 worker answering 204 to everything, logging each
request's arrival time, path, delivery id and whether it was signed (arrivals.LOG_FORMAT).

Its access log is buffered (flushed every 250 ms), so counting it while a contestant runs
gives a lower bound only. A stretch's exact log is taken by moving the file aside and
asking nginx to reopen its logs (SIGUSR1): every nginx process flushes its buffer into the
moved file before closing it, and once none of them holds it open, it is complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.arrivals import Tally, tally
from benchmarks.config import BenchFailure
from benchmarks.procs import (
    HOST,
    Child,
    Children,
    free_port,
    group_pids,
    holds_listener,
    wait_for_port,
)
from benchmarks.wrk import nginx_config


def nginx_binary() -> str | None:
    """nginx's path, or None where it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def nginx_version() -> str:
    """nginx's name and version, e.g. nginx/1.22.1."""
    binary = nginx_binary()
    if binary is None:
        return ""
    # nginx -v writes "nginx version: nginx/1.22.1" to stderr.
    completed = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return completed.stderr.strip().rpartition(" ")[2]


# nginx retries a bind that failed for ~2.5 s (5 tries) before it exits.
_BIND_SECONDS = 5.0
_STARTS = 3


class Nginx:
    """A running nginx; `stretch()` brackets what one contestant delivered to it."""

    def __init__(self, children: Children, work: Path, *, name: str = "nginx") -> None:
        binary = nginx_binary()
        if binary is None:
            raise BenchFailure("nginx is not installed")
        self._children = children
        self._work = work
        for _ in range(_STARTS):  # another port if another process took this one first
            self.port = free_port()
            conf = nginx_config(work, self.port, name=name)
            self.child: Child = children.start(
                name, [binary, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"]
            )
            wait_for_port(self.port, timeout=20, process=self.child.process, name=name)
            if self._listening(timeout=_BIND_SECONDS):
                break
            children.stop(self.child)
        else:
            raise BenchFailure(f"{name} could not listen on a port of its own in {_STARTS} tries")
        self.access_log = conf.parent / "logs" / "access.log"
        self.url = f"http://{HOST}:{self.port}"
        self._read = 0  # bytes of the live log counted so far
        self._lines = 0
        self._stretches = 0

    def _listening(self, *, timeout: float) -> bool:
        """Whether the master holds the listening socket (`holds_listener`) within `timeout`:
        not if it exited, having failed its bind, or still retries it."""
        deadline = time.monotonic() + timeout
        while self.child.process.poll() is None and time.monotonic() < deadline:
            if holds_listener(self.child.pid, self.port):
                return True
            time.sleep(0.05)
        return False

    @property
    def pid(self) -> int:
        """The master's pid (its worker is in its process group)."""
        return self.child.pid

    def stop(self) -> None:
        self._children.stop(self.child)

    def seen_so_far(self) -> int:
        """Requests in the live log: a lower bound (the log is flushed every 250 ms)."""
        with contextlib.suppress(FileNotFoundError), self.access_log.open("rb") as log:
            log.seek(self._read)
            chunk = log.read()
            complete = chunk.rfind(b"\n") + 1  # a line being written is counted later
            self._lines += chunk.count(b"\n", 0, complete)
            self._read += complete
        return self._lines

    def take_log(self, destination: Path) -> Path:
        """Moves the log written so far to `destination`, complete (see the module's doc);
        nginx goes on in a new, empty one."""
        if self.access_log.exists():
            self.access_log.rename(destination)
        else:
            destination.touch()
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 20
        while _holds(group_pids(self.pid), destination):
            if time.monotonic() > deadline:
                raise BenchFailure(f"nginx did not reopen its log within 20 s ({destination})")
            time.sleep(0.02)
        self._read = self._lines = 0
        return destination

    @contextlib.contextmanager
    def stretch(self, label: str) -> Iterator[list[Tally]]:
        """A stretch of deliveries: the log starts empty, and on the way out its exact tally
        is appended to the list yielded (kept as <label>.arrivals in the work directory)."""
        self._stretches += 1
        scratch = self.access_log.with_name(f"before-{self._stretches}.log")
        self.take_log(scratch).unlink()
        out: list[Tally] = []
        yield out
        taken = self.take_log(self._work / f"{label}.arrivals")
        with taken.open(encoding="ascii", errors="replace") as lines:
            out.append(tally(lines))


def _holds(pids: list[int], path: Path) -> bool:
    """Whether any of `pids` still has `path` open."""
    target = str(path)
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return True
    return False
