"""Past days of finished deliveries beside a drain's backlog (PostgreSQL only).

A deployment that keeps 30 days of delivery log has 30 day partitions of finished
deliveries besides today's; a freshly seeded benchmark database has one. `seed_past_days`
makes the difference measurable: for each of the `days` days before today it creates that
day's partitions (as the migration that partitioned the tables made them) and fills the day
with one succeeded delivery, and its attempt, for every delivery pending now, then vacuums
and analyzes them, as autovacuum would have long before, and checkpoints: otherwise
autovacuum and the checkpointer work through the new days during the measured drain, and
their CPU counts as the drain's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hookcast.store.partitions import PARTITIONED, create_sql

_DAY_MICROS = 86_400_000_000

_DELIVERIES = """
    INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,
                            next_attempt_at, created, completed_at, last_status_code)
    SELECT 'dlv_' || left(md5(id || '{n}'), 22), account_id, event_id, webhook_id,
           'succeeded', 1, next_attempt_at - {shift}, created - {shift},
           created - {shift} + 1000000, 204
    FROM deliveries WHERE status = 'pending'
"""
_ATTEMPTS = """
    INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                          latency_ms, response_body)
    SELECT id, 1, completed_at, '{{}}', 204, 1.0, ''
    FROM deliveries WHERE created >= {low} AND created < {high}
"""


def seed_past_days(url: str, days: int) -> None:
    """Fills the `days` days before today with finished deliveries (see the module)."""
    from support.postgres import run_sql  # type: ignore[import-not-found,unused-ignore]

    today = datetime.now(UTC).date()
    statements: list[str] = []
    for n in range(1, days + 1):
        day = today - timedelta(days=n)
        for table in PARTITIONED:
            statements += create_sql(table, day)
        shift = n * _DAY_MICROS
        low = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
        statements.append(_DELIVERIES.format(n=n, shift=shift))
        statements.append(_ATTEMPTS.format(low=low, high=low + _DAY_MICROS))
    if statements:
        run_sql(
            url, *statements, "VACUUM ANALYZE deliveries", "VACUUM ANALYZE attempts", "CHECKPOINT"
        )
