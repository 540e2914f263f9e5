"""Column types that behave the same on SQLite and PostgreSQL.

Timestamps are stored as whole microseconds since the Unix epoch (BigInteger): exact, cheap to
compare and index, and free of each driver's own idea of time zones. JSON is stored as Text
through orjson, so both databases hold byte-identical documents. Ids and keys compare as
bytes on both (`byte_ordered`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import BigInteger, Dialect, String, Text
from sqlalchemy.types import TypeDecorator

__all__ = ["JsonText", "Timestamp", "byte_ordered", "from_micros", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive ones are refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: HookCast stores aware UTC datetimes only")
    return (value - _EPOCH) // _MICROSECOND


# Up to 2**32 seconds past the epoch (the year 2106) a float of seconds is within 0.24 us of
# the stored value, so fromtimestamp's rounding to the microsecond gives it back exactly, at
# about 60% of the cost of adding a timedelta (read per timestamp of every claimed row).
_FLOAT_EXACT_BELOW = 2**32 * 1_000_000


@functools.lru_cache(maxsize=4096)
def from_micros(value: int) -> datetime:
    """The aware UTC datetime of a stored timestamp. Kept per value (datetimes are
    immutable): the rows of one claim share their lease's expiry, and deliveries published
    together their creation time."""
    if 0 <= value < _FLOAT_EXACT_BELOW:
        return datetime.fromtimestamp(value / 1_000_000, UTC)
    return _EPOCH + timedelta(microseconds=value)


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC datetime stored as BigInteger microseconds since the epoch."""

    impl = BigInteger
    cache_ok = True
    # A stored value (never None) as Python sees it: process_result_value without
    # SQLAlchemy's wrappers, for statements the connectors run on the driver (store/statement.py).
    load_value = staticmethod(from_micros)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(value)


def byte_ordered(length: int | None = None) -> String:
    """String(length) (Text without one) compared and sorted as bytes on both databases.

    SQLite's BINARY collation is byte order already; PostgreSQL (15) compares text as bytes
    only under the "C" and "POSIX" collations, and under any other (the database's
    en_US.UTF-8, even C.UTF-8) sends every B-tree comparison through strcoll. HookCast's
    ids and keys are ASCII made to sort by their bytes (domain/ids.py), so their columns
    take "C" on PostgreSQL (migration 0021): on an en_US.UTF-8 database PostgreSQL's CPU per
    delivery in a drain is 0.82 times what it was (0.806-0.834, 3 pairs), on C.UTF-8 unchanged
    (docs/benchmarks/postgres-delivery.md, "Text keys in byte order")."""
    plain = String(length) if length is not None else Text()
    in_bytes = String(length, collation="C") if length is not None else Text(collation="C")
    return plain.with_variant(in_bytes, "postgresql")


def _to_plain(value: Any) -> Any:
    # orjson serializes dict, list and tuple natively; read-only mappings need a copy.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(value: Any) -> str:
    return orjson.dumps(value, default=_to_plain).decode()


class JsonText(TypeDecorator[Any]):
    """A JSON document stored as Text, encoded and decoded with orjson."""

    impl = Text
    cache_ok = True
    load_value = staticmethod(orjson.loads)  # as Timestamp.load_value

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)
