"""python -m benchmarks.sqlite_record: SQLite's claim and recording in process, apart.

What the delivery thread's store calls cost on SQLite without sending anything: a store on a
copy of a database of `--deliveries` pending deliveries claims up to 1,024 at a time (fair,
as the worker claims) and records each claim's deliveries as succeeded, 128 at a time, on
uvloop, until every one is recorded. Per run: the loop thread's CPU µs per delivery in
`claim_due_deliveries` and in `record_results` (`time.thread_time()` around each call), the
process's in `record_results` (`time.process_time()`: the COMMIT's helper thread too), and
the least batch of 128's loop-thread µs per delivery (the least preempted).

`--src DIR` runs another checkout's code (`PYTHONPATH`) alternating with this one's, the
order swapped run by run; each side's database is seeded by its own code, so it records the
rows its own publishes write (the delivery ids' order matters: docs/benchmarks/embedded-delivery.md,
"Tenth pass: the SQLite recording by rowid"). One JSON line per run, then each side's medians.
Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, REPO

_CLAIM = 1024
_RECORD = 128
_HEADERS = {  # about what a JW-format attempt stores, its secrets redacted
    "content-type": "application/json",
    "user-agent": "HookCast/1.0",
    "webhook-id": "dlv_" + "x" * 22,
    "webhook-timestamp": "1700000000",
    "webhook-signature": "[redacted]",
    "x-jwplayer-signature": "[redacted]",
}


async def _drain(database: Path) -> dict[str, Any]:
    """The child's side: claims and records every pending delivery of `database`."""
    from benchmarks.hookcast_setup import SECRET_KEY
    from benchmarks.recorded import succeeded
    from hookcast.cli.runtime import secret_key
    from hookcast.config import Settings
    from hookcast.store import open_store

    url = f"sqlite:///{database}"
    store = await open_store(
        url, secret_key=secret_key(Settings(database_url=url, secret_key=SECRET_KEY))
    )
    now = datetime.now(UTC) + timedelta(days=1)
    claiming = recording = recording_process = 0.0
    least = float("inf")
    done = 0
    try:
        while True:
            started = time.thread_time()
            claimed = await store.claim_due_deliveries(
                now=now, limit=_CLAIM, lease_seconds=300, worker_id="w1", per_account=_CLAIM
            )
            claiming += time.thread_time() - started
            if not claimed:
                break
            for first in range(0, len(claimed), _RECORD):
                batch = claimed[first : first + _RECORD]
                results = succeeded(batch, at=now, headers=_HEADERS)
                thread, process = time.thread_time(), time.process_time()
                await store.record_results(results, [])
                took = time.thread_time() - thread
                recording += took
                recording_process += time.process_time() - process
                if len(batch) == _RECORD:
                    least = min(least, took / _RECORD)
                done += len(batch)
    finally:
        await store.close()
    return {
        "deliveries": done,
        "claim_us": round(claiming / done * 1e6, 2),
        "record_us": round(recording / done * 1e6, 2),
        "record_process_us": round(recording_process / done * 1e6, 2),
        "record_least_batch_us": round(least * 1e6, 2),
    }


def _seed(template: Path, deliveries: int, src: str | None) -> None:
    """A database of `deliveries` pending deliveries, published by `src`'s code."""
    code = (
        "import sys; from benchmarks.hookcast_setup import Setup; "
        "Setup(sys.argv[1]).prepare('http://127.0.0.1:9', backlog=int(sys.argv[2]), phase='sr')"
    )
    subprocess.run(
        [PYTHON, "-c", code, f"sqlite:///{template}", str(deliveries)],
        check=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{src}:{REPO}" if src else str(REPO)},
    )


def _run(template: Path, work: Path, src: str | None) -> dict[str, Any]:
    """One drain in a child process on a fresh copy of `template`."""
    database = work / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, database)
    load = Path("/proc/loadavg").read_text().split()[0]
    out = subprocess.run(
        [PYTHON, "-m", "benchmarks.sqlite_record", "--child", str(database)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{src}:{REPO}" if src else str(REPO)},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result | {"load": load}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sqlite_record", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--src", help="the src directory of the code to compare with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop

        print(json.dumps(uvloop.run(_drain(Path(args.child)))))
        return
    work = Path(tempfile.mkdtemp(prefix="hookcast-sqlite-record-"))
    try:
        sides: dict[str, str | None] = {"this": None} | ({"src": args.src} if args.src else {})
        templates = {name: work / f"{name}.db" for name in sides}
        for name, src in sides.items():
            _seed(templates[name], args.deliveries, src)
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for number in range(args.runs):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:
                result = _run(templates[name], work, sides[name]) | {"side": name, "run": number}
                print(json.dumps(result), flush=True)
                found[name].append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, results in found.items():
        keys = ("claim_us", "record_us", "record_process_us", "record_least_batch_us")
        medians = {key: statistics.median(row[key] for row in results) for key in keys}
        print(json.dumps({"side": name, "medians": medians}), file=sys.stdout)


if __name__ == "__main__":
    main()
