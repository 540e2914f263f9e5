"""python -m benchmarks.pg_steps: PostgreSQL's CPU and WAL per delivery for each step of
the delivery path, claiming and recording apart, measured in process against the store.

One process claims `--claim` pending deliveries at a time and records each claim's
deliveries as sent, `--record` at a time, until `--deliveries` are done, on a throwaway
PostgreSQL with autovacuum off (a VACUUM afterwards is measured on its own). The CPU is that
of the server's live processes, from /proc/<pid>/schedstat (nanoseconds: a step lasts a few
milliseconds, shorter than /proc/<pid>/stat's clock tick). `--before-recording SQL`
(semicolon-separated) runs after every delivery was claimed and before any is recorded
(then every claim comes first): dropping the indexes whose predicate names `status` there
emulates a completion that is a HOT update (docs/benchmarks/postgres-delivery.md, "Fewer statements
per claim"). One JSON line per run; interleave runs against a baseline (PYTHONPATH=<other
worktree>/src) for the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.hookcast_setup import SECRET_KEY, Setup
from benchmarks.recorded import succeeded
from benchmarks.servers import create_database, postgres_server
from hookcast.bootstrap import open_settings_store
from hookcast.config import Settings
from hookcast.domain.health import WebhookHealth
from hookcast.ports import ClaimedDelivery, DeliveryResult
from hookcast.store import SqlStore

_SETTINGS = ("autovacuum=off",)
_HEADERS = {"content-type": "application/json", "user-agent": "HookCast/1.0"}


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def server_cpu_seconds(postmaster: int) -> float:
    """The CPU time of the postmaster and its live children, in seconds."""
    nanoseconds = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(entry.name) == postmaster or _parent(int(entry.name)) == postmaster:
                nanoseconds += int((entry / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return nanoseconds / 1e9


class _Meter:
    """CPU seconds and WAL bytes per step, summed over the run."""

    def __init__(self, connection: Any, postmaster: int) -> None:
        self._connection = connection
        self._postmaster = postmaster
        self.cpu: dict[str, float] = {"claim": 0.0, "record": 0.0, "vacuum": 0.0}
        self.wal: dict[str, int] = {"claim": 0, "record": 0, "vacuum": 0}

    async def _now(self) -> tuple[float, int]:
        lsn = await self._connection.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return server_cpu_seconds(self._postmaster), int(lsn)

    async def measure(self, step: str, work: Any) -> Any:
        cpu, wal = await self._now()
        result = await work
        cpu_after, wal_after = await self._now()
        self.cpu[step] += cpu_after - cpu
        self.wal[step] += wal_after - wal
        return result


def _sent(claimed: Sequence[ClaimedDelivery]) -> tuple[list[DeliveryResult], list[WebhookHealth]]:
    """Each claimed delivery recorded as sent now, and its webhooks' health with it."""
    now = datetime.now(UTC)
    results = succeeded(claimed, at=now, headers=_HEADERS)
    health = [
        WebhookHealth(webhook_id, now, None) for webhook_id in {c.webhook.id for c in claimed}
    ]
    return results, health


async def _run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    store = await open_settings_store(Settings(database_url=url, secret_key=SECRET_KEY))
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("ANALYZE")
        await connection.execute("CHECKPOINT")
        backend = await connection.fetchval("SELECT pg_backend_pid()")
        meter = _Meter(connection, _parent(backend))
        claims: list[Sequence[ClaimedDelivery]] = []
        done = 0
        while done < args.deliveries:
            claim = store.claim_due_deliveries(
                now=datetime.now(UTC), limit=args.claim, lease_seconds=600, worker_id="steps"
            )
            claimed = await meter.measure("claim", claim)
            if not claimed:
                break
            claims.append(claimed)
            done += len(claimed)
            if args.before_recording is None:
                await _record(store, meter, claims.pop(), args.record)
        for statement in (args.before_recording or "").split(";"):
            if statement.strip():
                await connection.execute(statement)
        for claimed in claims:
            await _record(store, meter, claimed, args.record)
        await meter.measure("vacuum", connection.execute("VACUUM deliveries, attempts"))
    finally:
        await connection.close()
        await store.close()
    per = max(done, 1)
    return {
        "deliveries": done,
        **{f"{step}_cpu_us": round(cpu / per * 1e6, 1) for step, cpu in meter.cpu.items()},
        **{f"{step}_wal_bytes": round(wal / per) for step, wal in meter.wal.items()},
    }


async def _record(
    store: SqlStore, meter: _Meter, claimed: Sequence[ClaimedDelivery], size: int
) -> None:
    for first in range(0, len(claimed), size):
        results, health = _sent(claimed[first : first + size])
        await meter.measure("record", store.record_results(results, health))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_steps", description=__doc__)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--claim", type=int, default=512)
    parser.add_argument("--record", type=int, default=128)
    parser.add_argument("--before-recording", default=None, metavar="SQL")
    parser.add_argument("--label", default="")
    parser.add_argument("--locale", default="", help="the database's locale (pg_cost's)")
    args = parser.parse_args()
    with postgres_server(settings=_SETTINGS) as server:
        url = create_database(server, "steps", args.locale)
        Setup(url).prepare("http://127.0.0.1:9/steps", webhooks=1, backlog=args.deliveries)
        result = asyncio.run(_run(args, url))
    load = round(os.getloadavg()[0], 2)
    print(json.dumps({"label": args.label, "load": load, **result}), flush=True)


if __name__ == "__main__":
    main()
