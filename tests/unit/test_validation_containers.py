"""The arrays and objects of a JSON text, counted before it is parsed (a publish's body) or
from the text `json_object` makes (an event's data): brackets inside strings, escaped
quotes and backslashes, whitespace and any JSON writer's style must not change the count."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookcast.domain.errors import LimitExceeded
from hookcast.services import validation as v


def _containers(value: Any) -> int:
    """The arrays and objects in `value`, the plain recursive way."""
    if isinstance(value, dict):
        return 1 + sum(map(_containers, value.values()))
    if isinstance(value, list):
        return 1 + sum(map(_containers, value))
    return 0


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (b'{"a": "[[[{{{"}', 1),
        (b'{"a[": ["]", "{", "}"]}', 2),
        (b'{"a": "\\"[", "b": []}', 2),  # an escaped quote does not end the string
        (b'{"a": "\\\\", "b": [[]]}', 3),  # an escaped backslash does not escape the quote
        (b'{"a": "\\\\\\"[{", "b": {}}', 2),  # a backslash, then an escaped quote
        (b'{"a": "\\u005b\\u007b", "b": "\\/["}', 1),  # "[{" as \u escapes, an escaped /
        (b' [ { } ,\n\t[ ] , "x" ] ', 3),  # whitespace anywhere JSON allows it
        (b"[]" * 5, 5),
    ],
)
def test_brackets_are_counted_outside_strings_only(text: bytes, count: int) -> None:
    assert v.containers_past(text, 0) == count
    assert v.containers_past(text, count - 1) == count
    assert v.containers_past(text, count) == 0


def test_a_text_within_the_limit_counting_its_strings_is_decided_at_once() -> None:
    text = b'{"a": "' + b"[" * 1_000 + b'"}'  # 1,001 brackets, one container
    assert v.containers_past(text, 1_001) == 0
    assert v.containers_past(text, 1) == 0  # past it counting the string's, not outside them
    assert v.containers_past(text, 0) == 1


# Strings full of what the count must not mistake for structure.
_TRICKY = st.text(alphabet='[]{}"\\/,:n\n\x00\u2028é', max_size=8)
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=40,
)


@given(
    document=_DOCUMENTS,
    indent=st.none() | st.integers(0, 3),
    ascii_only=st.booleans(),
    limit=st.integers(0, 12),
)
@settings(max_examples=400, deadline=None)
def test_the_count_read_from_any_json_text_is_the_documents(
    document: Any, indent: int | None, ascii_only: bool, limit: int
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode()
    expected = _containers(document)
    assert v.containers_past(text, limit) == (expected if expected > limit else 0)


def _checked(data: Any, max_containers: int) -> object:
    return v.json_object(
        data, field="events[2].data", max_depth=64, max_bytes=1 << 20, max_containers=max_containers
    )


@pytest.mark.parametrize(
    "data",
    [
        {"x": [[] for _ in range(98)]},
        {f"k{i}": {"v": [i], "w": []} for i in range(33)},
        {"deep": [[[{"a": []}]]], "wide": [{}] * 93},
    ],
    ids=["empty arrays", "objects of arrays", "mixed"],
)
def test_an_events_data_may_hold_its_limit_of_arrays_and_objects_not_one_more(
    data: Any,
) -> None:
    assert _containers(data) == 100
    assert _checked(data, max_containers=100) is data
    with pytest.raises(
        LimitExceeded, match=r"events\[2\]\.data holds 100 arrays and objects; at most 99"
    ) as refused:
        _checked(data, max_containers=99)
    assert refused.value.field == "events[2].data"
    assert refused.value.code == "limit_exceeded"


def test_brackets_in_an_events_strings_are_not_its_arrays_and_objects() -> None:
    data = {"title": "[" * 500 + "{" * 500, "tags": ["a", "b"]}  # two containers
    assert _checked(data, max_containers=2) is data
