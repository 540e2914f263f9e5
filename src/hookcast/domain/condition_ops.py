"""The operators of payload conditions (conditions.py), each paying for the elements it visits.

An event's `data` may hold lists of ~100k elements (256 KiB of JSON) and a webhook's condition
may test them many times, so one evaluation would cost seconds on the event loop if it were
not counted. Every element an operator looks at costs one visit from a `Budget`; when the
budget runs out, `OverBudget` ends the evaluation (conditions.py decides what that means).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeGuard, cast

__all__ = ["OPERATORS", "SEARCHED_PER_VISIT", "Budget", "Members", "OverBudget", "Test", "equal"]


class OverBudget(Exception):
    """An evaluation visited more elements than its budget allows."""


class Budget:
    """Element visits left for one evaluation."""

    __slots__ = ("left",)

    def __init__(self, visits: int) -> None:
        self.left = visits

    def spend(self, visits: int = 1) -> None:
        self.left -= visits
        if self.left < 0:
            raise OverBudget


def equal(left: object, right: object, *, budget: Budget) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 (Python's `True == 1` says it is)."""
    budget.spend()
    kind = type(left)
    # Values parsed from JSON, of one type: exact type checks and plain loops, several times
    # faster than the ABC checks and generators below (a visit must stay well under 1 us).
    if kind is type(right):
        if kind is dict:
            return _equal_dicts(cast(_Object, left), cast(_Object, right), budget)
        if kind is list:
            return _equal_lists(cast(_Array, left), cast(_Array, right), budget)
        if kind in _SCALARS:
            return bool(left == right)
    return _equal_any(left, right, budget)


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_Object = dict[str, object]
_Array = list[object]


def _equal_dicts(left: _Object, right: _Object, budget: Budget) -> bool:
    if left.keys() != right.keys():
        return False
    for key, value in left.items():  # noqa: SIM110 - a loop: all(generator) is ~2x slower here
        if not equal(value, right[key], budget=budget):
            return False
    return True


def _equal_lists(left: _Array, right: _Array, budget: Budget) -> bool:
    if len(left) != len(right):
        return False
    for one, other in zip(left, right, strict=True):  # noqa: SIM110 - as in _equal_dicts
        if not equal(one, other, budget=budget):
            return False
    return True


def _equal_any(left: object, right: object, budget: Budget) -> bool:
    """`equal` for values of different types, or not from JSON (tuples, other mappings)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    ):
        return bool(left == right)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(
            equal(left[k], right[k], budget=budget) for k in left
        )
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            equal(a, b, budget=budget) for a, b in zip(left, right, strict=True)
        )
    return left is None and right is None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Members:
    """The operand of `$in`/`$nin`, kept for O(1) lookups of scalars.

    Scalars go into one set per JSON type, so JSON equality holds (1 and 1.0 are one number;
    true is not 1); objects and lists, which cannot be hashed, are compared one by one, and
    only with values that are themselves objects or lists.
    """

    numbers: frozenset[int | float]
    strings: frozenset[str]
    booleans: frozenset[bool]
    null: bool
    containers: tuple[object, ...]

    @classmethod
    def of(cls, operand: Sequence[object]) -> Members:
        return cls(
            numbers=frozenset(v for v in operand if _is_number(v)),
            strings=frozenset(v for v in operand if isinstance(v, str)),
            booleans=frozenset(v for v in operand if isinstance(v, bool)),
            null=any(v is None for v in operand),
            containers=tuple(v for v in operand if isinstance(v, Mapping | list)),
        )

    def contain_any(self, values: Sequence[object], budget: Budget) -> bool:
        """Whether any of `values` is a member (the caller has paid one visit for each)."""
        if self.strings and not (self.numbers or self.booleans or self.null or self.containers):
            # Only strings: nothing but a string equals one, so the set's own C loop is exact.
            # An object or a list among the values cannot be hashed: then the loop below.
            with contextlib.suppress(TypeError):
                return not self.strings.isdisjoint(values)
        strings, numbers = self.strings, self.numbers
        for value in values:
            kind = type(value)
            if kind is str:
                if value in strings:
                    return True
            elif kind is int or kind is float:
                if value in numbers:
                    return True
            elif self.contain(value, budget):
                return True
        return False

    def contain(self, value: object, budget: Budget) -> bool:
        """Whether `value` is a member (the caller has paid one visit for it)."""
        if isinstance(value, bool):
            return value in self.booleans
        if isinstance(value, int | float):
            return value in self.numbers
        if isinstance(value, str):
            return value in self.strings
        if value is None:
            return self.null
        for member in self.containers:  # noqa: SIM110 - as in _equal_dicts: the hot path
            if equal(value, member, budget=budget):
                return True
        return False


def _op_eq(value: object, operand: Any, budget: Budget) -> bool:
    return equal(value, operand, budget=budget)


def _op_ne(value: object, operand: Any, budget: Budget) -> bool:
    return not equal(value, operand, budget=budget)


def _op_in(value: object, operand: Members, budget: Budget) -> bool:
    if isinstance(value, list | tuple):
        budget.spend(len(value))  # paid up front: the lookups are the hot loop
        return operand.contain_any(value, budget)
    budget.spend()
    return operand.contain(value, budget)


def _op_nin(value: object, operand: Members, budget: Budget) -> bool:
    return not _op_in(value, operand, budget)


# Characters of a string one visit of a substring search pays for. The search runs in C
# at 2-3.6 ns a character (CPython's fastsearch, whatever the needle; measured at load 5),
# so a visit stays near the ~0.3 us of the costliest others. Paid one visit per search
# instead, 100 webhooks whose conditions searched an event's 254 KB string 33 times held one
# publish of 19 such events on the loop for 21.7 s, at 188,100 visits (attack17).
SEARCHED_PER_VISIT: Final = 128


def _op_contains(value: object, operand: Any, budget: Budget) -> bool:
    if isinstance(value, list | tuple):
        return any(equal(element, operand, budget=budget) for element in value)
    if not (isinstance(value, str) and isinstance(operand, str)):
        budget.spend()
        return False
    budget.spend(1 + len(value) // SEARCHED_PER_VISIT)
    return operand in value


def _comparable(value: object, operand: object, budget: Budget) -> bool:
    budget.spend()
    both_numbers = _is_number(value) and _is_number(operand)
    return both_numbers or (isinstance(value, str) and isinstance(operand, str))


def _op_gt(value: Any, operand: Any, budget: Budget) -> bool:
    return _comparable(value, operand, budget) and bool(value > operand)


def _op_gte(value: Any, operand: Any, budget: Budget) -> bool:
    return _comparable(value, operand, budget) and bool(value >= operand)


def _op_lt(value: Any, operand: Any, budget: Budget) -> bool:
    return _comparable(value, operand, budget) and bool(value < operand)


def _op_lte(value: Any, operand: Any, budget: Budget) -> bool:
    return _comparable(value, operand, budget) and bool(value <= operand)


Test = Callable[[Any, Any, Budget], bool]

OPERATORS: Final[Mapping[str, Test]] = {
    "$eq": _op_eq,
    "$ne": _op_ne,
    "$in": _op_in,
    "$nin": _op_nin,
    "$contains": _op_contains,
    "$gt": _op_gt,
    "$gte": _op_gte,
    "$lt": _op_lt,
    "$lte": _op_lte,
}
