"""`hookcast serve` whose delivery thread dies stops with a non-zero status, saying why, so
that a supervisor restarts it, instead of answering 202 to publishes nobody delivers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import cli_env, free_port, hookcast_bin

EXIT_WITHIN = 45.0  # seconds: start-up included, on a loaded 2-core machine


def test_serve_exits_non_zero_and_logs_why_when_its_delivery_thread_dies(
    tmp_path: Path,
) -> None:
    # Only the delivery worker reads the CA bundle: the API starts, the worker cannot.
    env = cli_env(
        f"sqlite:///{tmp_path / 'hookcast.db'}",
        HOOKCAST_CA_BUNDLE=str(tmp_path / "missing-ca.pem"),
    )
    process = subprocess.Popen(
        [hookcast_bin(), "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = process.communicate(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=5)
        raise AssertionError(f"serve kept running without its delivery thread:\n{stderr}") from None

    assert process.returncode == 1, stderr
    logged = [line for line in stderr.splitlines() if " ERROR " in line]
    assert any("delivery thread died" in line for line in logged), stderr
    assert "Traceback" in stderr, stderr
    assert "FileNotFoundError" in stderr, stderr  # the cause (the CA bundle), with it
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: serve stopped: its delivery thread died"), stderr
