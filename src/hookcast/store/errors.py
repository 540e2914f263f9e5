"""Driver and SQLAlchemy exceptions, translated once, here, into HookCast's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from hookcast.domain.errors import Conflict, HookcastError

__all__ = ["StoreUnavailable", "translate_errors"]


class StoreUnavailable(HookcastError):
    """The database could not be reached or refused the operation; nothing was changed."""

    code = "store_unavailable"


@contextmanager
def translate_errors(conflict: str = "the resource already exists") -> Iterator[None]:
    """Raises `Conflict(conflict)` for constraint violations, `StoreUnavailable` otherwise."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise Conflict(conflict) from exc
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}") from exc
