"""An event's `data` is checked for depth at C speed, not with a Python call per array or
object in it: a publish of 19 events of 255 KB, each `{"x": [[], [], ...]}` (85,000 empty
arrays), spent 1.5-2.8 s of the API's event loop in that check alone (on a loaded 2-core
machine; serialising the same data took 0.02-0.14 s), and every account's requests waited
behind it (/healthz answered in 4-7 s during such publishes; attack 15)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType, MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookcast.domain.errors import ValidationFailed
from hookcast.services import validation as v

_BYTES = 1 << 20


def _python_calls(check: Callable[[], object]) -> int:
    """How many Python functions (not C ones) `check` calls."""
    calls = 0

    def count(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        check()
    finally:
        sys.setprofile(None)
    return calls


def _checked(data: Any, max_depth: int = 64) -> object:
    return v.json_object(
        data, field="data", max_depth=max_depth, max_bytes=_BYTES, max_containers=_BYTES
    )


@pytest.mark.parametrize(
    "data",
    [
        {"x": [[] for _ in range(10_000)]},
        {"x": [{"a": [1, {"b": "c"}]} for _ in range(5_000)]},
        {f"k{i}": [i] for i in range(10_000)},
        {"x": list(range(100_000))},
    ],
    ids=["empty arrays", "objects in arrays", "many keys", "flat"],
)
def test_the_depth_check_makes_no_python_call_per_container(data: Any) -> None:
    assert _checked(data) is data
    # A few per level (the comprehensions), none per array or object: 10,000 containers
    # made 20,000 calls before.
    assert _python_calls(lambda: _checked(data)) < 50


def _levels(count: int, leaf: Any) -> Any:
    """`count` objects and arrays, each inside the one before (the outer an object), with
    `leaf` in the innermost."""
    value = leaf
    for level in range(count - 1, -1, -1):
        value = {"a": value} if level % 2 == 0 else [value]
    return value


@pytest.mark.parametrize("count", [2, 3, 10, 64])
@pytest.mark.parametrize("leaf", [1, "x", None])
def test_the_depth_limit_is_exact(count: int, leaf: Any) -> None:
    data = _levels(count, leaf)
    assert _checked(data, max_depth=count) is data
    # Beside 1,000 arrays three levels deep: a wide level on the way does not end the walk.
    beside_wide = {"wide": [[]] * 1000, "deep": data}
    assert _checked(beside_wide, max_depth=count + 1) is beside_wide
    with pytest.raises(ValidationFailed, match=f"nested deeper than {count} levels"):
        _checked(beside_wide, max_depth=count)


def test_tuples_and_other_mappings_count_as_arrays_and_objects() -> None:
    data: Any = MappingProxyType({"a": ({"b": ([],)},)})  # 5 levels, from in-process callers
    assert _checked(data, max_depth=5) is data
    with pytest.raises(ValidationFailed, match="nested deeper than 4 levels"):
        _checked(data, max_depth=4)


def _depth(value: Any) -> int:
    """The levels of arrays and objects in `value`, the plain recursive way."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


# Strings full of what the text's reading must not mistake for structure.
_TRICKY = st.text(alphabet='[]{}"\\\\/,:n\\n\\x00\\u2028é', max_size=8)
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=30,
)


@given(data=st.dictionaries(_TRICKY, _DOCUMENTS, max_size=4), limit=st.integers(1, 8))
@settings(max_examples=400, deadline=None)
def test_the_depth_read_from_the_text_is_the_documents_depth(data: Any, limit: int) -> None:
    if _depth(data) > limit:
        with pytest.raises(ValidationFailed, match="nested deeper"):
            _checked(data, max_depth=limit)
    else:
        assert _checked(data, max_depth=limit) is data
