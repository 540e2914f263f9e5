"""A worker's batch of delivery outcomes recorded on SQLite: an attempt per held lease, then
each delivery's new state; and leases handed back unattempted.

BEGIN IMMEDIATE already holds the database's write lock, so each statement checks the lease
itself, the attempt first (before the update clears the lease). A result whose lease is no
longer held changes nothing and logs no attempt.

Each row's parameters are made directly, as stored (timestamps in microseconds, the request
headers as JSON text), and the statements' binds convert nothing and fix no value: built
through the domain's column dicts, merged with the lease and converted per bind, they cost
~3.4 µs per result against ~2.5 (docs/benchmarks.md, target 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, bindparam, exists, insert, select, update
from sqlalchemy.sql import literal_column, null
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import BindParameter

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryResult
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import attempts, deliveries
from hookcast.store.types import dump_json, to_micros

__all__ = ["record_on_sqlite", "release_on_sqlite"]

_PENDING = DeliveryStatus.PENDING


async def record_on_sqlite(tx: Transaction, results: Sequence[DeliveryResult]) -> None:
    """Applies the results whose lease is held, with their attempts."""
    await tx.execute_many(_ATTEMPT_IF_HELD, [_attempt_row(r) for r in results])
    await tx.execute_many(_RETRY, [_retry_row(r) for r in results if r.status is _PENDING])
    await tx.execute_many(_COMPLETE, [_final_row(r) for r in results if r.status is not _PENDING])


async def release_on_sqlite(
    tx: Transaction, leases: Sequence[tuple[str, str]], *, due: int
) -> None:
    """Hands back leased deliveries unattempted, due again at `due` (microseconds)."""
    rows = [{"b_id": id_, "b_token": token, "b_due": due} for id_, token in leases]
    await tx.execute_many(_RELEASE, rows)


def _attempt_row(result: DeliveryResult) -> dict[str, Any]:
    attempt = result.attempt
    return {
        "b_id": attempt.delivery_id,
        "b_number": attempt.number,
        "b_started": to_micros(attempt.started_at),
        "b_headers": dump_json(attempt.request_headers),
        "b_code": attempt.status_code,
        "b_latency": attempt.latency_ms,
        "b_body": attempt.response_body,
        "b_error": attempt.error,
        "b_token": result.lease_token,
    }


def _retry_row(result: DeliveryResult) -> dict[str, Any]:
    return {
        "b_next": to_micros(result.next_attempt_at or result.attempt.started_at),
        "b_code": result.attempt.status_code,
        "b_id": result.delivery_id,
        "b_token": result.lease_token,
    }


def _final_row(result: DeliveryResult) -> dict[str, Any]:
    completed = result.completed_at
    return {
        "b_status": result.status.value,
        "b_code": result.attempt.status_code,
        "b_completed": None if completed is None else to_micros(completed),
        "b_id": result.delivery_id,
        "b_token": result.lease_token,
    }


_ID = bindparam("b_id", type_=String)
_TOKEN = bindparam("b_token", type_=String)
_HELD = and_(deliveries.c.id == _ID, deliveries.c.lease_token == _TOKEN)
_ONE_MORE = deliveries.c.attempts + literal_column("1")
_CODE = bindparam("b_code", type_=Integer)


def _attempt_if_held(_database: str) -> Insert:
    """INSERT INTO attempts (...) SELECT :b_id, ... WHERE EXISTS (the lease is held)"""
    values: dict[str, BindParameter[Any]] = {
        "delivery_id": _ID,
        "number": bindparam("b_number", type_=Integer),
        "started_at": bindparam("b_started", type_=BigInteger),
        "request_headers": bindparam("b_headers", type_=String),
        "status_code": _CODE,
        # Untyped: Float's bind processor converts; the column's REAL affinity does too.
        "latency_ms": bindparam("b_latency"),
        "response_body": bindparam("b_body", type_=String),
        "error": bindparam("b_error", type_=String),
    }
    return insert(attempts).from_select(
        list(values), select(*values.values()).where(exists().where(_HELD))
    )


_ATTEMPT_IF_HELD = Statement(_attempt_if_held)

# A retry leaves the status alone: it is PENDING, or PAUSED if the webhook was disabled while
# the attempt was in flight, and a retry must not resume a paused delivery.
_RETRY = Statement(
    lambda _: (
        update(deliveries)
        .where(_HELD)
        .values(
            attempts=_ONE_MORE,
            next_attempt_at=bindparam("b_next", type_=BigInteger),
            last_status_code=_CODE,
            lease_token=null(),
            lease_worker=null(),
        )
    )
)

_COMPLETE = Statement(
    lambda _: (
        update(deliveries)
        .where(_HELD)
        .values(
            status=bindparam("b_status", type_=String),
            attempts=_ONE_MORE,
            last_status_code=_CODE,
            completed_at=bindparam("b_completed", type_=BigInteger),
            lease_token=null(),
            lease_worker=null(),
        )
    )
)

_RELEASE = Statement(
    lambda _: (
        update(deliveries)
        .where(_HELD)
        .values(
            next_attempt_at=bindparam("b_due", type_=BigInteger),
            lease_token=null(),
            lease_worker=null(),
        )
    )
)
