"""The suite's throwaway PostgreSQL directories: a run killed before its teardown (SIGTERM
from a CI timeout, SIGKILL) left each server's files behind, under /dev/shm in RAM until
the next boot; the next run's servers remove those whose test process is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.postgres import _SWEEP_AGE, sweep_abandoned

_HOLD = """
import os, sys, time
sys.path.insert(0, {tests!r})
from support.postgres import _owned
_owned({base!r})
print("locked", flush=True)
time.sleep(600)
"""


def _server_directory(root: Path, name: str, *, age: float) -> Path:
    base = root / f"hookcast-pg-{name}"
    (base / "data").mkdir(parents=True)
    (base / "data" / "PG_VERSION").write_text("15\n")
    then = time.time() - age
    os.utime(base, (then, then))
    return base


def _held_by_a_process(base: Path) -> subprocess.Popen[str]:
    tests = str(Path(__file__).resolve().parents[1])
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD.format(tests=tests, base=str(base))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    return holder


def test_a_directory_whose_test_process_was_killed_is_removed(tmp_path: Path) -> None:
    base = _server_directory(tmp_path, "killed", age=2 * _SWEEP_AGE)
    holder = _held_by_a_process(base)
    try:
        assert sweep_abandoned(str(tmp_path)) == []  # its process runs: kept
        assert base.is_dir()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)

    assert sweep_abandoned(str(tmp_path)) == [base]
    assert not base.exists()


def test_a_young_unlocked_directory_and_other_names_are_left(tmp_path: Path) -> None:
    """One just made may not be locked yet by the process that made it."""
    young = _server_directory(tmp_path, "young", age=0)
    other = tmp_path / "someone-elses"
    other.mkdir()
    os.utime(other, (0, 0))

    assert sweep_abandoned(str(tmp_path)) == []
    assert young.is_dir()
    assert other.is_dir()
