"""The runnable parts of a Markdown page (README.md, docs/sdk.md), read as a test reads them.

A fenced block is runnable when the line before it is a marker comment, invisible once
rendered:

    <!-- walkthrough: run -->            a ```sh block: commands, run in order
    <!-- walkthrough: serve output -->   a ```text block: what `hookcast serve` prints
    <!-- walkthrough: listen output -->  a ```text block: what `hookcast listen` prints next
    <!-- walkthrough: python -->         a ```python block: a script, run as it is written

In a command or script, a comment line `# -> TEXT` shows what the command before it (a
script: the script) prints; `...` in TEXT stands for anything on the line. Expected lines
are found in order, each after the one before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Block", "Step", "first_missing", "pattern", "runnable_blocks", "unboxed"]

_MARKER = re.compile(r"^<!--\s*walkthrough:\s*(?P<kind>[a-z ]+?)\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
_EXPECTED = re.compile(r"^\s*# -> ?(?P<text>.*)$")
KINDS = ("run", "serve output", "listen output", "python")
# Rich's panel borders around `hookcast listen`'s output, and the padding inside them.
_BOX = "╭╮╰╯│─ "


@dataclass(frozen=True, slots=True)
class Step:
    """One command (continuation lines joined) and the lines it is shown to print."""

    command: str
    expected: tuple[str, ...]
    line: int  # where the command starts in the page, for failure messages


@dataclass(frozen=True, slots=True)
class Block:
    """A marked fenced block: its kind, its text, and (run blocks) its steps."""

    kind: str
    text: str
    line: int
    steps: tuple[Step, ...] = ()

    def expected(self) -> tuple[str, ...]:
        """An output block's lines, or a script's `# ->` lines, as text to find."""
        if self.kind == "python":
            found = (_EXPECTED.match(line) for line in self.text.splitlines())
            return tuple(match.group("text") for match in found if match)
        return tuple(unboxed(line) for line in self.text.splitlines() if unboxed(line))


def runnable_blocks(markdown: str) -> list[Block]:
    """The page's marked blocks, in page order."""
    lines = markdown.splitlines()
    blocks = []
    for number, line in enumerate(lines):
        marker = _MARKER.match(line)
        if marker is None:
            continue
        kind = marker.group("kind")
        assert kind in KINDS, f"line {number + 1}: unknown walkthrough block {kind!r}"
        fence = _FENCE.match(lines[number + 1]) if number + 1 < len(lines) else None
        assert fence is not None, f"line {number + 1}: a walkthrough marker before no fence"
        body = _fenced_body(lines, number + 2)
        start = number + 3  # the first line of the body, counted from 1
        steps = tuple(_steps(body, start)) if kind == "run" else ()
        blocks.append(Block(kind=kind, text="\n".join(body), line=start, steps=steps))
    return blocks


def _fenced_body(lines: Sequence[str], first: int) -> list[str]:
    for end in range(first, len(lines)):
        if lines[end].startswith("```"):
            return list(lines[first:end])
    raise AssertionError(f"line {first}: a fenced block that never closes")


def _steps(body: Sequence[str], start: int) -> list[Step]:
    """Commands with their `# ->` lines; comment-only lines are prose and are dropped."""
    steps: list[Step] = []
    command: list[str] = []
    for offset, line in enumerate(body):
        expected = _EXPECTED.match(line)
        if expected is not None:
            assert steps, f"line {start + offset}: '# ->' before any command"
            last = steps[-1]
            steps[-1] = Step(last.command, (*last.expected, expected.group("text")), last.line)
        elif command or (line.strip() and not line.lstrip().startswith("#")):
            command.append(line)  # bash joins a line ending in a backslash
            if not line.endswith("\\"):
                first_line = start + offset - len(command) + 1
                steps.append(Step("\n".join(command), (), first_line))
                command = []
    assert not command, f"line {start}: a block that ends in a continuation line"
    return steps


def unboxed(line: str) -> str:
    """A line without the panel border and padding around it."""
    return line.strip(_BOX)


def pattern(expected: str) -> re.Pattern[str]:
    """`expected` as a regular expression: literal, but `...` is anything on the line."""
    parts = (re.escape(part) for part in expected.split("..."))
    return re.compile(".*?".join(parts))


def first_missing(expected: Sequence[str], lines: Sequence[str]) -> str | None:
    """The first of `expected` not found in `lines` after the one before it was, or None
    when all were found in order. Each expected line is matched within one line."""
    position = 0
    for wanted in expected:
        compiled = pattern(wanted)
        for index in range(position, len(lines)):
            if compiled.search(lines[index]):
                position = index + 1
                break
        else:
            return wanted
    return None
