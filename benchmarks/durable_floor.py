"""python -m benchmarks.durable_floor: the least a durable deliverer costs on this machine,
the peer target 3 measures HookCast's embedded delivery against beside the raw aiohttp
ceiling (benchmarks/rawclient.py).

Target 3 asks that a durable, signed, recorded delivery cost no more CPU than the raw
client's fire-and-forget POST. This peer is the smallest program that delivers durably: N
pending deliveries in a SQLite file (WAL, `synchronous=FULL` as HookCast's store), claimed
512 at a time by moving their due time past a lease (one UPDATE ... RETURNING on a partial
due index), each POSTed with the raw client's headers and hex HMAC over keep-alive
connections, and recorded 128 outcomes at a time in one transaction (the delivery's status
and attempt count, an attempt row) committed on a thread of its own, as HookCast commits.
`--client raw` sends through uvloop's transport with httptools' response parser (no HTTP
library: what a deliverer pays at the least), `--client aiohttp` through the raw client's
aiohttp session (what durability adds to the ceiling itself). `--wire raw` sends the stored
body with the raw client's one hex HMAC; `--wire hookcast` stores the event instead and
renders each request as HookCast's JW format does: the body made from the event's stored
JSON, then HookCast's own signer (`hookcast.domain.signing.delivery_signer`: the JWT,
Standard Webhooks and hex HMAC signatures and their headers), so the peer does the wire's
work HookCast must do. Not HookCast: no scheduling, fairness, ordering, retries, timeouts,
metrics or API.

Prints one JSON line: the deliveries, the seconds and the process's CPU seconds from the
first claim to the last commit (seeding excluded), and the requests that failed.

Run: python -m benchmarks.durable_floor --url http://127.0.0.1:9000/hook --count 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson
import uvloop

from benchmarks.payloads import delivery_body, event_id, published_event, signed_headers
from hookcast.domain.signing import delivery_signer

_CLAIM = 512  # deliveries per claim
_RECORD = 128  # outcomes per recording transaction
_LEASE_US = 60_000_000  # a claimed delivery's due time moves this far ahead (its lease)

_SCHEMA = (
    "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, due INTEGER NOT NULL,"
    " status INTEGER NOT NULL, attempts INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " body BLOB NOT NULL)",
    "CREATE INDEX deliveries_due ON deliveries (due) WHERE status = 0",
    "CREATE TABLE attempts (delivery_id INTEGER NOT NULL, number INTEGER NOT NULL,"
    " started INTEGER NOT NULL, code INTEGER NOT NULL, latency_us INTEGER NOT NULL,"
    " PRIMARY KEY (delivery_id, number)) WITHOUT ROWID",
)
_CLAIM_SQL = (
    "UPDATE deliveries SET due = ? WHERE id IN (SELECT id FROM deliveries"
    " WHERE status = 0 AND due <= ? ORDER BY due LIMIT ?) RETURNING id, event_id, body"
)
_DONE_SQL = "UPDATE deliveries SET status = 1, attempts = attempts + 1 WHERE id = ?"
_ATTEMPT_SQL = "INSERT INTO attempts VALUES (?, ?, ?, ?, ?)"

Row = tuple[int, str, bytes]
Outcome = tuple[int, int, int, int]  # id, started (µs), status code, latency (µs)
Send = Callable[[dict[str, str], bytes], Awaitable[int]]
Render = Callable[[str, bytes], tuple[dict[str, str], bytes]]  # event id, stored → request


def _micros() -> int:
    return time.time_ns() // 1000


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def seed(path: Path, count: int, phase: str, *, wire: str) -> None:
    """`count` pending deliveries due now: the raw client's bodies (`wire` raw), or the
    events they are made from, as JSON (`wire` hookcast)."""
    with contextlib.closing(_connect(path)) as db:
        for statement in _SCHEMA:
            db.execute(statement)
        now = _micros()
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO deliveries VALUES (?, ?, 0, 0, ?, ?)",
            (
                (number, now, event_id(phase, number), _stored(phase, number, wire))
                for number in range(count)
            ),
        )
        db.execute("COMMIT")


def _stored(phase: str, number: int, wire: str) -> bytes:
    if wire == "raw":
        return delivery_body(phase, number)
    return orjson.dumps(published_event(phase, number))


def renderer(wire: str, secret: str) -> Render:
    """What makes a delivery's request from its stored row."""
    if wire == "raw":
        return lambda event, stored: (signed_headers(secret, stored, event), stored)
    signer = delivery_signer([secret])

    def render(event: str, stored: bytes) -> tuple[dict[str, str], bytes]:
        published = orjson.loads(stored)
        body = orjson.dumps(
            {
                "event": published["event"],
                "event_id": event,
                "media_id": published["media_id"],
                "webhook_id": "BENCHWH1",
                "site_id": published["site_id"],
                "event_time": datetime.now(UTC).isoformat(),
                "data": published["data"],
            }
        )
        return signer.headers(body, event, int(time.time())), body

    return render


class _Store:
    """The claims and recordings, on one connection in one thread of their own (SQLite's
    commit with `synchronous=FULL` waits for the disk: the loop goes on meanwhile)."""

    def __init__(self, path: Path) -> None:
        self._db = _connect(path)
        self._thread = ThreadPoolExecutor(max_workers=1)

    async def claim(self) -> list[Row]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._claim)

    async def record(self, outcomes: list[Outcome]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._record, outcomes)

    def close(self) -> None:
        self._thread.shutdown()
        self._db.close()

    def _claim(self) -> list[Row]:
        now = _micros()
        rows: list[Row] = self._db.execute(_CLAIM_SQL, (now + _LEASE_US, now, _CLAIM)).fetchall()
        return rows

    def _record(self, outcomes: list[Outcome]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany(_DONE_SQL, [(outcome[0],) for outcome in outcomes])
        db.executemany(
            _ATTEMPT_SQL,
            [(id_, 1, started, code, latency) for id_, started, code, latency in outcomes],
        )
        db.execute("COMMIT")


class MinimalConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: a request written whole, its response's status
    read by httptools' parser."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_complete(self) -> None:  # httptools' callback
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionResetError("closed by the receiver"))

    def exchange(self, request: bytes) -> asyncio.Future[int]:
        self._waiter = asyncio.get_running_loop().create_future()
        assert self._transport is not None
        self._transport.write(request)
        return self._waiter


async def _raw_senders(url: str, count: int) -> tuple[list[Send], Callable[[], Awaitable[None]]]:
    """`count` senders, each on a connection of its own, and what closes them."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    start = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()
    loop = asyncio.get_running_loop()
    made = [await loop.create_connection(MinimalConnection, host, port) for _ in range(count)]

    def sender(connection: MinimalConnection) -> Send:
        def send(headers: dict[str, str], body: bytes) -> Awaitable[int]:
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            length = b"Content-Length: %d\r\n\r\n" % len(body)
            return connection.exchange(b"".join((start, head.encode(), length, body)))

        return send

    async def close() -> None:
        for transport, _ in made:
            transport.close()

    return [sender(connection) for _, connection in made], close


async def _aiohttp_senders(
    url: str, count: int
) -> tuple[list[Send], Callable[[], Awaitable[None]]]:
    """`count` senders sharing the raw client's kind of aiohttp session, and its close."""
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=count))

    async def send(headers: dict[str, str], body: bytes) -> int:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    return [send] * count, session.close


class _Drain:
    """Lanes (one per sender) that take claimed deliveries, send each and buffer its
    outcome; a full buffer is recorded while the lanes go on; a claim runs when the claimed
    deliveries run out, one at a time."""

    def __init__(self, store: _Store, render: Render) -> None:
        self._store = store
        self._render = render
        self._claimed: deque[Row] = deque()
        self._claiming = asyncio.Lock()
        self._drained = False
        self._outcomes: list[Outcome] = []
        self._recordings: set[asyncio.Task[None]] = set()
        self.delivered = self.failures = 0

    async def run(self, senders: list[Send]) -> None:
        await asyncio.gather(*(self._lane(send) for send in senders))
        self._flush()
        while self._recordings:
            await asyncio.gather(*self._recordings)

    async def _lane(self, send: Send) -> None:
        claimed, outcomes = self._claimed, self._outcomes
        while claimed or await self._refilled():
            id_, event, stored = claimed.popleft()
            started = _micros()
            headers, body = self._render(event, stored)
            code = await send(headers, body)
            outcomes.append((id_, started, code, _micros() - started))
            self.delivered += 1
            self.failures += code >= 300
            if len(outcomes) >= _RECORD:
                self._flush()

    async def _refilled(self) -> bool:
        async with self._claiming:
            if not self._claimed and not self._drained:
                rows = await self._store.claim()
                self._claimed.extend(rows)
                self._drained = not rows
        return bool(self._claimed)

    def _flush(self) -> None:
        if not self._outcomes:
            return
        batch = self._outcomes[:]
        self._outcomes.clear()  # the lanes hold this list
        task = asyncio.get_running_loop().create_task(self._store.record(batch))
        self._recordings.add(task)
        task.add_done_callback(self._recordings.discard)


async def drain(
    url: str, path: Path, *, concurrency: int, client: str, render: Render
) -> dict[str, Any]:
    """Delivers every pending delivery of `path` to `url`: the figures of the drain."""
    store = _Store(path)
    made = _raw_senders if client == "raw" else _aiohttp_senders
    senders, close = await made(url, concurrency)
    work = _Drain(store, render)
    cpu, wall = time.process_time(), time.perf_counter()
    await work.run(senders)
    result = {
        "deliveries": work.delivered,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "failures": work.failures,
    }
    await close()
    store.close()
    return result


def recorded(path: Path) -> tuple[int, int]:
    """The deliveries recorded as done, and the attempt rows: what a run left durable."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        done = db.execute("SELECT count(*) FROM deliveries WHERE status = 1").fetchone()[0]
        attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    return int(done), int(attempts)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.durable_floor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--secret", default="")
    parser.add_argument("--phase", default="floor")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--wire", choices=("raw", "hookcast"), default="raw")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hookcast-floor-") as work:
        path = Path(work) / "floor.db"
        seed(path, args.count, args.phase, wire=args.wire)
        render = renderer(args.wire, args.secret)
        result = uvloop.run(
            drain(args.url, path, concurrency=args.concurrency, client=args.client, render=render)
        )
        result["recorded"], result["attempts"] = recorded(path)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
