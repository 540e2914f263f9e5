from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.domain.conditions import MAX_DEPTH, MAX_NODES, parse_conditions
from hookcast.domain.errors import ValidationFailed

# Properties of pure domain code (the standard library only: import-linter's first
# contract): no dependency's version reaches them, so make test-lowest leaves them to the
# suite (~12 s of its CPU).
pytestmark = pytest.mark.suite_only

BODY: dict[str, Any] = {
    "event": "media_available",
    "media_id": "MNYaMSQl",
    "site_id": "9KboGBFu",
    "data": {
        "title": "Match highlights",
        "tags": ["sports", "football"],
        "duration": 95.5,
        "views": 10,
        "live": False,
        "rating": None,
        "renditions": [{"quality": "720p"}, {"quality": "1080p"}],
        "flags": [1, True],
    },
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({}, True),
        # implicit $eq, dotted paths, list indexes
        ({"site_id": "9KboGBFu"}, True),
        ({"site_id": "other"}, False),
        ({"data.title": "Match highlights"}, True),
        ({"data.renditions.0.quality": "720p"}, True),
        ({"data.renditions.1.quality": "720p"}, False),
        ({"data.renditions.5.quality": "720p"}, False),
        ({"data.tags": ["sports", "football"]}, True),
        ({"data.renditions.0": {"quality": "720p"}}, True),
        # several keys are ANDed
        ({"site_id": "9KboGBFu", "event": "media_available"}, True),
        ({"site_id": "9KboGBFu", "event": "media_created"}, False),
        # $contains on lists and strings
        ({"data.tags": {"$contains": "sports"}}, True),
        ({"data.tags": {"$contains": "news"}}, False),
        ({"data.title": {"$contains": "highlights"}}, True),
        ({"data.title": {"$contains": "lowlights"}}, False),
        ({"data.views": {"$contains": 1}}, False),
        # $in / $nin, scalar and list fields
        ({"event": {"$in": ["media_available", "media_created"]}}, True),
        ({"event": {"$in": ["media_created"]}}, False),
        ({"data.tags": {"$in": ["news", "football"]}}, True),
        ({"data.tags": {"$nin": ["news", "weather"]}}, True),
        ({"data.tags": {"$nin": ["news", "sports"]}}, False),
        ({"event": {"$nin": ["media_created"]}}, True),
        # comparisons: numbers with numbers, strings with strings, nothing else
        ({"data.views": {"$gt": 9}}, True),
        ({"data.views": {"$gt": 10}}, False),
        ({"data.views": {"$gte": 10}}, True),
        ({"data.duration": {"$lt": 100, "$gte": 95.5}}, True),
        ({"data.duration": {"$lte": 95}}, False),
        ({"data.title": {"$gt": "A"}}, True),
        ({"data.title": {"$gt": 1}}, False),
        ({"data.views": {"$gt": "1"}}, False),
        ({"data.live": {"$lt": 1}}, False),  # false is not 0
        # equality: 1 == 1.0 but true != 1
        ({"data.views": 10.0}, True),
        ({"data.live": 0}, False),
        ({"data.live": False}, True),
        ({"data.flags": [1, 1]}, False),
        ({"data.flags": {"$contains": 1}}, True),
        ({"data.tags": {"$contains": True}}, False),
        ({"data.views": {"$in": [True]}}, False),
        ({"data.rating": None}, True),
        ({"data.rating": {"$ne": None}}, False),
        ({"data.views": {"$ne": 11}}, True),
        # $exists, and missing fields
        ({"data.rating": {"$exists": True}}, True),
        ({"data.missing": {"$exists": False}}, True),
        ({"data.missing": {"$exists": True}}, False),
        ({"data.title": {"$exists": False}}, False),
        ({"data.missing": {"$ne": "x"}}, False),
        ({"data.missing": {"$nin": ["x"]}}, False),
        ({"data.missing": None}, False),
        ({"data.missing": {"$exists": False, "$ne": 1}}, False),
        ({"data.title.deeper": {"$exists": False}}, True),
        ({"media_id.0": "M"}, False),  # strings are not indexed
        # logical operators
        ({"$and": [{"site_id": "9KboGBFu"}, {"data.tags": {"$contains": "sports"}}]}, True),
        ({"$and": [{"site_id": "9KboGBFu"}, {"data.tags": {"$contains": "news"}}]}, False),
        ({"$or": [{"site_id": "other"}, {"data.tags": {"$contains": "sports"}}]}, True),
        ({"$or": [{"site_id": "other"}, {"event": "x"}]}, False),
        ({"$not": {"data.tags": {"$contains": "news"}}}, True),
        ({"$not": {"data.missing": "x"}}, True),
        ({"$not": {}}, False),
    ],
)
def test_matches(condition: dict[str, Any], expected: bool) -> None:
    assert parse_conditions(condition).matches(BODY) is expected


def test_raw_keeps_the_original_json() -> None:
    raw = {"data.tags": {"$contains": "sports"}}
    assert parse_conditions(raw).raw == raw


def test_numeric_keys_index_objects_too() -> None:
    condition = parse_conditions({"data.0": "zero"})
    assert condition.matches({"data": {"0": "zero"}})


def _nested_not(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        condition = {"$not": condition}
    return condition


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "conditions: a condition must be a JSON object, not a list"),
        ("x", "conditions: a condition must be a JSON object, not a string"),
        (None, "conditions: a condition must be a JSON object, not null"),
        ({"data.tags": {"$contans": "x"}}, 'conditions["data.tags"]["$contans"]: unknown operator'),
        ({"a": {"$gt": 1, "b": 2}}, "operators and plain keys cannot be mixed"),
        ({"a": {"$in": "x"}}, 'conditions["a"]["$in"]: $in takes a list of values, not a string'),
        ({"a": {"$nin": 3}}, "$nin takes a list of values, not a number"),
        ({"a": {"$exists": 1}}, "$exists takes true or false, not a number"),
        ({"a": {"$gt": True}}, "$gt compares with a number or a string, not a boolean"),
        ({"a": {"$lte": [1]}}, "$lte compares with a number or a string, not a list"),
        ({"a": {"$lt": None}}, "$lt compares with a number or a string, not null"),
        ({"a": {"$gte": float("nan")}}, "$gte compares with a number or a string"),
        ({"$and": []}, 'conditions["$and"]: $and takes a non-empty list of conditions'),
        ({"$or": {"a": 1}}, "$or takes a non-empty list of conditions"),
        ({"$and": [1]}, 'conditions["$and"][0]: a condition must be a JSON object, not a number'),
        ({"$not": [{"a": 1}]}, 'conditions["$not"]: a condition must be a JSON object'),
        ({"$nor": [{"a": 1}]}, 'conditions["$nor"]: unknown logical operator "$nor"'),
        ({"": 1}, "a field path must not be empty"),
        ({"data..tags": 1}, 'conditions["data..tags"]: a field path must not be empty'),
        ({".tags": 1}, "empty segments"),
        ({"tags.": 1}, "empty segments"),
        ({"a": {"$not": {"b": 1}}}, "$not combines whole conditions, it cannot test a field"),
        ({"a": {"$eq": {"$gt": 1}}}, 'operators cannot be nested inside a value ("$gt")'),
        ({"a": {"$in": [{"$gt": 1}]}}, "operators cannot be nested inside a value"),
        ({"a": {"b": {"$gt": 1}}}, "use a dotted path"),
        ({"a": {1, 2}}, "is not a JSON value"),
        ({"a": float("inf")}, "is not a JSON value"),
        ({1: 2}, "conditions: keys must be strings, not a number"),
        ({"a": {"$in": list(range(MAX_NODES))}}, f"at most {MAX_NODES} parts"),
        (_nested_not(MAX_DEPTH + 1), f"nested too deeply: at most {MAX_DEPTH} levels"),
        ({"a": [[[[[[[[1]]]]]]]]}, "nested too deeply"),
    ],
)
def test_invalid_conditions_are_refused_with_a_readable_reason(raw: object, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_conditions(raw)
    assert message in caught.value.description
    assert caught.value.field == "conditions"


def test_limits_are_inclusive() -> None:
    assert parse_conditions(_nested_not(MAX_DEPTH)).matches({"a": 1}) is (MAX_DEPTH % 2 == 1)
    values = list(range(MAX_NODES - 3))  # the object, the field and the operator count too
    assert parse_conditions({"a": {"$in": values}}).matches({"a": 3})


def test_many_keys_are_limited_too() -> None:
    with pytest.raises(ValidationFailed, match="too complex"):
        parse_conditions({f"field{index}": index for index in range(MAX_NODES + 1)})


# --- properties -------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["a", "b", "sports"]),
)
_values = _scalars | st.lists(_scalars, max_size=3)  # shallow: the depth limit is tested above
_bodies = st.dictionaries(st.sampled_from(["a", "b", "c"]), _values, max_size=3)
_operands = {
    "$eq": _values,
    "$ne": _values,
    "$contains": _scalars,
    "$in": st.lists(_scalars, max_size=3),
    "$nin": st.lists(_scalars, max_size=3),
    "$exists": st.booleans(),
    "$gt": st.integers(-5, 5) | st.sampled_from(["a", "b"]),
    "$lt": st.integers(-5, 5) | st.sampled_from(["a", "b"]),
}
_field_conditions = st.builds(
    lambda path, tests: {path: tests},
    st.sampled_from(["a", "b", "c", "a.0"]),
    st.dictionaries(
        st.sampled_from(sorted(_operands)), st.just(None), min_size=1, max_size=2
    ).flatmap(lambda ops: st.fixed_dictionaries({op: _operands[op] for op in ops})),
)
_conditions = st.recursive(
    _field_conditions,
    lambda inner: st.one_of(
        st.builds(lambda c: {"$not": c}, inner),
        st.builds(lambda cs: {"$and": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"$or": cs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=3,  # at most 3 levels of $and/$or/$not, well inside MAX_DEPTH once combined
)


@given(condition=_conditions, body=_bodies)
def test_not_negates_the_whole_condition(condition: dict[str, Any], body: dict[str, Any]) -> None:
    plain = parse_conditions(condition).matches(body)
    assert parse_conditions({"$not": condition}).matches(body) is (not plain)


@given(left=_conditions, right=_conditions, body=_bodies)
def test_and_or_agree_with_python(
    left: dict[str, Any], right: dict[str, Any], body: dict[str, Any]
) -> None:
    a = parse_conditions(left).matches(body)
    b = parse_conditions(right).matches(body)
    assert parse_conditions({"$and": [left, right]}).matches(body) is (a and b)
    assert parse_conditions({"$or": [left, right]}).matches(body) is (a or b)


@given(path=st.sampled_from(["a", "b", "zz"]), body=_bodies, operands=_field_conditions)
def test_only_exists_false_matches_a_missing_field(
    path: str, body: dict[str, Any], operands: dict[str, Any]
) -> None:
    tests = next(iter(operands.values()))
    body = {key: value for key, value in body.items() if key != path}
    expected = tests == {"$exists": False}
    assert parse_conditions({path: tests}).matches(body) is expected


@given(body=_bodies)
def test_empty_condition_matches_everything(body: dict[str, Any]) -> None:
    assert parse_conditions({}).matches(body)
