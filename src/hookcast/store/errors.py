"""Driver and SQLAlchemy exceptions, translated once, here, into HookCast's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from hookcast.domain.errors import Conflict, Unavailable, ValidationFailed

__all__ = ["StoreUnavailable", "translate_errors"]

# Kept as the store's name for the same error, so `except StoreUnavailable` reads naturally.
StoreUnavailable = Unavailable


@contextmanager
def translate_errors(conflict: str = "the resource already exists") -> Iterator[None]:
    """`Conflict` for constraint violations, `ValidationFailed` for values the database
    refuses (SQLSTATE class 22, e.g. a NUL character on PostgreSQL), `Unavailable` for the
    rest: an outage is not the caller's fault, a bad value is."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise Conflict(conflict) from exc
    except sa_exc.DBAPIError as exc:
        if _is_bad_value(exc):
            raise ValidationFailed(
                "the database refused a value (for example a NUL character or an "
                "out-of-range number)"
            ) from exc
        raise Unavailable(f"the database is unavailable: {type(exc).__name__}") from exc
    except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as exc:
        raise Unavailable(f"the database is unavailable: {type(exc).__name__}") from exc


def _is_bad_value(exc: sa_exc.DBAPIError) -> bool:
    if isinstance(exc, sa_exc.DataError):
        return True
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if str(getattr(candidate, "sqlstate", "") or "").startswith("22"):
            return True
        # asyncpg refuses some values client-side (e.g. an int64 overflow) as ValueError.
        if isinstance(candidate, ValueError):
            return True
    return False
