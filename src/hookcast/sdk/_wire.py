"""Reads the API's JSON into the SDK's dataclasses (sdk/types.py), by their annotations.

The dataclasses are the SDK's one description of each answer: a field is read from the key
of its name, at the top of the object or in its `metadata` (JW Player's shape keeps a
resource's settings there), or from the key `wire(...)` names; `wire(REST)` gathers the keys
no other field reads. Each value is converted as the field is annotated: ISO 8601 strings
to `datetime`, lists to tuples, objects to the annotated dataclass. A missing key takes the
field's default, or None where the field may be None. tests/unit/sdk/test_sdk_wire.py checks
the result against every answer the API's OpenAPI document declares.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

REST = "*"  # wire(REST): every key that no other field of the dataclass reads
_KEY = "wire"
_MISSING = object()

Convert = Callable[[Any], Any]


def wire(key: str) -> dict[str, str]:
    """`field(metadata=wire("id"))`: the field is read from the key `key`."""
    return {_KEY: key}


def read(kind: type[T], data: Mapping[str, Any]) -> T:
    """`kind` (a dataclass of sdk/types.py) from one JSON object of the API."""
    plan = _PLANS.get(kind) or _plan(kind)
    flat = {**data, **data["metadata"]} if "metadata" in data else data
    values: dict[str, Any] = {}
    for name, key, convert, default in plan.fields:
        value = flat.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            value = default
        elif convert is not None:
            value = convert(value)
        values[name] = value
    if plan.rest is not None:
        values[plan.rest] = {k: v for k, v in data.items() if k not in plan.keys}
    return kind(**values)


# A field's name, its key, how its value converts (None: as JSON has it), its default.
_Field = tuple[str, str, Convert | None, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    fields: tuple[_Field, ...]  # the fields read from a key of their own
    rest: str | None  # the field that gathers the other keys, if any
    keys: frozenset[str]  # those the fields read, and JW Player's envelope, which none carries


_PLANS: dict[type, _Plan] = {}


def _plan(kind: type) -> _Plan:
    hints = typing.get_type_hints(kind)
    fields, rest = [], None
    for field in dataclasses.fields(kind):
        key, hint = field.metadata.get(_KEY, field.name), hints[field.name]
        if key == REST:
            rest = field.name
        else:
            fields.append((field.name, key, _converter(hint), _default(field, hint)))
    keys = {key for _name, key, _convert, _default in fields}
    envelope = {"metadata", "relationships", "schema", "type"}
    plan = _PLANS[kind] = _Plan(tuple(fields), rest, frozenset(keys | envelope))
    return plan


def _default(field: dataclasses.Field[Any], hint: Any) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    optional = _is_union(hint) and type(None) in typing.get_args(hint)
    return None if optional else _MISSING


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _converter(hint: Any) -> Convert | None:
    if _is_union(hint):
        return _union(hint)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        return tuple if item is None else lambda value: tuple(item(part) for part in value)
    if origin is Mapping or origin is dict:
        return dict
    if dataclasses.is_dataclass(hint):
        return lambda value: read(hint, value)  # type: ignore[arg-type]
    # Numbers stay as JSON has them: a retry delay of 5 stays 5, not 5.0.
    return datetime.fromisoformat if hint is datetime else None


def _union(hint: Any) -> Convert | None:
    """null stays None; otherwise the JSON value's own type picks the option, a list or not
    (`retry_policy` is a preset's name or the list of delays)."""
    options = [option for option in typing.get_args(hint) if option is not type(None)]
    by_list = {typing.get_origin(option) is tuple: _converter(option) for option in options}
    if not any(by_list.values()):
        return None  # str | None, int | None...: as JSON has it

    def convert(value: Any) -> Any:
        option = None if value is None else by_list.get(isinstance(value, list))
        return value if option is None else option(value)

    return convert
