"""SQLite's narrow claim and its recording, which builds its rows as
stored, against the general path: a claimed delivery is the row as `delivery_from_row`
reads it, and the recorded rows are what the columns' own types store."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import sqlite

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore
from hookcast.store.rows import delivery_from_row
from hookcast.store.tables import deliveries
from hookcast.store.types import JsonText, Timestamp
from support import factories as make

_SQLITE = sqlite.dialect()


@pytest.fixture
def sqlite_path(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's own claim and recording")
    return database_url.removeprefix("sqlite:///")


async def test_claimed_and_recorded_rows_are_as_the_general_path_has_them(
    store: SqlStore, sqlite_path: str
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    odd = timedelta(microseconds=7)
    published = [make.event(acme.id, created=make.later(i) + odd) for i in range(4)]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(
        now=make.later(9) + odd, limit=10, lease_seconds=30.0000015, worker_id="w1"
    )
    engine = create_engine(f"sqlite:///{sqlite_path}")
    with engine.connect() as conn:
        rows = {r["id"]: r for r in conn.execute(select(deliveries)).mappings()}
    leased = [delivery_from_row(rows[c.delivery_id]) for c in claimed]
    assert [c[:6] for c in claimed] == [
        (d.id, d.account_id, d.event_id, d.webhook_id, d.attempts, d.created) for d in leased
    ]

    at = make.later(10) + timedelta(microseconds=999)
    first, second, third, fourth = sorted(claimed, key=lambda c: c.created)
    custom = make.succeeded(first, at=at)
    headers = {"Authorization": "[redacted]", "X-Ünï": "😀 \u2028", "webhook-id": first.delivery_id}
    custom = replace(
        custom,
        attempt=replace(custom.attempt, request_headers=headers, response_body="é😀", latency_ms=5),
    )
    results = [
        custom,
        make.retry_later(second, retry_at=at + timedelta(seconds=5, microseconds=1), at=at),
        make.gave_up(third, at=at),
        replace(make.succeeded(fourth, at=at), lease_token="a stale worker's"),
    ]
    await store.record_results(results, [])

    raw = sqlite3.connect(sqlite_path)
    stored = {
        row[0]: row[1:]
        for row in raw.execute(
            "SELECT delivery_id, number, started_at, request_headers, status_code, latency_ms,"
            " response_body, error FROM attempts"
        )
    }
    timestamp, json = Timestamp(), JsonText()
    expected = {
        r.delivery_id: (
            r.attempt.number,
            timestamp.process_bind_param(r.attempt.started_at, _SQLITE),
            json.process_bind_param(r.attempt.request_headers, _SQLITE),
            r.attempt.status_code,
            float(r.attempt.latency_ms),
            r.attempt.response_body,
            r.attempt.error,
        )
        for r in results[:3]
    }
    assert stored == expected
    states = {
        row[0]: row[1:]
        for row in raw.execute(
            "SELECT id, status, attempts, next_attempt_at, lease_token, lease_worker,"
            " last_status_code, completed_at FROM deliveries"
        )
    }
    micros = timestamp.process_bind_param
    assert states[first.delivery_id] == (
        "succeeded",
        1,
        micros(first.created, _SQLITE),
        None,
        None,
        200,
        micros(at, _SQLITE),
    )
    assert states[second.delivery_id] == (
        "pending",
        1,
        micros(at + timedelta(seconds=5, microseconds=1), _SQLITE),
        None,
        None,
        503,
        None,
    )
    assert states[third.delivery_id][:2] == (DeliveryStatus.FAILED.value, 1)
    assert states[fourth.delivery_id][:2] == ("pending", 0)  # the stale outcome changed nothing
    assert states[fourth.delivery_id][3:5] == (fourth.lease_token, "w1")
