"""A test run interrupted mid-way (SIGTERM: a cancelled CI job, `timeout`; SIGINT: Ctrl+C
sent to the run alone) leaves nothing running: not its pytest-xdist workers, nor the
PostgreSQL servers, `hookcast serve` processes and nginx its fixtures started. Runs
test_interrupted_children.py under pytest-xdist (`-n 1`), waits until its test holds its
children, interrupts the run and polls, with a deadline, until every one of them is gone.

One worker, not `make test`'s two: a worker dies with its controller the same way whichever
it is, and each pytest process costs ~7 s of CPU to start (its plugins and the conftests'
imports; ~1.5 s of that is schemathesis' plugin, which the run leaves out)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = Path(__file__).with_name("test_interrupted_children.py")


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended and not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _held(children: Path) -> list[int] | None:
    """The processes the run's test holds, once it has said so."""
    lines = children.read_text().splitlines() if children.exists() else []
    return [int(pid) for pid in lines[0].split()] if lines else None


def _obeying_sigint() -> None:
    # A shell's background job ignores SIGINT (and so would the run started from it).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _log(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("interruption", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_an_interrupted_run_leaves_no_process_behind(
    tmp_path: Path, interruption: signal.Signals
) -> None:
    children, log = tmp_path / "children", tmp_path / "pytest.log"
    env = {**os.environ, "HOOKCAST_TEST_CHILDREN_FILE": str(children)}
    command = [sys.executable, "-m", "pytest", "-n", "1", "-p", "no:cacheprovider", "-q"]
    command += ["-p", "no:schemathesis"]
    command += ["--basetemp", str(tmp_path / "run"), "--timeout", "280", str(CHILDREN)]
    with log.open("wb") as out:
        run = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # only the signal sent below reaches it
            preexec_fn=_obeying_sigint,
        )  # fmt: skip
    held: list[int] = []
    try:
        held = wait_until(
            lambda: run.poll() is None and _held(children),
            timeout=180,
            message=lambda: f"the run's test never held its children:\n{_log(log)}",
        )
        os.kill(run.pid, interruption)

        wait_until(
            lambda: not any(_alive(pid) for pid in held),
            timeout=60,
            message=lambda: f"still running: {[p for p in held if _alive(p)]}\n{_log(log)}",
        )
        assert run.wait(timeout=60) != 0
    finally:
        for pid in (run.pid, *held):  # what a failure above left: not to the next test
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        run.wait(timeout=30)
