"""The delivery queues benchmarks.pg_floor measures: each one's tables, seed, claim and
recording in plain SQL, and how a claimer drives them through asyncpg (benchmarks/pg_floor.py
says what each design is and why it is there).

Every recording statement takes one batch: $1 its delivery ids, $2 what proves the lease
(the claimer's number, a token or a lease row's id; not in every design), then the
attempts' columns as arrays.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LEASE_SECONDS = 60
EVENT_BYTES = 600  # about a video platform's event payload
# HookCast's compact request headers of a JW Player delivery (store/stored_headers.py).
HEADERS = '[[0,1],[2,3],[4,"v1,abc"],[5,6],[7,8]]'

_ATTEMPTS = """
CREATE TABLE attempts (
    delivery_id bigint NOT NULL, number int NOT NULL, started_at timestamptz NOT NULL,
    status_code int, latency_ms real, headers text, final boolean NOT NULL,
    PRIMARY KEY (delivery_id, number))
"""
# The pending table's pages keep room for the claimed version of each row (HookCast's day
# partitions: 40%, migration 0018), so a claim's lease update stays HOT.
_SCHEMAS: dict[str, tuple[str, ...]] = {
    "minimal": (
        "CREATE TABLE deliveries (id bigint PRIMARY KEY, due timestamptz NOT NULL,"
        " status smallint NOT NULL DEFAULT 0, lease_until timestamptz, lease_owner int)"
        " WITH (fillfactor = 40)",
        "CREATE INDEX deliveries_due ON deliveries (due) WHERE status = 0",
    ),
    "narrow": (
        "CREATE TABLE pending (id bigint PRIMARY KEY, due timestamptz NOT NULL,"
        " lease_until timestamptz, lease_owner int) WITH (fillfactor = 40)",
        "CREATE INDEX pending_due ON pending (due)",
        _ATTEMPTS,
    ),
    "held": (
        "CREATE TABLE pending (id bigint PRIMARY KEY, due timestamptz NOT NULL)",
        "CREATE INDEX pending_due ON pending (due)",
        _ATTEMPTS,
    ),
    "moved": (
        "CREATE TABLE pending (id bigint PRIMARY KEY, due timestamptz NOT NULL)",
        "CREATE INDEX pending_due ON pending (due)",
        "CREATE TABLE leases (id bigserial PRIMARY KEY, owner int NOT NULL,"
        " until timestamptz NOT NULL, ids bigint[] NOT NULL)",
        _ATTEMPTS,
    ),
}
_SCHEMAS["attempts"] = (*_SCHEMAS["minimal"], _ATTEMPTS)
# HookCast's own rows and indexes (store/tables.py after migration 0019: text ids, times in
# microseconds, the eight indexes of a day partition), in one table rather than a
# partition per day: what the schema costs, without HookCast's statements.
_SCHEMAS["shaped"] = (
    """CREATE TABLE deliveries (
        id varchar(40) NOT NULL, account_id varchar(32) NOT NULL,
        event_id varchar(64) NOT NULL, webhook_id varchar(32) NOT NULL,
        status varchar(16) NOT NULL, attempts int NOT NULL, next_attempt_at bigint NOT NULL,
        lease_token varchar(64), last_status_code int, created bigint NOT NULL,
        completed_at bigint, lease_worker varchar(64), lease_losses int NOT NULL DEFAULT 0,
        resource_key varchar(200), sequence bigint, coalesce_key varchar(300),
        lease_until bigint, PRIMARY KEY (id, created), UNIQUE (event_id, webhook_id, created))
        WITH (fillfactor = 40)""",
    "CREATE INDEX ON deliveries (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX ON deliveries (account_id, next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX ON deliveries (webhook_id, created)",
    "CREATE INDEX ON deliveries (webhook_id, created) WHERE status = 'held'",
    "CREATE INDEX ON deliveries (webhook_id, coalesce_key, sequence)"
    " WHERE coalesce_key IS NOT NULL",
    "CREATE INDEX ON deliveries (webhook_id, resource_key, sequence) WHERE status = 'waiting'",
    """CREATE TABLE attempts (
        id bigserial, delivery_id varchar(40) NOT NULL, number int NOT NULL,
        started_at bigint NOT NULL, request_headers text NOT NULL, status_code int,
        latency_ms float8 NOT NULL, response_body text NOT NULL, error text,
        PRIMARY KEY (delivery_id, id, started_at))""",
    "CREATE TABLE events (id varchar(64) PRIMARY KEY, body text NOT NULL)",
    f"INSERT INTO events SELECT 'backlog-' || lpad(g::text, 7, '0'), repeat('x', {EVENT_BYTES})"
    " FROM generate_series(1, $1) g",
)
# HookCast's rows with only the indexes the queue itself reads (its key and the due index):
# how much of `shaped` the other six indexes are.
_SCHEMAS["shaped_lean"] = tuple(
    statement.replace(", UNIQUE (event_id, webhook_id, created)", "")
    for statement in _SCHEMAS["shaped"]
    if not statement.startswith("CREATE INDEX") or "(next_attempt_at)" in statement
)
# HookCast's rows with completions that touch no index (the design
# docs/benchmarks/postgres-delivery.md's "A table of the pending deliveries" built with triggers),
# here in plain statements: the due indexes on a narrow table of the pending deliveries, which also
# holds the lease; the held and waiting indexes on a column a completion leaves as it is (`parked`),
# so that pending -> succeeded is a HOT update of the delivery's row.
_SCHEMAS["shaped_hot"] = (
    *(
        statement.replace("WHERE status = 'held'", "WHERE parked = 'held'")
        .replace("WHERE status = 'waiting'", "WHERE parked = 'waiting'")
        .replace("lease_until bigint, PRIMARY", "lease_until bigint, parked varchar(16), PRIMARY")
        for statement in _SCHEMAS["shaped"]
        if "WHERE status = 'pending'" not in statement
    ),
    """CREATE TABLE pending (
        id varchar(40) NOT NULL, created bigint NOT NULL, account_id varchar(32) NOT NULL,
        next_attempt_at bigint NOT NULL, lease_token varchar(64), lease_until bigint,
        PRIMARY KEY (id, created)) WITH (fillfactor = 50)""",
    "CREATE INDEX ON pending (next_attempt_at)",
    "CREATE INDEX ON pending (account_id, next_attempt_at)",
)
_SEED = {
    "shaped_hot": "INSERT INTO pending (id, created, account_id, next_attempt_at)"
    " SELECT id, created, account_id, next_attempt_at FROM deliveries",
    "shaped": "INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts,"
    " next_attempt_at, created) SELECT 'dlv_' || md5(g::text)::varchar(22), 'BaFiyadE',"
    " 'backlog-' || lpad(g::text, 7, '0'), '40tiEU8C', 'pending', 0, t + g, t + g"
    " FROM generate_series(1, $1) g,"
    " (SELECT (extract(epoch FROM now()) * 1e6)::bigint - 60000000 AS t) now",
    "minimal": "INSERT INTO deliveries (id, due) SELECT g, now() - interval '1 minute'"
    " + g * interval '1 microsecond' FROM generate_series(1, $1) g",
    "pending": "INSERT INTO pending (id, due) SELECT g, now() - interval '1 minute'"
    " + g * interval '1 microsecond' FROM generate_series(1, $1) g",
}

# What a worker must send: each delivery's event, read by its key after each claim (one
# statement per claim; HookCast's claim probes the events in its own statement).
_EVENTS = (
    "CREATE TABLE events (id bigint PRIMARY KEY, body text NOT NULL)",
    f"INSERT INTO events SELECT g, repeat('x', {EVENT_BYTES}) FROM generate_series(1, $1) g",
)
_READ_EVENTS = "SELECT id, body FROM events WHERE id = ANY($1::bigint[])"

# Claims of the designs that lease by an update: the chosen rows are probed by their key.
_CLAIM_LEASE = """
UPDATE {table} SET lease_until = now() + interval '{lease} seconds', lease_owner = $1
WHERE id = ANY(ARRAY(
    SELECT id FROM {table}
    WHERE {pending} due <= now() AND (lease_until IS NULL OR lease_until < now())
    ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id
"""
_CLAIM: dict[str, str] = {
    "minimal": _CLAIM_LEASE.format(
        table="deliveries", lease=LEASE_SECONDS, pending="status = 0 AND"
    ),
    "narrow": _CLAIM_LEASE.format(table="pending", lease=LEASE_SECONDS, pending=""),
    "shaped": """
UPDATE deliveries SET lease_token = $1, lease_worker = $1, lease_until = $4
WHERE id = ANY(ARRAY(
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $3
        AND (lease_until IS NULL OR lease_until < $3)
    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id, event_id, webhook_id, attempts, created
""",
    "shaped_hot": """
UPDATE pending SET lease_token = $1, lease_until = $4
WHERE id = ANY(ARRAY(
    SELECT id FROM pending
    WHERE next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id, created, (SELECT event_id FROM deliveries d
    WHERE d.id = pending.id AND d.created = pending.created) AS event_id
""",
    "held": """
SELECT id FROM pending p
WHERE due <= now() AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = p.id)
ORDER BY due LIMIT $1 FOR UPDATE SKIP LOCKED
""",
    "moved": f"""
WITH taken AS (
    DELETE FROM pending WHERE id = ANY(ARRAY(
        SELECT id FROM pending WHERE due <= now()
        ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING id)
INSERT INTO leases (owner, until, ids)
SELECT $1, now() + interval '{LEASE_SECONDS} seconds', array_agg(id) FROM taken
HAVING count(*) > 0
RETURNING id, ids
""",
}
# The attempt rows of a recorded batch, from its arrays: $1 the ids, $3-$5 the attempts'
# columns ($2 is the lease's owner or id, in the statements that check it).
_NEW_ATTEMPTS = """
INSERT INTO attempts (delivery_id, number, started_at, status_code, latency_ms, headers, final)
SELECT r.id, 1, r.started, 204, r.latency, r.headers, true
FROM unnest($1::bigint[], $3::timestamptz[], $4::real[], $5::text[])
    AS r(id, started, latency, headers)
"""
_RECORD = {
    "shaped_hot": """
WITH gone AS (
    DELETE FROM pending WHERE id = ANY($1::text[]) AND lease_token = $2
    RETURNING id, created),
done AS (
    UPDATE deliveries d SET status = 'succeeded', attempts = d.attempts + 1,
        last_status_code = 204, completed_at = $6
    FROM gone WHERE d.id = gone.id AND d.created = gone.created RETURNING d.id)
INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                      latency_ms, response_body, error)
SELECT r.id, 1, r.started, r.headers, 204, r.latency, '', NULL
FROM unnest($1::text[], $3::bigint[], $4::float8[], $5::text[])
    AS r(id, started, latency, headers)
JOIN done USING (id)
""",
    "shaped": """
WITH done AS (
    UPDATE deliveries d SET status = 'succeeded', attempts = d.attempts + 1,
        last_status_code = 204, completed_at = $6, lease_token = NULL, lease_worker = NULL,
        lease_until = NULL
    WHERE d.id = ANY($1::text[]) AND d.lease_token = $2 RETURNING d.id)
INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                      latency_ms, response_body, error)
SELECT r.id, 1, r.started, r.headers, 204, r.latency, '', NULL
FROM unnest($1::text[], $3::bigint[], $4::float8[], $5::text[])
    AS r(id, started, latency, headers)
JOIN done USING (id)
""",
    "minimal": "UPDATE deliveries SET status = 1, lease_until = NULL"
    " WHERE id = ANY($1::bigint[]) AND lease_owner = $2",
    "attempts": f"""
WITH done AS (
    UPDATE deliveries SET status = 1, lease_until = NULL
    WHERE id = ANY($1::bigint[]) AND lease_owner = $2 RETURNING id)
{_NEW_ATTEMPTS} JOIN done USING (id)
""",
    "narrow": f"""
WITH done AS (
    DELETE FROM pending WHERE id = ANY($1::bigint[]) AND lease_owner = $2 RETURNING id)
{_NEW_ATTEMPTS} JOIN done USING (id)
""",
    # The claim's transaction holds the rows: the attempts alone.
    "held": _NEW_ATTEMPTS.replace("$3", "$2").replace("$4", "$3").replace("$5", "$4"),
    # Only while the lease row is there; the claim's last batch ($2 < 0) deletes it.
    "moved": f"""
WITH lease AS (SELECT id FROM leases WHERE id = abs($2::bigint)),
gone AS (DELETE FROM leases WHERE id = -$2::bigint)
{_NEW_ATTEMPTS} WHERE EXISTS (SELECT 1 FROM lease)
""",
}
for _statements in (_SEED, _CLAIM, _RECORD):
    _statements["shaped_lean"] = _statements["shaped"]


def _bigint_keys(statement: str) -> str:
    """`shaped`'s statement with bigint ids for deliveries, events, webhooks and accounts."""
    for text, number in (
        (
            "id varchar(40) NOT NULL, account_id varchar(32)",
            "id bigint NOT NULL, account_id bigint",
        ),
        (
            "event_id varchar(64) NOT NULL, webhook_id varchar(32)",
            "event_id bigint NOT NULL, webhook_id bigint",
        ),
        ("delivery_id varchar(40)", "delivery_id bigint"),
        (
            "account_id varchar(32) NOT NULL, next_attempt_at",
            "account_id bigint NOT NULL, next_attempt_at",
        ),
        ("events (id varchar(64)", "events (id bigint"),
        ("'backlog-' || lpad(g::text, 7, '0'), repeat", "g, repeat"),
        (
            "'dlv_' || md5(g::text)::varchar(22), 'BaFiyadE',"
            " 'backlog-' || lpad(g::text, 7, '0'), '40tiEU8C'",
            "g, 1, g, 1",
        ),
        ("$1::text[]", "$1::bigint[]"),
    ):
        statement = statement.replace(text, number)
    return statement


# HookCast's rows and indexes with numbers for ids: how much of `shaped` its text keys are.
_SCHEMAS["shaped_bigint"] = tuple(_bigint_keys(statement) for statement in _SCHEMAS["shaped"])
for _statements in (_SEED, _CLAIM, _RECORD):
    _statements["shaped_bigint"] = _bigint_keys(_statements["shaped"])


# HookCast's rows with their text keys compared as bytes (COLLATE "C", migration 0021)
# instead of through the database's locale (strcoll for any but "C"/"POSIX", C.UTF-8 too).
def _in_byte_order(statement: str) -> str:
    return re.sub(r"varchar\((\d+)\)", r'varchar(\1) COLLATE "C"', statement)


_SCHEMAS["shaped_c"] = tuple(_in_byte_order(statement) for statement in _SCHEMAS["shaped"])
for _statements in (_SEED, _CLAIM, _RECORD):
    _statements["shaped_c"] = _statements["shaped"]


# The redesign the floor's conclusion priced by estimate, on HookCast's rows as they are
# (`shaped_c`: its text keys in byte order, migration 0021): each delivery's full row
# written once at publish and not updated when it succeeds, and a narrow table of the
# pending deliveries (a bigint identity key, the account, the due time, the lease) that the
# claim chooses from and leases and a success deletes, its attempt appended in the same
# statement. A succeeded delivery's status, attempt count and completion time are then the
# absence of its pending row and its last attempt (retries, failures and holds would still
# update the row). The deliveries' two due indexes go: the queue no longer reads them.
# `shaped_narrow`'s pending rows carry what a claim returns (the delivery's key, event,
# webhook and attempt count); `shaped_narrow_probe`'s carry the delivery's key alone, and
# the claim probes the delivery row for the rest. `_bigint` variants: bigint ids for the
# delivery, its event, webhook and account (as `shaped_bigint` against `shaped`).
def _pending_table(*, carried: bool) -> tuple[str, ...]:
    ids = "event_id varchar(64) NOT NULL, webhook_id varchar(32) NOT NULL, attempts int NOT NULL,"
    return (
        f"""CREATE TABLE pending (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id varchar(40) NOT NULL, created bigint NOT NULL, {ids if carried else ""}
        account_id varchar(32) NOT NULL, next_attempt_at bigint NOT NULL,
        lease_token varchar(64), lease_worker varchar(64), lease_until bigint)
        WITH (fillfactor = 50)""",
        "CREATE INDEX ON pending (next_attempt_at)",
        "CREATE INDEX ON pending (account_id, next_attempt_at)",
        # a delivery's pending row found by the delivery: its status read, a retry's move
        "CREATE INDEX ON pending (delivery_id)",
    )


def _pending_seed(*, carried: bool) -> str:
    columns = "delivery_id, created, account_id, next_attempt_at"
    if carried:
        columns += ", event_id, webhook_id, attempts"
    return (
        f"INSERT INTO pending ({columns}) SELECT {columns.replace('delivery_id', 'id')}"
        " FROM deliveries ORDER BY next_attempt_at"
    )


_LEASE_PENDING = """
UPDATE pending SET lease_token = $1, lease_worker = $1, lease_until = $4
WHERE id = ANY(ARRAY(
    SELECT id FROM pending
    WHERE next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
"""
_NARROW_CLAIM = {
    True: f"{_LEASE_PENDING}RETURNING id, delivery_id, event_id, webhook_id, attempts, created",
    # the leased rows' deliveries probed by their key (id, created), neither locked nor updated
    False: f"""
WITH leased AS ({_LEASE_PENDING}RETURNING id, delivery_id, created)
SELECT l.id, l.delivery_id, l.created, d.event_id, d.webhook_id, d.attempts
FROM leased l JOIN deliveries d ON d.id = l.delivery_id AND d.created = l.created
""",
}
# A success: the pending rows deleted while the lease is the claimer's, their attempts
# appended (HookCast's attempt row, keyed by the delivery's id); the delivery row untouched.
_NARROW_RECORD = """
WITH gone AS (
    DELETE FROM pending WHERE id = ANY($1::bigint[]) AND lease_token = $2
    RETURNING id, delivery_id)
INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                      latency_ms, response_body, error)
SELECT gone.delivery_id, 1, r.started, r.headers, 204, r.latency, '', NULL
FROM unnest($1::bigint[], $3::bigint[], $4::float8[], $5::text[])
    AS r(id, started, latency, headers)
JOIN gone USING (id)
"""

_NARROW = (
    "shaped_narrow",
    "shaped_narrow_probe",
    "shaped_narrow_bigint",
    "shaped_narrow_probe_bigint",
)
_PENDING_SEED: dict[str, str] = {}
for _name in _NARROW:
    _carried = "probe" not in _name
    _keys = _bigint_keys if _name.endswith("bigint") else str  # str: the statement as it is
    _SCHEMAS[_name] = tuple(
        _in_byte_order(_keys(statement))
        for statement in (*_SCHEMAS["shaped"], *_pending_table(carried=_carried))
        if "WHERE status = 'pending'" not in statement
    )
    _SEED[_name] = _keys(_SEED["shaped"])
    _PENDING_SEED[_name] = _pending_seed(carried=_carried)
    _CLAIM[_name] = _NARROW_CLAIM[_carried]
    _RECORD[_name] = _NARROW_RECORD
DESIGNS = (
    "minimal",
    "attempts",
    "narrow",
    "held",
    "moved",
    "shaped",
    "shaped_lean",
    "shaped_hot",
    "shaped_bigint",
    "shaped_days",
    "shaped_c",
    *_NARROW,
)


def tables(name: str) -> tuple[str, ...]:
    """A design's tables and indexes (its events inserted by `$1`, a count)."""
    return _SCHEMAS[name]


@dataclass
class Claim:
    """A claim's deliveries, the keys of their events, and what proves its lease."""

    ids: list[Any]
    events: list[Any]
    lease: Any
    # `held`: the claim's transaction, open until its deliveries are recorded.
    transaction: Any = None
    # HookCast's rows: the first and last day they were created (microseconds)
    created: tuple[int, int] = (0, 0)


# HookCast's rows partitioned by day as HookCast's are (today, the week ahead and a default
# partition; migration 0016), with statements that let the planner prune by day: what the
# partitions cost. The partitions themselves are made by `Design.create` (their bounds are
# today's).
_SCHEMAS["shaped_days"] = tuple(
    statement.replace("WITH (fillfactor = 40)", "PARTITION BY RANGE (created)")
    for statement in _SCHEMAS["shaped"]
)
_SEED["shaped_days"] = _SEED["shaped"]
_CLAIM["shaped_days"] = """
UPDATE deliveries SET lease_token = $1, lease_worker = $1, lease_until = $4
WHERE created <= $3 AND id = ANY(ARRAY(
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $3 AND created <= $3
        AND (lease_until IS NULL OR lease_until < $3)
    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id, event_id, webhook_id, attempts, created
"""
_RECORD["shaped_days"] = _RECORD["shaped"].replace(
    "WHERE d.id = ANY($1::text[]) AND",
    "WHERE d.id = ANY($1::text[]) AND d.created BETWEEN $7 AND $8 AND",
)
_DAY_MICROS = 86_400_000_000

_SHAPED = tuple(design for design in DESIGNS if design.startswith("shaped"))  # HookCast's rows


class Design:
    """One design: its tables and seed, and its claim and recording as a claimer runs them."""

    def __init__(self, name: str) -> None:
        self.name = name
        # HookCast's rows: leased by a token and an expiry in microseconds, their own events
        self.shaped = name in _SHAPED
        self.text_keys = self.shaped and not name.endswith("bigint")
        # the narrow pending table's designs: their claims return pending rows
        self.narrow = name in _NARROW
        self.claim_sql = _CLAIM["minimal" if name == "attempts" else name]
        self.record_sql = _RECORD[name]

    async def create(self, connection: Any, deliveries: int, *, events: bool) -> None:
        """Its tables, `deliveries` of them pending and due, and their events."""
        own_events = self.shaped  # keyed as HookCast's, in its schema
        for statement in (*_SCHEMAS[self.name], *(_EVENTS if events and not own_events else ())):
            await connection.execute(statement, *([deliveries] if "$1" in statement else []))
        if self.name == "shaped_days":
            today = int(time.time() * 1e6) // _DAY_MICROS * _DAY_MICROS
            for day in range(8):
                start = today + day * _DAY_MICROS
                await connection.execute(
                    f"CREATE TABLE deliveries_{day} PARTITION OF deliveries FOR VALUES FROM"
                    f" ({start}) TO ({start + _DAY_MICROS}) WITH (fillfactor = 40)"
                )
            await connection.execute(
                "CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT"
                " WITH (fillfactor = 40)"
            )
        if self.name in ("minimal", "attempts"):
            await connection.execute(_SEED["minimal"], deliveries)
        elif self.name == "shaped_hot":  # its deliveries as shaped's, then their pending rows
            await connection.execute(_SEED["shaped"], deliveries)
            await connection.execute(_SEED["shaped_hot"])
        elif self.narrow:  # its deliveries as publish writes them, then their pending rows
            await connection.execute(_SEED[self.name], deliveries)
            await connection.execute(_PENDING_SEED[self.name])
        else:
            await connection.execute(_SEED.get(self.name, _SEED["pending"]), deliveries)

    async def claim(self, connection: Any, owner: int, limit: int) -> Claim:
        if self.shaped:  # leased by a token and an expiry in microseconds, as HookCast
            now = int(time.time() * 1e6)
            token = f"token-{owner}"
            until = now + LEASE_SECONDS * 1_000_000
            rows = await connection.fetch(self.claim_sql, token, limit, now, until)
            created = [r["created"] for r in rows] or [0]
            ids, events = [r["id"] for r in rows], [r["event_id"] for r in rows]
            return Claim(ids, events, token, created=(min(created), max(created)))
        if self.name == "held":
            transaction = connection.transaction()
            await transaction.start()
            ids = [row[0] for row in await connection.fetch(self.claim_sql, limit)]
            if not ids:
                await transaction.commit()
            return Claim(ids, ids, None, transaction)
        if self.name == "moved":
            row = await connection.fetchrow(self.claim_sql, owner, limit)
            ids = [] if row is None else list(row["ids"])
            return Claim(ids, ids, None if row is None else row["id"])
        ids = [row[0] for row in await connection.fetch(self.claim_sql, owner, limit)]
        return Claim(ids, ids, owner)

    async def read_events(self, connection: Any, claim: Claim) -> None:
        """What a worker must send: the claimed deliveries' events."""
        read = _READ_EVENTS.replace("bigint", "text") if self.text_keys else _READ_EVENTS
        await connection.fetch(read, claim.events)

    async def record(self, connection: Any, claim: Claim, ids: list[Any], *, last: bool) -> None:
        """`ids` (of `claim`) recorded as sent; `last`: the claim's last batch."""
        size = len(ids)
        if self.shaped:
            micros = int(time.time() * 1e6)
            columns: tuple[Any, ...] = ([micros] * size, [1.0] * size, [HEADERS] * size)
            days = claim.created if self.name == "shaped_days" else ()
            completed = () if self.narrow else (micros,)  # a narrow success writes no time
            await connection.execute(self.record_sql, ids, claim.lease, *columns, *completed, *days)
            return
        columns = ([datetime.now(UTC)] * size, [1.0] * size, [HEADERS] * size)
        if self.name == "minimal":  # no attempt row
            await connection.execute(self.record_sql, ids, claim.lease)
        elif self.name == "held":  # no lease to prove: the claim's transaction holds the rows
            await connection.execute(self.record_sql, ids, *columns)
        else:  # `moved`'s last batch deletes its lease row: its lease id negated
            lease = -claim.lease if self.name == "moved" and last else claim.lease
            await connection.execute(self.record_sql, ids, lease, *columns)

    async def finish(self, connection: Any, claim: Claim) -> None:
        """After a claim's last batch: `held` deletes its rows and commits."""
        if claim.transaction is not None:
            await connection.execute("DELETE FROM pending WHERE id = ANY($1::bigint[])", claim.ids)
            await claim.transaction.commit()

    async def left(self, connection: Any) -> tuple[int, int]:
        """Deliveries still pending after a drain, and attempts logged (0 where none are)."""
        if self.name in ("minimal", "attempts"):
            count = "SELECT count(*) FROM deliveries WHERE status = 0"
        elif self.shaped and not self.narrow:
            count = "SELECT count(*) FROM deliveries WHERE status = 'pending'"
        else:
            count = "SELECT count(*) FROM pending"
        left = await connection.fetchval(count)
        attempts = 0
        if self.name != "minimal":
            attempts = await connection.fetchval("SELECT count(*) FROM attempts")
        return int(left), int(attempts)
