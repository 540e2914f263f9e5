"""HookCast processes for the chaos runs: `hookcast serve` / `hookcast worker` on loopback,
each in its own process group (so a kill reaches every child), logs in files, every wait
bounded, and every process the runner started gone when its `Processes` closes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

HOST = "127.0.0.1"
READY_TIMEOUT = 45.0  # a loaded 2-core machine can take a while to import the server stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def hookcast_command() -> str:
    return str(Path(sys.executable).with_name("hookcast"))


@dataclass
class HookcastProcess:
    """One `hookcast serve` or `hookcast worker`; `restart()` runs the same command again."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [hookcast_command(), *self.args],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: killpg reaches it all
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill9(self) -> None:
        """SIGKILL to the whole group: no shutdown code runs, as in a crash or an OOM kill."""
        self.signal(signal.SIGKILL)

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.process is not None and self.process.poll() is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return None if self.process is None else self.process.returncode

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """serve: /healthz answers 200. worker: still alive after a moment (no port)."""
        if self.port is None:
            await asyncio.sleep(1.0)
            if not self.running():
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            return
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
            while time.monotonic() < deadline:
                if not self.running():
                    raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with client.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout:g} s:\n{self.log_tail()}")

    async def gauge(self, name: str) -> float | None:
        """serve: an unlabelled gauge of its /metrics, or None when it did not answer or
        does not export that gauge."""
        text = ""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with client.get(f"{self.url}/metrics") as response:
                    text = await response.text()
        for line in text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None

    async def gauge_reaches(self, name: str, value: float, *, within: float) -> bool:
        """Whether serve's gauge `name` says `value` within `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await self.gauge(name) == value:
                return True
            await asyncio.sleep(0.2)
        return False

    async def restart(self) -> None:
        self.start()
        await self.wait_ready()

    async def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; the exit code."""
        self.signal(signal.SIGTERM)
        code = await self.wait_exit(grace)
        if code is None:
            self.kill9()
            code = await self.wait_exit(5.0)
        return code

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self) -> str:
        """Every run of this process's output, concatenated."""
        parts = []
        for number in range(1, self.starts + 1):
            path = self.log_dir / f"{self.name}-{number}.log"
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def reap(self) -> None:
        """Last resort on the way out: SIGKILL the group and collect the exit status."""
        if self.process is None:
            return
        self.kill9()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@dataclass
class Processes:
    """Every HookCast process of one scenario run, sharing one environment."""

    env: dict[str, str]
    log_dir: Path
    started: list[HookcastProcess] = field(default_factory=list)

    def serve(self, name: str, *args: str) -> HookcastProcess:
        port = free_port()
        return self._add(name, ["serve", "--port", str(port), *args], port)

    def worker(self, name: str, *args: str) -> HookcastProcess:
        return self._add(name, ["worker", *args], None)

    def _add(self, name: str, args: list[str], port: int | None) -> HookcastProcess:
        process = HookcastProcess(name, args, self.env, self.log_dir, port=port)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            process.reap()

    def tracebacks(self) -> int:
        """Python tracebacks in every log (logged errors; informational)."""
        return sum(
            process.logs().count("Traceback (most recent call last)") for process in self.started
        )


def hookcast_env(database_url: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment every HookCast process of a run gets: loopback allowed, the shortest
    leases allowed (a stalled worker's deliveries come back within 40 s; a dead worker's
    within seconds, by its heartbeat), no rate limit, no pruning."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOOKCAST_")}
    env.update(
        HOOKCAST_DATABASE_URL=database_url,
        HOOKCAST_SECRET_KEY="chaos-secret-key",
        HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8",
        HOOKCAST_LEASE_SECONDS="40",
        HOOKCAST_RATE_LIMIT_PER_SECOND="0",
        HOOKCAST_ACCOUNT_RATE_LIMIT_PER_SECOND="0",
        HOOKCAST_RETENTION_DAYS="0",
        HOOKCAST_WORKER_CONCURRENCY="32",
        HOOKCAST_LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env
