"""Payload conditions: MongoDB-like JSON filters over a delivery body.

A webhook's `conditions` narrow which events it receives beyond event names and sites, e.g.
Flowplayer's "has tag with name" is `{"data.tags": {"$contains": "sports"}}`.

Grammar (a *condition* is a JSON object):

- each key is a dotted path into the body (`"data.tags"`, `"data.renditions.0.quality"`:
  numeric segments index lists) or a logical operator: `$and` / `$or` (a non-empty list of
  conditions) or `$not` (one condition); several keys in one object are ANDed;
- a path's value is an operator object (`{"$contains": "sports", "$exists": true}`, several
  operators ANDed) or a literal, which means `$eq`;
- `{}` matches every body.

Conditions are compiled once (`parse_conditions`) when a webhook is saved, so every problem is
reported to the customer then, and evaluation during fan-out never fails. It is bounded
instead: an evaluation that visits more than MAX_VISITS elements of the body stops and the
condition does not match (`Verdict.OVER_BUDGET`).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hookcast.domain.condition_ops import OPERATORS, Budget, Members, OverBudget, Test
from hookcast.domain.errors import ValidationFailed

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEXT",
    "MAX_VISITS",
    "Condition",
    "Verdict",
    "parse_conditions",
]

MAX_NODES: Final = 100
MAX_DEPTH: Final = 8
# A condition's JSON text, compact, in bytes, when a webhook is saved (services/webhooks.py):
# parts were counted and not their length, and 20 webhooks of one 4.5 MB string each were
# saved; every read of them carried 90 MB (a list of them took 1.4-3.2 s and grew the
# process by ~200 MB), and claims, dashboard pages and the publish cache load a webhook's
# conditions whole (attack17). 100 parts of ~160 characters each fit.
MAX_TEXT: Final = 16 * 1024
# Elements one evaluation may visit (docs/delivery.md, "Conditions"). Realistic conditions
# on realistic events visit tens; one pass over a list of 10,000 elements still fits. At
# 0.03 us (an $in of strings) to ~0.3 us (comparing objects) a visit, measured, one
# evaluation holds the event loop for a few milliseconds at most. fanout.MAX_PUBLISH_VISITS
# bounds how many evaluations one publish makes.
MAX_VISITS: Final = 10_000

_FIELD = "conditions"
_LOGICAL = frozenset({"$and", "$or", "$not"})


class _Missing:
    """The value of a path that does not exist in the body (distinct from JSON null)."""

    __slots__ = ()


_MISSING: Final = _Missing()


# --- evaluation -------------------------------------------------------------------------------


_ALL_OPERATORS = frozenset({*OPERATORS, "$exists"})


def _resolve(body: object, path: tuple[str, ...]) -> object:
    value = body
    for segment in path:
        if isinstance(value, Mapping):
            value = value.get(segment, _MISSING)
        elif isinstance(value, list | tuple) and _is_index(segment) and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
        if value is _MISSING:
            break
    return value


def _is_index(segment: str) -> bool:
    """Whether a path segment indexes a list: ASCII digits, few enough for int(). str.isdigit
    alone is true of "²", which int() refuses: a webhook whose condition had such a segment
    made every publish with a list there a 500 (attack 10), its account's whole batch lost.
    No list a body may hold has an index of 19 digits; int() refuses over 4,300."""
    return len(segment) < 19 and segment.isascii() and segment.isdigit()


class _Node:
    __slots__ = ()

    def matches(self, body: Mapping[str, Any], budget: Budget) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _All(_Node):
    children: tuple[_Node, ...]

    def matches(self, body: Mapping[str, Any], budget: Budget) -> bool:
        return all(child.matches(body, budget) for child in self.children)


@dataclass(frozen=True, slots=True)
class _Any(_Node):
    children: tuple[_Node, ...]

    def matches(self, body: Mapping[str, Any], budget: Budget) -> bool:
        return any(child.matches(body, budget) for child in self.children)


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    child: _Node

    def matches(self, body: Mapping[str, Any], budget: Budget) -> bool:
        return not self.child.matches(body, budget)


@dataclass(frozen=True, slots=True)
class _FieldTest(_Node):
    path: tuple[str, ...]
    tests: tuple[tuple[Test, Any], ...]
    exists: bool | None  # the $exists operand, if the operator object had one

    def matches(self, body: Mapping[str, Any], budget: Budget) -> bool:
        budget.spend(len(self.path))
        value = _resolve(body, self.path)
        if value is _MISSING:
            # A missing field fails every test except an explicit {"$exists": false}.
            return self.exists is False and not self.tests
        if self.exists is False:
            return False
        return all(test(value, operand, budget) for test, operand in self.tests)


class Verdict(enum.Enum):
    """What one evaluation found."""

    MATCH = "match"
    NO_MATCH = "no_match"
    # The evaluation visited MAX_VISITS elements without an answer: the event is not
    # delivered to the webhook (fan-out logs it), as a filter that cannot say yes says no.
    OVER_BUDGET = "over_budget"


@dataclass(frozen=True, slots=True)
class Condition:
    """A validated, compiled condition. `raw` is the JSON it was parsed from."""

    raw: Mapping[str, Any]
    _root: _Node = field(repr=False, compare=False)

    def evaluate(self, body: Mapping[str, Any], *, max_visits: int = MAX_VISITS) -> Verdict:
        """Whether the delivery body satisfies the condition, visiting at most `max_visits`
        elements (path segments, list elements, values compared)."""
        return self.measure(body, max_visits=max_visits)[0]

    def measure(
        self, body: Mapping[str, Any], *, max_visits: int = MAX_VISITS
    ) -> tuple[Verdict, int]:
        """`evaluate`, and the visits it cost (all of `max_visits` when over budget)."""
        budget = Budget(max_visits)
        try:
            matched = self._root.matches(body, budget)
        except OverBudget:
            return Verdict.OVER_BUDGET, max_visits
        return (Verdict.MATCH if matched else Verdict.NO_MATCH), max_visits - budget.left

    def matches(self, body: Mapping[str, Any]) -> bool:
        """Whether the delivery body satisfies the condition within the budget."""
        return self.evaluate(body) is Verdict.MATCH


# --- parsing ----------------------------------------------------------------------------------


def parse_conditions(raw: object) -> Condition:
    """Validate and compile a condition; `ValidationFailed(field="conditions")` if it is bad.

    Error descriptions name the place, e.g. `conditions["data.tags"]: unknown operator
    "$contans"`, because they are shown to the customer as they are.
    """
    compiler = _Compiler()
    root = compiler.condition(raw, _FIELD, depth=1)
    assert isinstance(raw, Mapping)  # condition() refused anything else
    return Condition(raw=raw, _root=root)


def _key(where: str, key: str | int) -> str:
    return f"{where}[{json.dumps(key)}]"


def _fail(where: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{where}: {problem}", field=_FIELD)


class _Compiler:
    """Turns condition JSON into nodes, counting nodes so abusive conditions are refused."""

    def __init__(self) -> None:
        self.nodes = 0

    def _count(self, where: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _fail(
                where,
                f"too complex: a condition may have at most {MAX_NODES} parts "
                "(objects, fields, operators and values)",
            )
        if depth > MAX_DEPTH:
            raise _fail(where, f"nested too deeply: at most {MAX_DEPTH} levels are allowed")

    def condition(self, raw: object, where: str, *, depth: int) -> _Node:
        if not isinstance(raw, Mapping):
            raise _fail(where, f"a condition must be a JSON object, not {_describe(raw)}")
        self._count(where, depth)
        children = [self._entry(key, value, where, depth) for key, value in raw.items()]
        return children[0] if len(children) == 1 else _All(tuple(children))

    def _entry(self, key: object, value: object, where: str, depth: int) -> _Node:
        if not isinstance(key, str):
            raise _fail(where, f"keys must be strings, not {_describe(key)}")
        here = _key(where, key)
        if key in _LOGICAL:
            return self._logical(key, value, here, depth)
        if key.startswith("$"):
            raise _fail(
                here,
                f"unknown logical operator {json.dumps(key)} "
                "(expected $and, $or or $not, or a field path)",
            )
        return self._field(_parse_path(key, here), value, here, depth)

    def _logical(self, operator: str, value: object, where: str, depth: int) -> _Node:
        if operator == "$not":
            return _Not(self.condition(value, where, depth=depth + 1))
        if not isinstance(value, list) or not value:
            raise _fail(where, f"{operator} takes a non-empty list of conditions")
        children = tuple(
            self.condition(item, _key(where, index), depth=depth + 1)
            for index, item in enumerate(value)
        )
        return _All(children) if operator == "$and" else _Any(children)

    def _field(self, path: tuple[str, ...], value: object, where: str, depth: int) -> _Node:
        self._count(where, depth)
        if not _is_operator_object(value):
            literal = self._literal(value, where, depth + 1)
            return _FieldTest(path, ((OPERATORS["$eq"], literal),), None)
        assert isinstance(value, Mapping)
        exists: bool | None = None
        tests: list[tuple[Test, Any]] = []
        for operator, operand in value.items():
            here = _key(where, operator)
            self._count(here, depth + 1)
            if operator == "$exists":
                exists = _exists_operand(operand, here)
            else:
                tests.append(self._operator(operator, operand, here, depth + 1))
        return _FieldTest(path, tuple(tests), exists)

    def _operator(self, operator: str, operand: object, where: str, depth: int) -> tuple[Test, Any]:
        if operator not in _ALL_OPERATORS:
            problem = f"unknown operator {json.dumps(operator)}"
            if not operator.startswith("$"):
                problem += " (operators and plain keys cannot be mixed in one object)"
            elif operator in _LOGICAL:
                problem += f" here: {operator} combines whole conditions, it cannot test a field"
            raise _fail(where, problem + f" (expected one of {', '.join(sorted(_ALL_OPERATORS))})")
        if operator in ("$in", "$nin") and not isinstance(operand, list):
            raise _fail(where, f"{operator} takes a list of values, not {_describe(operand)}")
        if operator in ("$gt", "$gte", "$lt", "$lte") and not _is_orderable(operand):
            raise _fail(
                where, f"{operator} compares with a number or a string, not {_describe(operand)}"
            )
        literal = self._literal(operand, where, depth)
        if operator in ("$in", "$nin"):
            assert isinstance(literal, list)
            return OPERATORS[operator], Members.of(literal)
        return OPERATORS[operator], literal

    def _literal(self, value: object, where: str, depth: int) -> object:
        """Check a value is plain JSON, counting its parts; operators may not hide inside."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or key.startswith("$"):
                    raise _fail(
                        where,
                        f"operators cannot be nested inside a value "
                        f"({json.dumps(key)}); use a dotted path or $and/$or/$not",
                    )
                self._count(where, depth + 1)
                self._literal(item, _key(where, key), depth + 1)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._count(where, depth + 1)
                self._literal(item, _key(where, index), depth + 1)
        elif not _is_json_scalar(value):
            raise _fail(where, f"{_describe(value)} is not a JSON value")
        return value


def _is_operator_object(value: object) -> bool:
    # One "$" key makes it an operator object, so {"$gt": 1, "x": 2} is refused (unknown
    # operator "x") rather than silently compared as a plain value.
    return isinstance(value, Mapping) and any(
        isinstance(key, str) and key.startswith("$") for key in value
    )


def _exists_operand(operand: object, where: str) -> bool:
    if not isinstance(operand, bool):
        raise _fail(where, f"$exists takes true or false, not {_describe(operand)}")
    return operand


def _parse_path(key: str, where: str) -> tuple[str, ...]:
    segments = tuple(key.split("."))
    if not all(segments):
        raise _fail(
            where,
            "a field path must not be empty or have empty segments "
            '(write "data.tags", not "data..tags" or ".tags")',
        )
    return segments


def _is_orderable(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int) and not isinstance(value, bool)


def _is_json_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _describe(value: object) -> str:
    names = {
        bool: "a boolean",
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        type(None): "null",
    }
    if isinstance(value, Mapping):
        return "an object"
    return names.get(type(value), f"a {type(value).__name__}")
