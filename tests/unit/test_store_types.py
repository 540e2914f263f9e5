"""Stored timestamps come back as the exact aware datetimes that were stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.store.types import from_micros, to_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_aware_datetime_round_trips_to_the_microsecond(value: datetime) -> None:
    loaded = from_micros(to_micros(value))
    assert loaded == value
    assert loaded.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "micros",
    [0, 1, 999_999, 2**32 * 1_000_000 - 1, 2**32 * 1_000_000, -1, 253_402_300_799_999_999],
)
def test_timestamps_at_the_edges_load_exactly(micros: int) -> None:
    assert from_micros(micros) == _EPOCH + timedelta(microseconds=micros)
