"""Dashboard sessions signed out before they expire: the one server-side state sessions have.

A session lives in a signed cookie, so any server can check it without the database; a
cookie copied before its holder signed out would stay valid until it expired. Signing out
writes the session's id here, with the time the cookie expires: every server refuses that
id from then on, and a row is useless (and deleted) once its cookie would have expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Table, bindparam, delete, select

from hookcast.store.connector import Transaction
from hookcast.store.sql import insert_ignoring
from hookcast.store.statement import Statement
from hookcast.store.tables import metadata
from hookcast.store.types import Timestamp, byte_ordered

__all__ = ["is_signed_out", "revoked_sessions", "sign_out"]

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("id", byte_ordered(64), primary_key=True),  # a digest of the session's random token
    Column("account_id", byte_ordered(8), nullable=False),  # whose session it was
    Column("expires", Timestamp, nullable=False, index=True),
)


async def sign_out(
    tx: Transaction, *, account_id: str, session_id: str, expires: datetime, now: datetime
) -> None:
    """Refuses `session_id` until `expires`, and forgets the sessions expired by `now` (an
    expired session cookie is refused anyway)."""
    await tx.execute(_FORGET_EXPIRED, {"b_now": now})
    await tx.execute(_SIGN_OUT, {"id": session_id, "account_id": account_id, "expires": expires})


async def is_signed_out(tx: Transaction, session_id: str) -> bool:
    return await tx.fetch_one(_SIGNED_OUT, {"id": session_id}) is not None


_FORGET_EXPIRED = Statement(
    lambda _: delete(revoked_sessions).where(
        revoked_sessions.c.expires <= bindparam("b_now", type_=Timestamp)
    )
)
_SIGN_OUT = Statement(
    lambda database: insert_ignoring(database, table=revoked_sessions, conflict_on=("id",))
)
_SIGNED_OUT = Statement(
    lambda _: select(revoked_sessions.c.id).where(revoked_sessions.c.id == bindparam("id"))
)
