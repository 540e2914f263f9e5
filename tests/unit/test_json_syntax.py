"""services/json_syntax.py: a text said not to be JSON is one the parser (orjson) refuses,
JSON is never said not to be, and the mistakes a client makes in a body are found, all
with no Python call per token or container."""

from __future__ import annotations

import json
import re
import sys
import tracemalloc
from types import FrameType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookcast.services.json_syntax import surely_not_json

_TRICKY = st.text(alphabet='[]{}"\\/,:n \n\x00\x1f\u2028é\U0001f600', max_size=8)
_NUMBERS = st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=30,
)


def _parses(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _spaced(text: bytes, spaces: list[bytes]) -> bytes:
    """`text` with whitespace after each structural byte outside strings (where JSON allows
    it), from `spaces` in turn."""
    turn = iter(spaces * (len(text) + 1))
    return re.sub(rb'("(?:[^"\\]|\\.)*")|([\[\]{},:])', lambda m: m[1] or m[2] + next(turn), text)


@given(document=_DOCUMENTS, spaces=st.lists(st.sampled_from([b"", b" ", b"\n\t", b"\r "])))
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_json_is_never_said_not_to_be(document: Any, spaces: list[bytes]) -> None:
    text = _spaced(orjson.dumps(document), spaces or [b""])
    assert _parses(text)
    assert not surely_not_json(text)
    escaped = json.dumps(document, ensure_ascii=True).encode()  # \u00e9, \ud83d\ude00
    assert _parses(escaped)
    assert not surely_not_json(escaped)


# One edit: where (taken modulo the text's length + 1), which byte, and how.
_EDITS = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(list(b'[]{},:"\\0123456789-+.eEtrufalsn \x00x\xff')),
    st.sampled_from(["insert", "replace", "delete"]),
)


# 2,000 edited texts per run, four edits of each of 500 documents: drawing the document is
# ~97% of an example's CPU (5.0-5.2 s for 2,000 documents with one edit each, 1.4-1.6 s for
# 500 with four; the check itself 0.12 s), and the slowest test of the lowest-versions run.
@given(document=_DOCUMENTS, edits=st.lists(_EDITS, min_size=4, max_size=4))
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_what_is_said_not_to_be_json_the_parser_refuses(
    document: Any, edits: list[tuple[int, int, str]]
) -> None:
    text = orjson.dumps(document)
    for at, byte, edit in edits:
        at %= len(text) + 1
        tail = text[at + (edit != "insert") :]
        changed = text[:at] + (b"" if edit == "delete" else bytes([byte])) + tail
        if surely_not_json(changed):
            assert not _parses(changed), changed


_BODY = orjson.dumps({"events": [{"event": "x", "data": {"a": [1, {"b": "c"}], "d": None}}] * 3})


@pytest.mark.parametrize(
    "mistake",
    [
        _BODY[:-1],  # cut off
        _BODY[: len(_BODY) // 2],
        _BODY[:-2] + b",]}",  # a trailing comma
        _BODY.replace(b"},{", b"}{", 1),  # a missing one
        _BODY.replace(b'"b"', b'"b""', 1),  # a quote too many
        _BODY.replace(b'"b"', b"b", 1),  # a key unquoted
        _BODY.replace(b"null", b"NaN"),
        _BODY.replace(b"null", b"None"),
        _BODY.replace(b"1,", b"01,", 1),  # JSON's grammar refuses it; read as 0 here
        _BODY.replace(b'"c"', b"'c'"),
        _BODY.replace(b'"c"', b'"\\c"'),  # an escape JSON has not
        _BODY.replace(b'"c"', b'"\\u12"'),
        _BODY.replace(b'"c"', b'"\x01"'),  # a control character in a string
        _BODY.replace(b'"c"', b'"\xff"'),  # not UTF-8
        _BODY.replace(b"[1,", b"[1:", 1),
        _BODY.replace(b"]", b"}", 1),  # brackets that do not pair
        _BODY + _BODY,  # two documents
        _BODY + b"x",
        b"\xef\xbb\xbf" + _BODY,  # a byte-order mark
        b"",
        b"events=1",
        b"1.",
        b"-",
        b"1e",
        b".5",
    ],
)
def test_a_clients_mistakes_are_found(mistake: bytes) -> None:
    if mistake != _BODY.replace(b"1,", b"01,", 1):
        assert not _parses(mistake)
        assert surely_not_json(mistake)
    else:  # a leading zero is one the grammar's shape hides: not decided, not JSON
        assert not surely_not_json(mistake)
        assert not _parses(mistake)


def test_a_deep_and_narrow_document_is_left_undecided_in_bounded_work() -> None:
    # 60 levels in each of 40,000 chains: a pass per level over nearly all of it.
    chains = b"[" + b",".join([b"[" * 60 + b"1" + b"]" * 60] * 40_000) + b"]"
    assert not surely_not_json(chains)
    assert not surely_not_json(chains[:-1] + b",]")  # not JSON either, and not decided


def test_reading_makes_no_python_call_per_token_or_container() -> None:
    body = b'{"events": [' + b'[1.5e3, {"k": null}],' * 200_000 + b"[]]}"
    calls = 0

    def count(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        said = surely_not_json(body)
    finally:
        sys.setprofile(None)
    assert not said
    assert calls < 100


def test_a_body_of_many_short_strings_is_read_in_little_more_memory_than_itself() -> None:
    # attack17: split at every quote at once, 5 MB of "ab" past the count made 2 million
    # objects: 141 MB at its peak (tracemalloc), and one C call holding the GIL that kept
    # the API's loop from running for 0.28-0.55 s at load 16, though in a thread.
    body = b"[" + b"[]," * 100_001 + b'"ab",' * 988_000 + b"1]"
    tracemalloc.start()
    try:
        said = surely_not_json(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not said
    assert peak < 4 * len(body)
