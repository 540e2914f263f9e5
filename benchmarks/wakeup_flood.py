"""python -m benchmarks.wakeup_flood --senders N --seconds S: what a flood of wake-ups costs
the process that waits on a SQLite file (store/file_wakeup.py).

This process listens as the delivering `serve` does and ticks its loop every millisecond;
N processes of the same user send it empty datagrams as fast as they can for S seconds.
Reported: the loop's longest and p99 gap between ticks beyond the millisecond asked for
(what every other callback waited), the wake-ups delivered, the datagrams the senders got
through, and this process's CPU per second. Runs against whichever hookcast is imported
(PYTHONPATH=<other worktree>/src for a baseline). One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hookcast.store.file_wakeup import FileWakeup

_SENDER = """
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setblocking(False)
address, end, sent = sys.argv[1].encode("latin-1").decode("unicode_escape"), float(sys.argv[2]), 0
while time.time() < end:
    try:
        sock.sendto(b"", address)
        sent += 1
    except OSError:
        pass
print(sent)
"""


def _address(wakeup: FileWakeup) -> str:
    """Where the senders send: the socket file, or the abstract name before it."""
    abstract = getattr(wakeup, "_address", None)
    return abstract if isinstance(abstract, str) else str(wakeup.path)


def _start(command: list[str], count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(count)]


async def _flood(senders: int, seconds: float, work: Path) -> dict[str, object]:
    database = work / "hookcast.db"
    database.touch(mode=0o600)
    wakeup, woken = FileWakeup(database), [0]
    assert wakeup.listen(lambda: woken.__setitem__(0, woken[0] + 1))
    end = time.time() + 0.5 + seconds
    address = _address(wakeup).encode("unicode_escape").decode("latin-1")
    command = [sys.executable, "-c", _SENDER, address, str(end)]
    started = _start(command, senders)
    gaps: list[float] = []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    while time.time() < end:
        before = time.monotonic()
        await asyncio.sleep(0.001)
        gaps.append(time.monotonic() - before - 0.001)
    after = resource.getrusage(resource.RUSAGE_SELF)
    sent = sum(int(process.communicate()[0]) for process in started)
    wakeup.close()
    gaps.sort()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {
        "senders": senders,
        "seconds": seconds,
        "max_gap_ms": round(gaps[-1] * 1e3, 1),
        "p99_gap_ms": round(gaps[int(len(gaps) * 0.99)] * 1e3, 2),
        "wake_ups": woken[0],
        "datagrams_sent": sent,
        "listener_cpu_per_second": round(cpu / (seconds + 0.5), 3),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wakeup_flood", description=__doc__)
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hookcast-flood-") as work:
        measured = asyncio.run(_flood(args.senders, args.seconds, Path(work)))
    print(json.dumps({"label": args.label, **measured}), flush=True)


if __name__ == "__main__":
    main()
