"""A worker's disable of a webhook with a large backlog, on PostgreSQL: what the worker waits.

Account A's webhook has `--pending` deliveries due, account B's one; a delivery of each is
claimed. A's attempt answers 410 Gone, which disables its webhook; B's succeeds. The two
are recorded one after the other, as the worker's outcome flusher records its batches
(delivery/outcomes.py): printed are the time A's `record_results` takes, B's own, B's
latency from the moment A's recording began (what B's result waited in the worker), and
when the pause of A's backlog ended (`settle_pauses`, where the store has it).

Each run copies a database built once (a template), on tests/support/postgres.py's
throwaway server:

    PYTHONPATH=src:tests:. python -m benchmarks.disable_walk --pending 100000 --runs 2
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from cryptography.fernet import Fernet

from benchmarks.servers import postgres_server
from hookcast.ports import WebhookHealth
from hookcast.store import SqlStore, open_store
from hookcast.store.migrate import migrate

_CHUNK = 5_000  # events a publish appends while building


async def _build(url: str, key: bytes, pending: int) -> None:
    from support import factories as make  # type: ignore[import-not-found,unused-ignore]
    from support.publishing import account_with_webhook  # type: ignore[import-not-found,unused-ignore]

    store = await open_store(url, secret_key=key)
    try:
        acme, hook = await account_with_webhook(store)
        other, theirs = await account_with_webhook(store)
        await store.append_events(events=[make.event(other.id)], fanout=make.fanout_to(theirs.id))
        for start in range(0, pending, _CHUNK):
            events = [make.event(acme.id) for _ in range(min(_CHUNK, pending - start))]
            await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    finally:
        await store.close()


async def _settled(store: SqlStore) -> None:
    settle = getattr(store, "settle_pauses", None)  # absent before branch diswalk19
    if settle is not None:
        await settle()


async def _run(url: str, key: bytes) -> str:
    from support import factories as make  # type: ignore[import-not-found,unused-ignore]

    store = await open_store(url, secret_key=key)
    try:
        claimed = await store.claim_due_deliveries(now=make.later(1), limit=100, lease_seconds=60)
        most = Counter(item.account_id for item in claimed).most_common()
        first = {item.account_id: item for item in reversed(claimed)}
        a, b = first[most[0][0]], first[most[-1][0]]
        gone = WebhookHealth(a.webhook_id, None, make.later(2), disable_reason="410 Gone")
        success = WebhookHealth(b.webhook_id, make.later(2), None)
        began = time.perf_counter()
        await store.record_results([make.gave_up(a, at=make.later(2))], [gone])
        recorded_a = time.perf_counter()
        await store.record_results([make.succeeded(b, at=make.later(2))], [success])
        recorded_b = time.perf_counter()
        await _settled(store)
        walked = time.perf_counter()
    finally:
        await store.close()
    return (
        f"record_results(A) {recorded_a - began:.3f} s, B's own {recorded_b - recorded_a:.3f} s,"
        f" B from A's start {recorded_b - began:.3f} s, A's pause over {walked - began:.3f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.disable_walk", description=__doc__)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    from support.postgres import run_sql  # type: ignore[import-not-found,unused-ignore]

    key = Fernet.generate_key()
    with postgres_server() as server:
        if server is None:
            print("PostgreSQL is not installed")
            return 1
        run_sql(server.url(), "CREATE DATABASE built")
        migrate(server.url("built"))
        asyncio.run(_build(server.url("built"), key, args.pending))
        for _ in range(args.runs):
            run_sql(server.url(), "CREATE DATABASE run TEMPLATE built")
            print(asyncio.run(_run(server.url("run"), key)), flush=True)
            run_sql(server.url(), "DROP DATABASE run WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
