"""How the remote commands print for people: times in UTC with their zone, tables that fit
an 80-column terminal (few columns, details on a cell's second line, and `shorten` keeps a
long cell to a few words instead of a tall cell).

A table's cells are text, never rich's markup, and their control characters are printed
as escapes: they hold what others wrote (a webhook's name by any editor of the account, a
receiver's answer), whose `[link=...]` would make a link of other words and whose ESC ]52
would write the reader's clipboard."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

__all__ = [
    "CONTROLS",
    "console",
    "kv_table",
    "printable",
    "printable_json",
    "shorten",
    "table",
    "when",
    "when_exact",
]

# C0 and C1 controls but newline and tab (rich strips only BEL, BS, VT, FF and CR), and
# Unicode's bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069):
# a terminal that lays text out right to left shows the characters after one reversed, so
# a name could show another URL or id than it holds ("Trojan Source", CVE-2021-42574).
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def console() -> Console:
    """stdout, without rich's guesses at colouring numbers and URLs."""
    return Console(highlight=False)


def printable(text: str) -> str:
    """`text` with each control character written as its escape (ESC as \\x1b, RLO as
    \\u202e): shown to the reader, never obeyed by the terminal."""
    return CONTROLS.sub(lambda match: ascii(match.group())[1:-1], text)


def printable_json(value: Any) -> str:
    """`value` as indented JSON whose control characters are all \\u escapes: json.dumps
    escapes C0 ones itself, but not DEL, C1 (\\x9b is CSI to many terminals) nor bidi. Only
    strings can hold them, where an escape is JSON too: the text reads back the same."""
    dumped = json.dumps(value, indent=2, ensure_ascii=False)
    return CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped)


class _TextTable(Table):
    """A table whose string cells are text, not markup, and whose controls are escapes."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        super().add_row(*map(_cell, renderables), style=style, end_section=end_section)


def _cell(value: RenderableType | None) -> RenderableType | None:
    if isinstance(value, str):
        return Text(printable(value))
    if isinstance(value, Text) and CONTROLS.search(value.plain):
        return Text(printable(value.plain), style=value.style)
    return value


def when(value: datetime | None) -> str:
    """`2026-12-05 08:55 UTC` (minutes: what a person reads in a table), or "-"."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def when_exact(value: datetime | None) -> str:
    """`2026-12-05 08:55:08 UTC`, for one resource's details."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def deliveries(count: int, kind: str = "") -> str:
    """ "1 failed delivery", "3 failed deliveries": a count as a person says it."""
    noun = "delivery" if count == 1 else "deliveries"
    return f"{count} {kind} {noun}" if kind else f"{count} {noun}"


def shorten(text: str | None, width: int) -> str:
    """One line of at most `width` characters, "…" where it was cut; "-" for nothing."""
    flat = " ".join((text or "").split())
    if not flat:
        return "-"
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(title: str, columns: Sequence[str], *, whole: Mapping[str, int] | None = None) -> Table:
    """A borderless table whose cells wrap at spaces (a word wider than its column folds).

    Rich then gives each column at least its longest word, so with the few columns these
    tables have ("status", an 8-character id...) nothing is cut in 80 columns; what is
    long (names, URLs, answers) takes more lines instead. Put a row's second detail on a
    second line of a cell rather than in another column. `whole` gives columns that must
    not fold (ids people copy) their width."""
    grid = _TextTable(
        title=Text(printable(title), style="table.title"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_lines=True,
    )  # show_lines: a blank line between rows, which take two lines or more
    for column in columns:
        grid.add_column(column, overflow="fold", width=(whole or {}).get(column))
    return grid


def kv_table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    """One resource: a name column and a value column that folds."""
    grid = _TextTable(
        show_header=False,
        title=Text(printable(title), style="table.title"),
        title_justify="left",
        box=box.SIMPLE,
    )
    grid.add_column("field", style="bold", no_wrap=True)
    grid.add_column("value", overflow="fold")
    for name, value in rows:
        grid.add_row(name, value)
    return grid
