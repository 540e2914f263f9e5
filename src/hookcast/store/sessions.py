"""Dashboard sessions signed out before they expire: the one server-side state sessions have.

A session lives in a signed cookie, so any server can check it without the database; a
cookie copied before its holder signed out would stay valid until it expired. Signing out
writes the session's id here, with the time the cookie expires: every server refuses that
id from then on, and a row is useless (and deleted) once its cookie would have expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.store.sql import insert_ignoring
from hookcast.store.tables import metadata
from hookcast.store.types import Timestamp

__all__ = ["is_signed_out", "revoked_sessions", "sign_out"]

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # a digest of the session's random token
    Column("account_id", String(8), nullable=False),  # whose session it was
    Column("expires", Timestamp, nullable=False, index=True),
)


async def sign_out(
    conn: AsyncConnection, account_id: str, session_id: str, *, expires: datetime, now: datetime
) -> None:
    """Refuses `session_id` until `expires`, and forgets the sessions expired by `now` (an
    expired session cookie is refused anyway)."""
    await conn.execute(delete(revoked_sessions).where(revoked_sessions.c.expires <= now))
    await conn.execute(
        insert_ignoring(conn, revoked_sessions, ["id"]),
        {"id": session_id, "account_id": account_id, "expires": expires},
    )


async def is_signed_out(conn: AsyncConnection, session_id: str) -> bool:
    found = await conn.scalar(
        select(revoked_sessions.c.id).where(revoked_sessions.c.id == session_id)
    )
    return found is not None
