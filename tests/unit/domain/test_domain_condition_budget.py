"""Conditions cost what they visit: `$in` looks scalars up in sets, and every evaluation
stops at a budget of element visits (the event loop runs them during fan-out)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.domain.condition_ops import Budget, equal
from hookcast.domain.conditions import MAX_VISITS, Verdict, parse_conditions

# Properties of pure domain code (the standard library only: import-linter's first
# contract): no dependency's version reaches them, so make test-lowest leaves them to the
# suite (~3 s of its CPU).
pytestmark = pytest.mark.suite_only

# The review's reproduction: `data.x` held 200,000 zeros (0.4 MB), the webhook's condition
# an `$in` of 90 numbers; one publish blocked the server for 6 s (18M comparisons).
NINETY = list(range(1, 91))
ZEROS: dict[str, Any] = {"data": {"x": [0] * 200_000}}


def test_the_reproduction_stops_at_the_budget() -> None:
    condition = parse_conditions({"data.x": {"$in": NINETY}})

    assert condition.evaluate(ZEROS) is Verdict.OVER_BUDGET
    assert not condition.matches(ZEROS)


def test_in_costs_one_visit_per_element_not_one_per_comparison() -> None:
    condition = parse_conditions({"data.x": {"$in": NINETY}})
    # Two visits for the path ("data", "x"), then one per element: 200,002 in all, where
    # comparing each element with each operand would take 18,000,000.
    assert condition.evaluate(ZEROS, max_visits=200_002) is Verdict.NO_MATCH
    assert condition.evaluate(ZEROS, max_visits=200_001) is Verdict.OVER_BUDGET


def test_nin_is_over_budget_too_rather_than_a_match() -> None:
    # "not in" must not turn an unfinished evaluation into a yes.
    condition = parse_conditions({"$not": {"data.x": {"$nin": NINETY}}})

    assert condition.evaluate(ZEROS) is Verdict.OVER_BUDGET


def test_a_list_within_the_budget_is_evaluated_in_full() -> None:
    condition = parse_conditions({"data.x": {"$in": [7]}})
    body = {"data": {"x": [0] * (MAX_VISITS - 3) + [7]}}

    assert condition.evaluate(body) is Verdict.MATCH


def test_deep_comparisons_pay_for_every_value_they_visit() -> None:
    # Each element equals the operand but for its last value: 5 visits per element.
    condition = parse_conditions({"data.x": {"$contains": {"a": [1, 2, 3]}}})
    body = {"data": {"x": [{"a": [1, 2, 4]}] * 100}}

    assert condition.evaluate(body, max_visits=2 + 500) is Verdict.NO_MATCH
    assert condition.evaluate(body, max_visits=2 + 499) is Verdict.OVER_BUDGET


def test_a_substring_search_pays_for_the_length_of_the_string_it_searches() -> None:
    # attack17: a `$contains` on a string was one visit however long the string: 100
    # webhooks whose conditions searched an event's 254 KB string 33 times each held one
    # publish's fan-out (on the API's event loop) for 21.7 s at load 4.8, having used 188,100
    # of its 1,000,000 visits. Searching costs 2-3.6 ns a character (CPython's fastsearch,
    # measured at load 5), a visit at most ~0.3 us: at least one visit per 256 characters.
    condition = parse_conditions({"data.s": {"$contains": "sports"}})

    _, short = condition.measure({"data": {"s": "a" * 100}})
    _, long = condition.measure({"data": {"s": "a" * 254_000}})

    assert long - short >= 254_000 // 256


def test_the_budget_is_per_evaluation() -> None:
    condition = parse_conditions({"data.x": {"$in": [7]}})
    body = {"data": {"x": [7]}}

    verdicts = {condition.evaluate(body, max_visits=3) for _ in range(5)}

    assert verdicts == {Verdict.MATCH}


@pytest.mark.parametrize(
    ("operand", "value", "expected"),
    [
        # JSON equality, as $eq has it: 1 is 1.0, true is not 1, null is only null
        ([1], 1.0, True),
        ([1.0], 1, True),
        ([1], True, False),
        ([True], 1, False),
        ([False], 0, False),
        ([0], False, False),
        ([True], True, True),
        ([None], None, True),
        ([None], 0, False),
        (["1"], 1, False),
        ([1], "1", False),
        (["a", 2, None], "a", True),
        # objects and lists in the operand are compared whole, with values of their kind
        ([{"q": "720p"}], {"q": "720p"}, True),
        ([{"q": "720p"}], {"q": "1080p"}, False),
        ([[1, 2]], [[1, 2]], True),  # a list value: its elements are looked up
        ([[1, 2]], [1, 2], False),
        ([{"q": 1}], {"q": True}, False),
        # a list value: any of its elements
        ([3], [1, 2, 3], True),
        ([4], [1, 2, 3], False),
        ([4], [], False),
        ([], 1, False),
        ([1], [True, {"a": 1}, [1]], False),
        # only strings in the operand: looked up all at once, with the same answers
        (["a"], [{"a": 1}, "a"], True),
        (["a"], [[1], "b", None], False),
        (["1"], [1, True, 1.0], False),
        (["a", "b"], ["c", "b"], True),
    ],
)
def test_in_keeps_json_equality(operand: list[Any], value: Any, expected: bool) -> None:
    found = parse_conditions({"v": {"$in": operand}}).matches({"v": value})
    not_found = parse_conditions({"v": {"$nin": operand}}).matches({"v": value})

    assert (found, not_found) == (expected, not expected)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5]),
    st.sampled_from(["a", "b", "1"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xy"), inner),
    max_leaves=6,
)


@given(operand=st.lists(_VALUES, max_size=5), value=st.lists(_VALUES, max_size=6) | _VALUES)
def test_in_agrees_with_comparing_each_pair(operand: list[Any], value: Any) -> None:
    # The definition $in had before the sets: some element equals some operand value.
    elements = value if isinstance(value, list) else [value]
    expected = any(equal(e, o, budget=Budget(MAX_VISITS)) for e in elements for o in operand)

    assert parse_conditions({"v": {"$in": operand}}).matches({"v": value}) is expected
