"""python -m benchmarks.kill_drain: kill -9 one of two PostgreSQL workers mid-drain.

Seeds N pending deliveries on a throwaway PostgreSQL server, starts `serve --no-worker` and
two `hookcast worker`s, kills one with SIGKILL once a share of the deliveries has arrived,
and prints the seconds from the kill until every delivery had arrived, and the duplicates
(arrivals beyond one per delivery: what the killed worker had sent but not recorded).
Loopback only, bounded, every process stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from chaos.postgres import postgres

from benchmarks.config import HOOKCAST
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.procs import HOST, Children, free_port, wait_for_port
from benchmarks.receiving import Receiver


def kill_drain(args: argparse.Namespace, work: Path, database_url: str) -> dict[str, Any]:
    children = Children(work)
    try:
        receiver = Receiver(children)
        prepared = Setup(database_url).prepare(
            receiver.url, webhooks=1, backlog=args.deliveries, phase="drain"
        )
        receiver.reset(secret=prepared.secret, record=True, verify_every=16)
        env = settings_env(database_url)
        port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(port), "--no-worker"]
        children.start("serve", serve, env=env, cwd=work)
        workers = [
            children.start(f"worker{n}", [HOOKCAST, "worker"], env=env, cwd=work) for n in (1, 2)
        ]
        wait_for_port(port, timeout=60, name="hookcast serve")
        deadline = time.monotonic() + args.timeout
        stats = receiver.stats()
        while stats["unique"] < args.deliveries * args.kill_at and time.monotonic() < deadline:
            time.sleep(0.02)
            stats = receiver.stats()
        killed_at = time.monotonic()
        os.killpg(workers[0].pid, signal.SIGKILL)
        at_kill = receiver.stats()
        while stats["unique"] < args.deliveries and time.monotonic() < deadline:
            time.sleep(0.02)
            stats = receiver.stats()
        recovered = time.monotonic() - killed_at
        time.sleep(3.0)  # late duplicates
        stats = receiver.stats()
    finally:
        children.stop_all()
    return {
        "deliveries": args.deliveries,
        "arrived_at_kill": at_kill["unique"],
        "kill_to_last_s": round(recovered, 2),
        "arrived": stats["unique"],
        "duplicates": stats["count"] - stats["unique"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kill_drain", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=50_000)
    parser.add_argument("--kill-at", type=float, default=0.4, help="share arrived at the kill")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hookcast-kill-drain-"))
    try:
        with postgres() as server:
            if server is None:
                raise SystemExit("PostgreSQL binaries (pg_ctl, initdb) are not installed")
            url = asyncio.run(server.new_database())
            print(json.dumps(kill_drain(args, work, url)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
