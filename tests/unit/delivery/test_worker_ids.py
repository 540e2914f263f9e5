"""A worker's id names its pid and where that pid means one process (its boot and pid
namespace): a sole worker's start judges whether another worker may still run by its pid
only in the same place (delivery/worker_ids.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hookcast.delivery.worker_ids import (
    Place,
    may_run,
    new_worker_id,
    place_here,
    process_may_run,
)

HERE = Place(boot="0a1b2c3d", namespace="f0000ffc")
OTHER_BOOT = Place(boot="99999999", namespace="f0000ffc")
OTHER_NAMESPACE = Place(boot="0a1b2c3d", namespace="f0001234")
OWN_PID = 1
RUNNING_PID = 42  # the only other pid with a process in this namespace (`_exists`)


def _exists(pid: int) -> bool:
    return pid in {OWN_PID, RUNNING_PID}


@pytest.mark.parametrize(
    ("worker_id", "here", "expected"),
    [
        # Same boot and namespace: by the pid.
        (f"{RUNNING_PID}-{HERE}-0a1b", HERE, True),
        (f"7-{HERE}-0a1b", HERE, False),  # no process has it: killed
        (f"{OWN_PID}-{HERE}-0a1b", HERE, False),  # this one's: restarted with the same pid
        # Another boot: a reboot ended it, even with a pid that runs here now (reused).
        (f"{RUNNING_PID}-{OTHER_BOOT}-0a1b", HERE, False),
        (f"{OWN_PID}-{OTHER_BOOT}-0a1b", HERE, False),
        # Same boot, another namespace: its pid means nothing here; it may run.
        (f"7-{OTHER_NAMESPACE}-0a1b", HERE, True),
        (f"{OWN_PID}-{OTHER_NAMESPACE}-0a1b", HERE, True),  # pid 1 of another container
        # No place: an id from before places, or this process cannot read its own.
        (f"{RUNNING_PID}-0a1b2c3d4e5f6a7b", HERE, True),
        ("7-0a1b2c3d4e5f6a7b", HERE, False),
        (f"7-{OTHER_BOOT}-0a1b", None, False),
        (f"{RUNNING_PID}-{OTHER_NAMESPACE}-0a1b", None, True),
        # No pid: names no process.
        ("named", HERE, True),
    ],
)
def test_whether_a_worker_may_still_run_is_judged_by_its_pid_only_in_its_place(
    worker_id: str, here: Place | None, expected: bool
) -> None:
    assert may_run(worker_id, here=here, pid=OWN_PID, pid_exists=_exists) is expected


@pytest.mark.parametrize("pid", [1, 4194303])  # the lowest and the highest Linux pids
def test_a_worker_id_fits_its_column_and_names_its_pid_and_place(pid: int) -> None:
    worker_id = new_worker_id(pid=pid, place=HERE)

    assert len(worker_id) <= 32
    assert worker_id.startswith(f"{pid}-{HERE}-")
    assert len(worker_id.rpartition("-")[2]) >= 7  # a token still tells processes apart
    assert new_worker_id(pid=pid, place=HERE) != worker_id


def test_this_process_knows_its_place_and_is_judged_in_it() -> None:
    here = place_here()
    if here is None:
        pytest.skip("no /proc: not Linux")
    worker_id = new_worker_id(pid=os.getppid(), place=here)

    assert process_may_run(worker_id)  # this test's parent runs
    assert not process_may_run(new_worker_id(pid=os.getpid(), place=here))


def test_without_proc_a_process_has_no_place(tmp_path: Path) -> None:
    assert place_here(tmp_path) is None
