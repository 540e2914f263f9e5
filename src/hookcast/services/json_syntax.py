"""Whether a text is surely not a JSON document, told without parsing it.

A publish's body past its count of arrays and objects (services/events.py `check_body`) is
refused before it is parsed: parsing makes a Python list or dict of each, and 5 MB of `[]`
held the API's loop for seconds (attack 15). A body that is not JSON at all is still
answered as not JSON, as the parser answers it under the count, not as JSON too large.

Read with bytes methods alone, each one pass in C over the text (a regular expression's
substitution costs a call per match: 2.4 s for the 1.7 million `[]` of a 5 MB body at load
13):
strings become one byte each (a string followed by its colon another: a key), numbers and
the three literals a value byte, whitespace goes; then pass by pass a member (key and
value) becomes one byte, runs of members or values separated by commas one, and an array
or object of one member or value (or none) a value, until one value is left (JSON) or a
pass changes nothing (not JSON). The whole is read as the one member of an object, so that
values side by side at the top (`1, 2`) are refused as any other misplaced comma. A
document of a few levels takes a few passes, each shorter than the one before; a narrow
deep one would take a pass per level over nearly all of it, so past `_WORK` times the
text's length the reading stops undecided.
"""

from __future__ import annotations

import re

__all__ = ["surely_not_json"]

# Bytes JSON has nowhere: not in a string (escaped there), not between tokens. Their absence
# leaves the token bytes below free.
_CONTROL = bytes(set(range(0x20)) - set(b"\t\n\r"))
_STRING, _KEY, _VALUE, _MEMBER = b"\x01", b"\x02", b"\x03", b"\x04"
_ESCAPE_PAIRS = ((b"\\\\", b""), (b'\\"', b""))  # what `"` and `\` need no more reading
_BAD_ESCAPE = re.compile(rb"\\(?:[^/bfnrtu]|u(?![0-9a-fA-F]{4}))|\\\Z")
# Numbers are read in a few replaces over the whole text: every digit made a 0 and each run
# of them one 0 (so a leading zero's `00` is one too: read as JSON, which the parser then
# refuses), an exponent and a fraction each one byte, which must follow a 0 and go with it,
# then a sign with its 0; what is left of a number that is not JSON's stays, a byte no
# token accounts for or a value beside a value.
_NUMBER_BYTES = bytes.maketrans(b"123456789E", b"000000000e")
_EXPONENT, _FRACTION = b"\x05", b"\x06"
_NUMBER_STEPS = (
    *((b"e" + sign + b"0", _EXPONENT) for sign in (b"+", b"-", b"")),
    (b".0", _FRACTION),
    (b"0" + _FRACTION, b"0"),
    (b"0" + _EXPONENT, b"0"),
    (b"-0", b"0"),
    (b"0", _VALUE),
    (b"true", _VALUE),
    (b"false", _VALUE),
    (b"null", _VALUE),
)
_WHITESPACE = b" \t\n\r"
_SKELETON = b"[]{}," + _KEY + _VALUE
_WORK = 40  # bytes read by the passes, in lengths of the skeleton
_SLICE = 64 * 1024  # bytes split at quotes at once: ~32,000 objects at most


def surely_not_json(text: bytes) -> bool:
    """True when `text` is not one JSON document (RFC 8259, as orjson reads it); False when
    it is, or when this did not decide (a document deep and narrow), or when JSON's grammar
    allows what the parser refuses (a number past a float's range, a leading zero, a lone
    surrogate escape, nesting deeper than the parser goes)."""
    if len(text.translate(None, _CONTROL)) != len(text):
        return True
    if not text.isascii():
        try:
            text.decode()
        except UnicodeDecodeError:
            return True
    for pair, nothing in _ESCAPE_PAIRS:
        text = text.replace(pair, nothing)
    if b"\\" in text and _BAD_ESCAPE.search(text):
        return True
    outside = _outside_strings(text)
    if outside is None:
        return True
    skeleton = _values(outside)
    if skeleton.translate(None, _SKELETON):  # bytes no token accounts for
        return True
    return not _reduces_to_a_value(b"{" + _KEY + skeleton + b"}")


def _outside_strings(text: bytes) -> bytes | None:
    """The text outside strings, each string one `_STRING` (every quote left opens or closes
    one); None when a string is left open. Read a slice at a time: split at once, 5 MB of
    "ab" made 2 million objects (141 MB at the peak, tracemalloc) in one C call, which held
    the GIL, and the API's loop with it, for 0.24-0.68 s at load 13-16 (attack17). Written
    out: no Python call per slice."""
    kept: list[bytes] = []
    inside = 0  # whether the slice starts in a string
    for start in range(0, len(text), _SLICE):
        pieces = text[start : start + _SLICE].split(b'"')
        kept.append(_STRING.join(pieces[inside::2]))
        if (inside + len(pieces)) % 2 == 0:  # ends in a string
            if len(pieces) > 1:  # opened in this slice: the string's one byte
                kept.append(_STRING)
            inside = 1
        else:
            inside = 0
    return None if inside else b"".join(kept)


def _values(outside: bytes) -> bytes:
    """The text outside strings (each string one `_STRING`) with its numbers and literals
    as `_VALUE`, without whitespace, and each key (a string and its colon) one `_KEY`."""
    outside = _halved(outside.translate(_NUMBER_BYTES), b"00", b"0")
    for found, made in _NUMBER_STEPS:
        outside = outside.replace(found, made)
    outside = outside.translate(None, _WHITESPACE).replace(_STRING + b":", _KEY)
    return outside.replace(_STRING, _VALUE)


def _reduces_to_a_value(skeleton: bytes) -> bool:
    work = _WORK * len(skeleton)
    while len(skeleton) > 1:
        before = len(skeleton)
        skeleton = skeleton.replace(_KEY + _VALUE, _MEMBER)
        skeleton = _halved(skeleton, _VALUE + b"," + _VALUE, _VALUE)
        skeleton = _halved(skeleton, _MEMBER + b"," + _MEMBER, _MEMBER)
        for container in (b"[]", b"{}", b"[" + _VALUE + b"]", b"{" + _MEMBER + b"}"):
            skeleton = skeleton.replace(container, _VALUE)
        if len(skeleton) == before:
            return False
        work -= 8 * before
        if work < 0:
            return True  # undecided: not said to be other than JSON
    return skeleton == _VALUE


def _halved(text: bytes, pair: bytes, one: bytes) -> bytes:
    """`text` with each run of `pair`s overlapping at their ends made one `one` (a replace
    takes every other pair of a run: a run of n takes log2(n) of them)."""
    while True:
        shorter = text.replace(pair, one)
        if len(shorter) == len(text):
            return text
        text = shorter
