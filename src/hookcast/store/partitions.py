"""Time partitions of the delivery log on PostgreSQL (SQLite keeps plain tables).

`deliveries` is partitioned by `created` and `attempts` by `started_at`, one partition per
UTC day (`deliveries_20261205`), plus a default partition that takes any row no day holds
(a day nobody created in time). Migration 0016 converts the tables; `migrate` and every
retention pass create the coming days ahead. Retention drops a day once it is wholly past
the cut-off and holds no unfinished delivery: no row is deleted one by one, so the cost is
a catalog change, not a DELETE and its WAL for every row (docs/scaling.md has the numbers).
Each day is dropped in a transaction of its own (store/operations.py `drop_old_days`).

A day's attempts belong to deliveries created that day or before, so an attempts day is
dropped only once no delivery created before its end remains.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text

from hookcast.domain.models import DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.tables import metadata, statistics_targets
from hookcast.store.types import to_micros

__all__ = [
    "AHEAD_DAYS",
    "PARTITIONED",
    "create_ahead",
    "create_sql",
    "day_start",
    "drop_attempts_day",
    "drop_delivery_day",
    "due_days",
    "partition_name",
    "take_the_days",
]

_log = logging.getLogger(__name__)

# Table -> the timestamp it is partitioned by.
PARTITIONED = {"deliveries": "created", "attempts": "started_at"}
AHEAD_DAYS = 7  # days created ahead: a week without a retention pass or a migrate is fine
# Creating or dropping a partition locks its parent: wait briefly, else try next pass.
_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = '2s'")
# As migration 0016 sets on the tables it partitions (autovacuum's default is 10%).
ANALYZE_AFTER = "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"
# Each table's storage parameters: a delivery day fills its pages to 40%, leaving room for
# the claimed versions of their rows beside them (a HOT update; migration 0018 says why).
_STORAGE = {"deliveries": f"{ANALYZE_AFTER}, fillfactor = 40", "attempts": ANALYZE_AFTER}
# Each table's columns with a statistics target of their own (tables.py: none on documents,
# UNANALYZED, migration 0022; the deliveries' 10, migration 0024): a partition does not take
# its parent's statistics targets, so each day's are set here.
_TARGETS = {table: statistics_targets(metadata.tables[table]) for table in PARTITIONED}
_UNFINISHED = tuple(
    status.value
    for status in (DeliveryStatus.PENDING, DeliveryStatus.PAUSED, DeliveryStatus.WAITING)
)


# The advisory lock (b"hookdays" as an integer) of the pass creating and dropping days.
_DAYS_LOCK = text("SELECT pg_try_advisory_xact_lock(7525356009395681651)")


async def take_the_days(tx: Transaction) -> bool:
    """Whether this transaction may create and drop days: no other pass is (the lock is held
    until it ends). Two passes dropping one day deadlocked: each checked the day (its
    partition, ACCESS SHARE) and then waited for `deliveries`' ACCESS EXCLUSIVE, which
    reaches the partition the other had checked; PostgreSQL rolled one back after 1 s
    (tests/contract/test_store_delivery_lock_order.py). A pass finding the lock taken
    leaves the days to the one holding it instead of waiting for it: that one does them."""
    row = await tx.fetch_one(_DAYS_LOCK)
    return bool(row and row[0])


def day_start(moment: datetime) -> datetime:
    """The start (00:00 UTC) of `moment`'s day."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def _bounds(day: date) -> tuple[int, int]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return to_micros(start), to_micros(start + timedelta(days=1))


def create_sql(table: str, day: date) -> list[str]:
    """The statements that add `day` to `table` (a plain table attached as a partition:
    ATTACH locks the parent less than CREATE ... PARTITION OF would), analyzed while empty
    so the planner sizes it by its pages, never by a guess (store/statistics.py says why)."""
    name = partition_name(table, day)
    low, high = _bounds(day)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {name} (LIKE {table} INCLUDING DEFAULTS) "
        f"WITH ({_STORAGE[table]})"
    ]
    if _TARGETS[table]:
        changes = (
            f"ALTER COLUMN {column} SET STATISTICS {int(target)}"
            for column, target in _TARGETS[table].items()
        )
        statements.append(f"ALTER TABLE {name} {', '.join(changes)}")
    return [
        *statements,
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})",
        f"ANALYZE {name}",
    ]


_DAYS = text("""
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
    WHERE parent.relname = :parent AND child.relname ~ '_[0-9]{8}$'
""")


async def _days(tx: Transaction, table: str) -> dict[date, str]:
    """The day partitions `table` has, by day."""
    rows = await tx.fetch_all(_DAYS, {"parent": table})
    return {datetime.strptime(name[-8:], "%Y%m%d").date(): name for (name,) in rows}


async def create_ahead(tx: Transaction, *, now: datetime, days: int = AHEAD_DAYS) -> int:
    """Creates the partitions of the `days` days from tomorrow each table lacks; how many.
    Days from tomorrow only: today's rows may already be in the default partition."""
    created = 0
    await tx.execute(_LOCK_TIMEOUT)
    for table in PARTITIONED:
        have = await _days(tx, table)
        for offset in range(1, days + 1):
            day = (now + timedelta(days=offset)).astimezone(UTC).date()
            if day not in have:
                for statement in create_sql(table, day):
                    await tx.execute(text(statement))
                created += 1
    return created


async def due_days(tx: Transaction, table: str, *, before: datetime) -> list[date]:
    """The days `table` has a partition of wholly before `before`, oldest first: what a pass
    may drop, one transaction each (`drop_delivery_day`, `drop_attempts_day`)."""
    cut = to_micros(before)
    return sorted(day for day in await _days(tx, table) if _bounds(day)[1] <= cut)


async def drop_delivery_day(tx: Transaction, day: date) -> int:
    """Drops `day`'s delivery partition unless it holds an unfinished delivery (it is then
    kept, its finished rows deleted one by one: see operations.prune_before) or is gone
    already (another pass dropped it since this one listed it); how many deliveries it held.
    Its own transaction, holding the days' lock (`take_the_days`): the DROP's lock on
    `deliveries` stops every publish and claim until the commit, so it is held for one
    day's second check, never for the next day's checks as well."""
    name = partition_name("deliveries", day)
    await tx.execute(_LOCK_TIMEOUT)
    if not await _exists(tx, name):
        return 0
    unfinished = text(_ANY_UNFINISHED.format(name=name))
    if await tx.fetch_one(unfinished) is not None:
        return 0
    row = await tx.fetch_one(text(f"SELECT count(*) FROM {name}"))  # noqa: S608
    # The check again, under the lock DROP takes anyway (the parent's, which every writer
    # of deliveries takes first): a manual retry, replay, recovery or release of held
    # deliveries that made one of the day's unfinished after the check above committed
    # before the DROP got its lock, and the day was dropped with it (a replayed ordered
    # delivery left its chain headed by a delivery that no longer was: the resource's
    # later deliveries waited for ever; tests/contract/test_store_delivery_lock_order.py).
    # Only a day that passed unlocked is checked under the lock: one kept for an
    # unfinished delivery costs no write a wait.
    await tx.execute(_LOCK_DELIVERIES)
    if await tx.fetch_one(unfinished) is not None:
        return 0
    await tx.execute(text(f"DROP TABLE {name}"))
    return int(row[0]) if row else 0


async def drop_attempts_day(tx: Transaction, day: date) -> bool:
    """Drops `day`'s attempts partition once no remaining delivery can own its rows (one
    created before its end): whether the day is gone, so that the next may go too. Its own
    transaction, as `drop_delivery_day`'s: DROP locks `attempts` (every recording waits)."""
    name = partition_name("attempts", day)
    await tx.execute(_LOCK_TIMEOUT)
    if not await _exists(tx, name):
        return True
    if await _owners_remain(tx, _bounds(day)[1]):
        return False
    await tx.execute(text(f"DROP TABLE {name}"))
    return True


_EXISTS = text("SELECT to_regclass(:name) IS NOT NULL")


async def _exists(tx: Transaction, name: str) -> bool:
    """Whether partition `name` is still there: only a pass holding the days' lock drops one,
    so the answer holds for the transaction."""
    row = await tx.fetch_one(_EXISTS, {"name": name})
    return bool(row and row[0])


# Names come from the catalog (day partitions), never from input.
_STATUSES = ", ".join(f"'{status}'" for status in _UNFINISHED)
_ANY_UNFINISHED = "SELECT 1 FROM {name} WHERE status IN (" + _STATUSES + ") LIMIT 1"  # noqa: S608
_LOCK_DELIVERIES = text("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")
_OWNER = text("SELECT 1 FROM deliveries WHERE created < :high LIMIT 1")


async def _owners_remain(tx: Transaction, high: int) -> bool:
    """Whether a delivery created before `high` (µs) remains: its attempts may be there."""
    return await tx.fetch_one(_OWNER, {"high": high}) is not None
