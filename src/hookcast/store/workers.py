"""Workers' heartbeats and the leases of workers that stopped beating.

Every delivering process beats (`beat`) every few seconds; a lease names its worker
(deliveries.lease_worker). `take_back` forgets the workers that have not beaten since
`stale_before` and makes every pending delivery leased to a worker no longer registered due
now, counting a lease loss (and keeping the lease's token in `lost_lease`, by which a
worker that was only stalled disowns it): after a kill -9 the deliveries it held are sent
again within seconds instead of at their lease's expiry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql.dml import Insert

from hookcast.domain.models import DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.due import NEXT_DUE
from hookcast.store.statement import IN_ORDER, Statement
from hookcast.store.tables import deliveries, workers
from hookcast.store.types import Timestamp, from_micros, to_micros

__all__ = [
    "BeatLook",
    "beat",
    "beat_and_look",
    "latest_other_beat",
    "let_expire",
    "register_claimer",
    "resign",
    "take_back",
]


async def beat(tx: Transaction, *, worker_id: str, now: datetime) -> datetime:
    """Registers the worker, or moves its last beat to `now`. Returns when its registration
    began (`workers.started`): later than the worker last saw, it was forgotten meanwhile
    (`take_back`) and registered again, by this beat or by a claim (`register_claimer`)."""
    row = await tx.fetch_one(_BEAT, {"id": worker_id, "started": now, "last_seen": now})
    assert row is not None  # an upsert returns its row
    started: datetime = row[0]
    return started


def _beat(database: str) -> Insert:
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    statement = insert(workers)
    return statement.on_conflict_do_update(
        index_elements=[workers.c.id], set_={"last_seen": statement.excluded.last_seen}
    ).returning(workers.c.started)


_BEAT = Statement(_beat)


@dataclass(frozen=True, slots=True)
class BeatLook:
    """What a beat on PostgreSQL saw beside it (`beat_and_look`): whether another worker
    has been silent since `stale_before`, the pending horizon (store/horizon.py) with the
    day it may move up to (None without its row), when the beating worker's registration
    began (`beat`'s), and the next due time when asked for (store/due.py; None: nothing
    pending, or not asked)."""

    stale: bool
    pending_since: int | None
    horizon_limit: int
    started: datetime
    next_due: datetime | None = None

    @property
    def horizon_behind(self) -> bool:
        """Whether the horizon may move up (horizon.advance has work to look at)."""
        return self.pending_since is not None and self.pending_since < self.horizon_limit


async def beat_and_look(
    tx: Transaction,
    *,
    worker_id: str,
    now: datetime,
    stale_before: datetime | None,
    read_due: bool = False,
) -> BeatLook:
    """PostgreSQL: the beat, whether any other worker is stale and the horizon, in one
    autocommitted statement (one round trip). The beat was a transaction of five (BEGIN,
    the beat, the horizon's read, forgetting the dead, COMMIT): an idle worker's five of
    its six round trips a second. Taking back and moving the horizon, rare, follow in
    transactions of their own only when this says they have work (store/sql_store.py).
    The other worker's row is read in the statement's snapshot, before the beat: this
    worker's own row is left out, so a beat that comes late never finds itself stale.
    The beat's own row comes back through RETURNING: when its registration began, which
    tells a worker whether it was forgotten since its last beat (`beat`).

    With `read_due`, the statement also reads the next due time (store/due.py's read,
    as a scalar subquery of the same snapshot): an idle worker's look, which was a round
    trip of its own every second beside the beat's."""
    stale = None if stale_before is None else to_micros(stale_before)
    statement = _beat_look_and_due() if read_due else _BEAT_AND_LOOK
    row = await tx.fetch_one(statement, {IN_ORDER: (worker_id, to_micros(now), stale)})
    assert row is not None  # one row whatever the tables hold
    return BeatLook(
        stale=bool(row[0]),
        pending_since=None if row[1] is None else int(row[1]),
        horizon_limit=int(row[2]),
        started=from_micros(row[3]),
        next_due=from_micros(row[4]) if read_due and row[4] is not None else None,
    )


# A data-modifying CTE runs to its end whether or not the query reads it. The horizon's
# limit is horizon.py's (the start of the day an hour ago, by the database's clock).
_BEAT_AND_LOOK_SQL = """WITH beat AS (
    INSERT INTO workers (id, started, last_seen) VALUES ($1, $2, $2)
    ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen
    RETURNING started
)
SELECT
    EXISTS (SELECT FROM workers WHERE last_seen < $3::bigint AND id <> $1),
    delivery_horizon.pending_since,
    CAST(floor(extract(epoch FROM now() - interval '1 hour') / 86400) AS bigint) * 86400000000,
    (SELECT started FROM beat){}
FROM (SELECT) AS one LEFT JOIN delivery_horizon ON true"""
_BEAT_AND_LOOK = Statement.written("postgresql", _BEAT_AND_LOOK_SQL.format(""))


@functools.cache
def _beat_look_and_due() -> Statement:
    """`_BEAT_AND_LOOK` with store/due.py's read as a fifth column: its SQL as compiled
    for the read itself (constants only, no parameters), so the two cannot drift apart.
    Compiled on first use, as every statement is."""
    due = NEXT_DUE.compiled(PGDialect_asyncpg()).sql  # type: ignore[no-untyped-call]
    return Statement.written("postgresql", _BEAT_AND_LOOK_SQL.format(f",\n    ({due})"))


async def latest_other_beat(tx: Transaction, *, worker_id: str, since: datetime) -> datetime | None:
    """The latest beat of a registered worker other than `worker_id` at or after `since`
    (None: every other one is silent since)."""
    row = await tx.fetch_one(_LATEST_OTHER, {"b_worker": worker_id, "b_since": since})
    latest: datetime | None = None if row is None else row[0]
    return latest


_LATEST_OTHER = Statement(
    lambda _: select(func.max(workers.c.last_seen)).where(
        workers.c.id != bindparam("b_worker", type_=String),
        workers.c.last_seen >= bindparam("b_since", type_=Timestamp),
    )
)


async def resign(tx: Transaction, *, worker_id: str) -> None:
    """Dates the worker's last beat at the epoch: stale to every look from now on, it is
    forgotten, and what it still holds taken back, by the next `take_back`."""
    await tx.execute(_RESIGN, {"b_worker": worker_id, "b_epoch": _EPOCH})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESIGN = Statement(
    lambda _: (
        update(workers)
        .where(workers.c.id == bindparam("b_worker", type_=String))
        .values(last_seen=bindparam("b_epoch", type_=Timestamp))
    )
)


async def let_expire(
    tx: Transaction, *, worker_id: str, running: Callable[[str], bool] | None
) -> int:
    """Unnames the pending leases of the other registered workers for which `running` is
    true, tokens and expiries kept: `take_back` leaves them alone, a claim takes them once
    they expire, and until then their worker, stalled, may still record what it sent under
    them. Taken back now, a request in flight at the stall was sent again at once, and the
    first process, resumed, had sent it too (docs/operations.md). Returns how many."""
    if running is None:
        return 0
    others = await tx.fetch_all(_OTHERS, {"b_worker": worker_id})
    # One statement per worker (one, as a rule): each reads every pending row (take_back's).
    return sum(
        [await tx.execute(_UNNAME, {"b_worker": row[0]}) for row in others if running(row[0])]
    )


_OTHERS = Statement(
    lambda _: select(workers.c.id).where(workers.c.id != bindparam("b_worker", type_=String))
)
_UNNAME = Statement(
    lambda _: (
        update(deliveries)
        .where(
            deliveries.c.status == DeliveryStatus.PENDING.value,
            deliveries.c.lease_worker == bindparam("b_worker", type_=String),
        )
        .values(lease_worker=None)
    )
)


async def take_back(tx: Transaction, *, now: datetime, stale_before: datetime) -> int:
    """Forgets workers last seen before `stale_before`; makes the pending deliveries leased
    to unregistered workers due at `now`. Returns how many were taken back.

    No index holds `lease_worker` (migration 0018), so finding those deliveries reads every
    pending row: done only when a worker was forgotten just now. A lease names a registered
    worker whenever it is taken (`register_claimer`), so leases of unregistered workers
    appear only when a worker is forgotten: every beat of every worker read the backlog
    before (12 ms for 20,000 pending rows, four times a second with two workers)."""
    if not await tx.fetch_all(_FORGET, {"b_stale": stale_before}):
        return 0
    return await tx.execute(_TAKE_BACK, {"b_now": now})


_FORGET = Statement(
    lambda _: (
        delete(workers)
        .where(workers.c.last_seen < bindparam("b_stale", type_=Timestamp))
        .returning(workers.c.id)
    )
)


def register_claimer(database: str) -> Insert:
    """Registers `b_worker` as seen at `b_now` unless it is registered (or None): a worker
    that claims before it ever beat, or after it was forgotten while alive, is known, so
    its leases are taken back once it stops. Beside a registered worker it writes nothing."""
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    worker = bindparam("b_worker", type_=String)
    now = bindparam("b_now", type_=Timestamp)
    return (
        insert(workers)
        .from_select(
            ["id", "started", "last_seen"], select(worker, now, now).where(worker.is_not(None))
        )
        .on_conflict_do_nothing(index_elements=[workers.c.id])
    )


_TAKE_BACK = Statement(
    lambda _: (
        update(deliveries)
        .where(
            # Through the pending rows: no index holds lease_worker, or every claim would
            # add an entry to it (migration 0018).
            deliveries.c.status == DeliveryStatus.PENDING.value,
            deliveries.c.lease_worker.is_not(None),
            deliveries.c.lease_worker.not_in(select(workers.c.id)),
        )
        .values(
            next_attempt_at=bindparam("b_now", type_=Timestamp),
            lease_token=None,
            lease_worker=None,
            lease_until=None,
            lease_losses=deliveries.c.lease_losses + 1,
            # Whose loss it is: the worker, if it comes back alive, disowns it by this
            # token for what it held queued (store/deliveries.py disown_losses).
            lost_lease=deliveries.c.lease_token,
        )
    )
)
