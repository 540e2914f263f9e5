"""`hookcast listen` prints what a delivery carries, and a delivery is written by whoever can
reach the port (or publish an event): its strings reach the user's terminal. Escape
sequences in them must arrive as visible text, not as commands to the terminal (an OSC 52
writes the clipboard, an OSC 0 the window's title, a CSI 2J clears the screen)."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from rich.console import Console

from hookcast.cli.listen import Check, render

# What rich itself writes to a terminal: SGR styles only (colour, bold, dim).
_RICH_STYLE = re.compile(r"\x1b\[[0-9;]*m")
# Controls but newline and tab, and the bidi embeddings, overrides and isolates, which make
# a terminal show the text after them reversed (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

BIDI = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
ESCAPES = BIDI + "\x1b]52;c;ZWNobyBvd25lZA==\x1b\\\x1b]0;owned\x07\x1b[2J\x9b2J"


def _printed(body: bytes, checks: list[Check] | None = None) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=100, highlight=False).print(
        render(body, {}, checks, 200)
    )
    return _RICH_STYLE.sub("", out.getvalue())


@pytest.mark.parametrize(
    "body",
    [
        # the title (the event's name) and the ids line, from a JSON body's strings
        orjson.dumps({"event": f"media_available{ESCAPES}"}),
        orjson.dumps({"event": "media_available", "media_id": f"m{ESCAPES}"}),
        orjson.dumps({"type": "video.encoded", "data": {"video_id": ESCAPES}}),
        # a body that is not JSON, printed as text
        b"not json " + ESCAPES.encode(),
    ],
    ids=["event", "top-level id", "envelope id", "raw body"],
)
def test_escape_sequences_in_a_delivery_reach_the_terminal_as_text(body: bytes) -> None:
    printed = _printed(body)
    assert not _CONTROL.findall(printed), printed
    assert "]52;c;" in printed  # shown, made harmless: not dropped
    assert "\\u202a" in printed


def test_a_checks_reason_reaches_the_terminal_as_text() -> None:
    printed = _printed(b"{}", [Check("JWT", "bad token \x1b]0;owned\x07")])
    assert not _CONTROL.findall(printed), printed
