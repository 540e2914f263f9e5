"""Small validators shared by the use-cases. Each raises ValidationFailed naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from hookcast.domain.errors import ValidationFailed

_CONTAINERS = frozenset((dict, list, tuple))


def text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string", field=field)
    if "\x00" in value:  # PostgreSQL cannot store it; refuse it on every backend alike
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    stripped = value.strip()
    if required and not stripped:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(stripped) > max_length:
        raise ValidationFailed(f"{field} is longer than {max_length} characters", field=field)
    return stripped


def string_list(value: object, *, field: str, max_items: int = 1000) -> list[str]:
    """A non-empty list of strings, duplicates dropped, order kept."""
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(f"{field} must be a non-empty list of strings", field=field)
    if len(value) > max_items:
        raise ValidationFailed(f"{field} has more than {max_items} items", field=field)
    if not all(isinstance(item, str) for item in value):
        raise ValidationFailed(f"{field} must contain only strings", field=field)
    if any("\x00" in item for item in value):
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    return list(dict.fromkeys(value))


def integer(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be an integer", field=field)
    if not low <= value <= high:
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return value


def boolean(value: object, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


# What `timestamp` accepts (datetime.fromisoformat, with "Z" for UTC), said in its errors:
# a date alone was accepted and its midnight meant, but the error named only a full time.
TIME_FORMS = (
    "an ISO 8601 date or time such as 2024-08-27, 2024-08-27T00:15:45Z or "
    "2024-08-27T02:15:45+02:00 (UTC when it names no offset)"
)


def timestamp(value: object, *, field: str) -> datetime:
    """An ISO 8601 date or time (`TIME_FORMS`); one without an offset is taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(f"{field} must be {TIME_FORMS}", field=field) from None
    else:
        raise ValidationFailed(f"{field} must be a string: {TIME_FORMS}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first datetime in UTC
        raise ValidationFailed(
            f"{field} is out of range once converted to UTC", field=field
        ) from None


def one_of(value: object, choices: Sequence[str], *, field: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationFailed(f"{field} must be one of: {', '.join(choices)}", field=field)
    return value


def json_object(
    value: Mapping[str, Any], *, field: str, max_depth: int, max_bytes: int
) -> Mapping[str, Any]:
    """`value` if it is at most `max_depth` levels deep (itself the first) and at most
    `max_bytes` long as JSON: a document past either limit could be stored but not
    delivered (the serializers and many receivers' parsers stop at a depth)."""
    if _deeper_than(value, max_depth):
        raise ValidationFailed(f"{field} is nested deeper than {max_depth} levels", field=field)
    try:
        size = len(orjson.dumps(value, default=_plain))
    except TypeError:  # from in-process callers: a value JSON has no form for
        raise ValidationFailed(f"{field} must hold only JSON values", field=field) from None
    if size > max_bytes:
        raise ValidationFailed(f"{field} is over {max_bytes} bytes as JSON", field=field)
    return value


def _deeper_than(value: object, limit: int) -> bool:
    # Level by level, with no recursion for a crafted document to exhaust.
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for item in level for child in _nested(item)]
        if not level:
            return False
    return True


def _nested(item: Any) -> Iterable[Any]:
    children = _children(item)
    # map(type) runs in C: a long flat list (the usual big document) costs no Python loop.
    if _CONTAINERS.isdisjoint(map(type, children)):
        return ()
    return [child for child in children if type(child) in _CONTAINERS]


def _children(item: object) -> Iterable[Any]:
    # The exact types first: below the top every item is a dict, list or tuple (_CONTAINERS),
    # and a check against the Mapping ABC cost more than the rest of a small event's check
    # (a list is not a Mapping, which the ABC finds out the slow way).
    if type(item) is list or type(item) is tuple:
        return item
    if type(item) is dict or isinstance(item, Mapping):
        return item.values()
    return cast(Iterable[Any], item)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):  # orjson serializes dict natively, other mappings not
        return dict(value)
    raise TypeError
