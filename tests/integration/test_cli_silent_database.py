"""`migrate`, `serve` and `worker` against a PostgreSQL address that accepts connections and
never answers (a half-dead server, a firewall's black hole behind a proxy): each gives up
after HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS and says so in one line naming the database.
asyncpg's own timeout held each of them 60 s (the worker 120 s: its schema check, then its
first claim)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import cli_env, free_port, hookcast_bin, run_cli

from support.waiting import wait_until

TIMEOUT = 1  # HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS in these tests
BOUND = 30.0  # seconds each command has: half asyncpg's own 60 s


class _Silent:
    """A loopback TCP listener that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            self._held.append(connection)

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept() (EINVAL); close alone does not on
        # Linux, and each teardown waited out the join's 5 s (15 s of the suite's wall time).
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._accepting.join(timeout=5)
        assert not self._accepting.is_alive(), "the listener's thread is still in accept()"
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    listener = _Silent()
    try:
        yield listener
    finally:
        listener.close()


def _env(silent: _Silent) -> dict[str, str]:
    return cli_env(
        f"postgresql://hookcast:s3cret-pw@127.0.0.1:{silent.port}/hookcast",
        HOOKCAST_SECRET_KEY="a shared secret",
        HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS=str(TIMEOUT),
    )


def _said(silent: _Silent) -> str:
    return (
        f"error: PostgreSQL database hookcast on 127.0.0.1:{silent.port} did not answer "
        f"within {TIMEOUT} s (HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS)"
    )


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--port", "0"]])
def test_a_command_gives_up_on_a_silent_database_in_one_line(
    silent: _Silent, tmp_path: Path, command: list[str]
) -> None:
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    began = time.monotonic()
    done = run_cli(command, _env(silent), tmp_path, timeout=BOUND)
    took = time.monotonic() - began
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(_said(silent)), done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr
    assert took < BOUND, took


def test_a_worker_says_a_silent_database_is_unavailable_within_two_timeouts(
    silent: _Silent, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [hookcast_bin(), "worker"], env=_env(silent), cwd=tmp_path, stdout=out, stderr=out
        )
    try:
        wait_until(
            lambda: " is unavailable (" in log.read_text(), timeout=BOUND, message=log.read_text
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    text = log.read_text()
    where = f"PostgreSQL database hookcast on 127.0.0.1:{silent.port}"
    assert f"ERROR hookcast.worker: {where} is unavailable (" in text, text
    assert "it did not answer in time" in text, text
    assert "s3cret-pw" not in text
