from __future__ import annotations

import pytest

from hookcast.domain.storable import storable_text

R = "\ufffd"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("ok", "ok"),
        ("", ""),
        ("a\x00b", f"a{R}b"),
        ("\x00\x00", R * 2),
        ("x\ud800y", f"x{R * 3}y"),  # a lone surrogate: 3 bytes that are not UTF-8
        ("é ü ✓ \U0001f600", "é ü ✓ \U0001f600"),  # valid text is kept exactly
        (R, R),
        (b"ok", "ok"),
        (b"a\x00b", f"a{R}b"),
        (b"a\xffb", f"a{R}b"),
        (b"\xc3", R),  # a cut multi-byte sequence
        ("é".encode(), "é"),
    ],
)
def test_storable_text(value: str | bytes, stored: str) -> None:
    assert storable_text(value) == stored


@pytest.mark.parametrize("value", ["a\x00b", "x\ud800y", b"\xff\x00\xfe"])
def test_the_result_has_no_nul_and_encodes_as_utf8(value: str | bytes) -> None:
    stored = storable_text(value)

    assert "\x00" not in stored
    assert stored.encode("utf-8")
