"""Small validators shared by the use-cases. Each raises ValidationFailed naming the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

import orjson

from hookcast.domain.errors import LimitExceeded, ValidationFailed

# Re-exported: the use-cases validate times as `v.timestamp`.
from hookcast.domain.times import TIME_FORMS as TIME_FORMS
from hookcast.domain.times import timestamp as timestamp


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


def one_of(value: object, choices: Sequence[str], *, field: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationFailed(f"{field} must be one of: {', '.join(choices)}", field=field)
    return value


def json_object(
    value: Mapping[str, Any],
    *,
    field: str,
    max_depth: int,
    max_bytes: int,
    max_containers: int,
) -> Mapping[str, Any]:
    """`value` if it is at most `max_depth` levels deep (itself the first), at most
    `max_bytes` long as JSON and made of at most `max_containers` arrays and objects
    (itself one): a document past the first two could be stored but not delivered (the
    serializers and many receivers' parsers stop at a depth), and the third bounds what a
    worker holds for each queued delivery of it (a Python list or dict of its own per array
    or object: 255 KB of `[]` is 85,000 of them, about 5 MB)."""
    try:
        text = orjson.dumps(value, default=_plain)
    except TypeError as error:  # from in-process callers: a value JSON has no form for
        if str(error) == _ORJSON_TOO_DEEP:  # past orjson's 254 levels, so past max_depth
            raise _too_deep(field, max_depth) from None
        raise ValidationFailed(f"{field} must hold only JSON values", field=field) from None
    # Brackets inside strings count here too: an upper bound, exact for the usual event.
    brackets = text.count(b"[") + text.count(b"{")
    if brackets > min(max_depth, max_containers):
        outside = _outside_strings(text)
        found = outside.count(b"[") + outside.count(b"{")
        if found > max_containers:
            raise LimitExceeded(
                f"{field} holds {found} arrays and objects; at most {max_containers} are "
                "allowed in one event",
                field=field,
            )
        if found > max_depth and _deeper_than(outside, max_depth):
            raise _too_deep(field, max_depth)
    if len(text) > max_bytes:
        raise ValidationFailed(f"{field} is over {max_bytes} bytes as JSON", field=field)
    return value


def containers_past(text: bytes, limit: int) -> int:
    """How many arrays and objects the JSON document `text` holds if that is more than
    `limit`, else 0: its `[` and `{` outside strings, counted with bytes methods (in C)
    before the document is parsed. Exact for valid JSON; for text that is not, a number
    (its parser then refuses it, or this count already has)."""
    if text.count(b"[") + text.count(b"{") <= limit:  # the usual body: decided at once
        return 0
    outside = _outside_strings(text)
    found = outside.count(b"[") + outside.count(b"{")
    return found if found > limit else 0


_ORJSON_TOO_DEEP = "Recursion limit reached"


def _too_deep(field: str, max_depth: int) -> ValidationFailed:
    return ValidationFailed(f"{field} is nested deeper than {max_depth} levels", field=field)


# The depth is read from the JSON text with bytes methods alone, all in C. A walk of the
# document with a Python call per array or object cost 1.5-2.8 s of the API's event loop for
# a publish of 19 events of 255 KB of empty arrays, against 0.02-0.14 s to serialise them
# (a loaded 2-core machine; attack 15), and every account's requests waited behind it.
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b'"[]{}'))


def _outside_strings(text: bytes) -> bytes:
    """The brackets (`[]{}`) of the JSON document `text` that are outside its strings, in
    order, nothing else."""
    # An escaped backslash or quote is a pair (JSON's escapes start with a backslash, and
    # `replace` takes a run of backslashes pair by pair from its left), so once those are
    # gone every quote left opens or closes a string. Whitespace and every other byte go
    # with `translate`: what JSON allows between tokens does not matter.
    unescaped = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.translate(None, _NOT_BRACKETS).split(b'"')[::2])


def _deeper_than(outside: bytes, limit: int) -> bool:
    """Whether the brackets `outside` (`_outside_strings` of a JSON document) nest arrays
    and objects more than `limit` levels deep."""
    # Each pass drops the innermost arrays and objects ("[]" once both are "[...]"): one
    # level, however many there are. A pass that leaves more than half is narrow and deep
    # (thousands of chains 60 levels deep would take 60 passes over them all): the rest's
    # depth is then its deepest running count of "[" less "]", also in C (accumulate, max).
    nesting = outside.translate(_BRACKETS)
    for passes in range(limit):
        shallower = nesting.replace(b"[]", b"")
        if not shallower:
            return False
        if 2 * len(shallower) > len(nesting):
            return passes + 1 + max(accumulate(map(_STEP.__getitem__, shallower))) > limit
        nesting = shallower
    return True


_STEP = [1 if byte == ord("[") else -1 for byte in range(256)]  # only "[" and "]" remain


def json_text(value: object) -> bytes | None:
    """`value` as JSON text (a mapping of any kind as an object), or None when JSON has no
    form for some of it or it is nested past the serializer's 254 levels."""
    try:
        return orjson.dumps(value, default=_plain)
    except TypeError:
        return None


def _plain(value: object) -> object:
    if isinstance(value, Mapping):  # orjson serializes dict natively, other mappings not
        return dict(value)
    raise TypeError
