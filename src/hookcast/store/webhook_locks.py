"""Webhook rows locked in one pass in id order, each in the strongest mode the transaction
will take on it (PostgreSQL; SQLite's one writer excludes the others already).

Every writer of webhook rows locks them in id order, so two transactions wait for each other
one way only: that holds when each takes, in its one pass, the strongest lock it will need
on each row. One that passed a row with a weaker lock and comes back for a stronger one may
wait on a transaction that waits on it. Two did, each forced in
tests/contract/test_store_disables_lock_order.py: a recording that disables a webhook held
its batch's webhooks FOR NO KEY UPDATE (their standing) and then took the disabled one FOR
UPDATE, while a publish announcing held deliveries share-locked its webhooks and then
updated the held one's row (store/operational.py `_tells_run`); each waited on a row the
other held, and PostgreSQL rolled one back after `deadlock_timeout`. A third was a lock the
pass could not know of: a recording's notices (webhook_failing ...) are fanned out to
webhooks its pass had not taken, and which it tells is known only once the pass has read
the standing; such a recording now begins again, their accounts in its pass
(store/operational.py `lock_standing`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import webhooks

__all__ = ["KEY_SHARE", "NO_KEY_UPDATE", "UPDATE", "lock_in_one_pass"]

# The modes, strongest first, as the number each row is returned with.
UPDATE, NO_KEY_UPDATE, KEY_SHARE = 0, 1, 2
_CLAUSES = ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR KEY SHARE")


async def lock_in_one_pass(
    tx: Transaction,
    columns: Sequence[str],
    *,
    update: Collection[str] = (),
    no_key_update: Collection[str] = (),
    key_share: Collection[str] = (),
    key_share_accounts_of: Collection[str] = (),
) -> list[tuple[Any, ...]]:
    """Locks the webhooks `update` FOR UPDATE, the others of `no_key_update` FOR NO KEY
    UPDATE, and the others of `key_share`, and every other webhook of the accounts owning
    `key_share_accounts_of`, FOR KEY SHARE; returns (mode, *`columns`) for each row that
    exists once locked (deleted meanwhile: left out), `columns` as locked."""
    values = {
        "u": sorted(update),
        "n": sorted(no_key_update),
        "ids": sorted({*update, *no_key_update, *key_share}),
        "a": sorted(key_share_accounts_of),
    }
    rows = await tx.fetch_all(_statement(tuple(columns)), values)
    return [tuple(row) for row in rows if row[1] is not None]


@functools.cache
def _statement(columns: tuple[str, ...]) -> Statement:
    """The pass: the rows in id order, each locked by one LATERAL subquery of its mode (as a
    nested loop, row by row in the outer order; an ORDER BY keeps the subquery from being
    pulled up into the join). The ids come from the statement's snapshot, a UNION of two
    reads a primary key and the account index can each answer (one WHERE with an OR across
    them is a plan's to read by a scan of the table); each lock waits and reads the row's
    latest version. Columns are the caller's constants, never input. Used only where
    a transaction needs more than one mode (rare: a disable, a notice told, held
    deliveries announced): the usual pass is one plain locking SELECT."""
    listed = ", ".join(("id", *columns))
    laterals = "\n".join(
        f"LEFT JOIN LATERAL (SELECT {listed} FROM webhooks AS w "  # noqa: S608 - constants
        f"WHERE w.id = r.id AND r.mode = {mode} {clause}) AS m{mode} ON true"
        for mode, clause in enumerate(_CLAUSES)
    )
    picked = ", ".join(
        f"coalesce({', '.join(f'm{mode}.{name}' for mode in range(len(_CLAUSES)))}) AS {name}"
        for name in ("id", *columns)
    )
    sql = f"""
SELECT r.mode, {picked} FROM (
    SELECT id, CASE WHEN id = ANY(:u) THEN {UPDATE} WHEN id = ANY(:n) THEN {NO_KEY_UPDATE}
        ELSE {KEY_SHARE} END AS mode
    FROM (
        SELECT id FROM webhooks WHERE id = ANY(:ids)
        UNION
        SELECT id FROM webhooks
        WHERE account_id IN (SELECT account_id FROM webhooks WHERE id = ANY(:a))
    ) AS wanted
    ORDER BY id
) AS r
{laterals}"""  # noqa: S608 - the columns are the callers' constants, the ids bound
    parameters = (bindparam(name, type_=ARRAY(String)) for name in ("u", "n", "ids", "a"))
    typed = {name: webhooks.c[name].type for name in ("id", *columns)}
    locking = text(sql).bindparams(*parameters).columns(mode=Integer(), **typed)
    return Statement(lambda _database: locking)
