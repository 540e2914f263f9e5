"""A worker's id, and what it tells another process about whether the worker may still run.

The id is `{pid}-{place}-{token}`: the pid first (people and the chaos runs read it), then
where that pid means something, its place: the boot (/proc/sys/kernel/random/boot_id) and
the pid namespace (the inode of /proc/self/ns/pid), 8 hex digits each; the token tells apart
the processes that had one pid in one place (a container restarted: pid 1 again). The id
fits `workers.id` (32 characters), so the token is what the pid leaves of 16 hex digits.

A sole worker that finds another one's beat stale asks `may_run`: gone, its leases are
taken back at once; may run (stopped, paused), they are left to expire, since it may be
sending under them (liveness.py). A pid is asked about only within its place:

| the other's place           | judged                                                    |
| same boot and namespace     | by its pid: no process has it, or it is this one's: gone |
| another boot                | gone: a reboot ended every process of the last boot       |
| same boot, other namespace  | may run: its pid means nothing here (another container,   |
|                             | maybe `docker pause`d); its leases expire (never twice)   |
| none (an id from before, or | by its pid, as before                                     |
|   no /proc here)            |                                                           |
| no pid (a name)             | may run                                                   |

Another boot could also be another host; SQLite, the only sole worker, is one host's file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Place", "may_run", "new_worker_id", "place_here", "process_may_run"]

_ID_LENGTH = 32  # workers.id, deliveries.lease_worker (store/tables.py)
_PART = 8  # hex digits of the boot and of the namespace


@dataclass(frozen=True, slots=True)
class Place:
    """Where a pid means one process: a boot and a pid namespace (8 hex digits each)."""

    boot: str
    namespace: str

    def __str__(self) -> str:
        return self.boot + self.namespace

    @classmethod
    def parse(cls, text: str) -> Place | None:
        """The place written in a worker id; None if `text` is not one."""
        if len(text) != 2 * _PART or not all(c in "0123456789abcdef" for c in text):
            return None
        return cls(boot=text[:_PART], namespace=text[_PART:])


def place_here(proc: Path = Path("/proc")) -> Place | None:
    """This process's place; None where /proc does not tell it (not Linux)."""
    try:
        boot = (proc / "sys/kernel/random/boot_id").read_text().replace("-", "").strip()
        namespace = (proc / "self/ns/pid").stat().st_ino
    except OSError:
        return None
    return Place.parse(f"{boot[:_PART]}{namespace & 0xFFFFFFFF:08x}")


def new_worker_id(*, pid: int, place: Place | None) -> str:
    """A new worker's id: `{pid}-{place}-{token}`, or `{pid}-{token}` with no place."""
    prefix = f"{pid}-" if place is None else f"{pid}-{place}-"
    return prefix + secrets.token_hex(8)[: _ID_LENGTH - len(prefix)]


def may_run(
    worker_id: str, *, here: Place | None, pid: int, pid_exists: Callable[[int], bool]
) -> bool:
    """Whether the process that registered `worker_id` may still run, seen from the process
    `pid` at `here` (the table above); `pid_exists` asks this pid namespace."""
    pid_text, _, rest = worker_id.partition("-")
    if not pid_text.isdigit():
        return True
    place_text, dash, _ = rest.partition("-")  # an id from before was `{pid}-{token}`
    place = Place.parse(place_text) if dash else None
    if place is not None and here is not None and place != here:
        return place.boot == here.boot  # another namespace of this boot may run
    return int(pid_text) != pid and pid_exists(int(pid_text))


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the pid exists
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, another user's
        return True
    return True


def process_may_run(worker_id: str) -> bool:
    """`may_run` as seen from this process."""
    return may_run(worker_id, here=place_here(), pid=os.getpid(), pid_exists=_pid_exists)
