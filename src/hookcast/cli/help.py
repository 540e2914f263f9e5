"""Help screens in plain words: `--site SITE`, `--json` alone, `Usage: ... EVENT`.

Typer's own help names each value by its Python type (`<str>`, `<list[str]>`, `<bool>` after
a flag) and writes a required argument as `{event}`. Every group of the CLI is a
`PlainGroup`, which gives its commands `PlainHelp` too, so no command can be left out.
The layout is click's HelpFormatter: at most 80 columns, wrapped to the terminal. Usage
errors use the same usage line, and (the root app has no rich markup) are plain lines too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from typer.core import TyperCommand, TyperGroup

from hookcast.domain.catalog import closest_name

__all__ = ["PlainCommand", "PlainGroup"]

Formatter = Any  # click's HelpFormatter (vendored by newer Typers)
Context = Any  # click's Context

# A limit no first sentence reaches: short help is then never cut with "...".
_WHOLE_SENTENCE = 1000


def _format_usage(command: Any, ctx: Context, formatter: Formatter) -> None:
    """`Usage: hookcast trigger [OPTIONS] EVENT`, in help and above a usage error."""
    pieces = ["[OPTIONS]", *(_argument_usage(p) for p in _arguments(command, ctx))]
    if isinstance(command, TyperGroup):
        pieces.append("COMMAND [ARGS]...")
    formatter.write_usage(ctx.command_path, " ".join(pieces))


def _format_help(command: Any, ctx: Context, formatter: Formatter) -> None:
    """Usage, the docstring, arguments, options (and a group's commands)."""
    group = isinstance(command, TyperGroup)
    _format_usage(command, ctx, formatter)
    command.format_help_text(ctx, formatter)
    _section(formatter, "Arguments", [_argument_row(p) for p in _arguments(command, ctx)])
    _section(formatter, "Options", [_option_row(p) for p in _options(command, ctx)])
    if group:
        _format_commands(command, ctx, formatter)


def _format_commands(group: Any, ctx: Context, formatter: Formatter) -> None:
    """Each command beside its docstring's whole first sentence, wrapped. click cuts it at
    what is left of one line ("Run the API, the dashboard and (unless --no-worker) a..."),
    which left most of `hookcast --help` ending mid-sentence."""
    rows = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            rows.append((name, command.get_short_help_str(limit=_WHOLE_SENTENCE)))
    _section(formatter, "Commands", rows)


class PlainCommand(TyperCommand):
    """A command with plain help (no state of its own: see PlainGroup)."""

    format_help = _format_help
    format_usage = _format_usage


class PlainGroup(TyperGroup):
    """A group with plain help, whose commands get plain help here, in one place."""

    format_help = _format_help
    format_usage = _format_usage

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in self.commands.values():
            if type(command) is TyperCommand:
                # The same object with _format_help: PlainCommand adds no state.
                command.__class__ = PlainCommand

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        """An id where the command goes (`webhooks secret 2yW4KmiG`) is answered with the
        command it lacks; click said only "No such command '2yW4KmiG'". A mistyped command
        keeps click's "Did you mean"."""
        name = args[0] if args else ""
        names = list(self.list_commands(ctx))
        unknown = bool(name) and not name.startswith("-") and name not in names
        if unknown and closest_name(name, names) is None:
            example = next((n for n in names if any(_arguments(self.commands[n], ctx))), None)
            if example is not None:
                ctx.fail(
                    f"No such command {name!r}: the command comes first, e.g. "
                    f"{ctx.command_path} {example} {name}"
                )
        return super().resolve_command(ctx, args)


def _arguments(command: Any, ctx: Context) -> Iterator[Any]:
    return (p for p in command.get_params(ctx) if p.param_type_name == "argument")


def _options(command: Any, ctx: Context) -> Iterator[Any]:
    return (p for p in command.get_params(ctx) if p.param_type_name == "option")


def _section(formatter: Formatter, title: str, rows: list[tuple[str, str]]) -> None:
    if rows:
        with formatter.section(title):
            formatter.write_dl(rows)


def _metavar(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    if param.param_type_name == "argument":
        return str(param.name).upper()
    longest: str = max(param.opts, key=len)
    return longest.lstrip("-").replace("-", "_").upper()


def _argument_usage(param: Any) -> str:
    name = _metavar(param) + ("..." if param.nargs != 1 else "")
    return name if param.required else f"[{name}]"


def _argument_row(param: Any) -> tuple[str, str]:
    return _metavar(param), _with_notes(param.help or "", _notes(param))


def _option_row(param: Any) -> tuple[str, str]:
    names = ", ".join(param.opts)
    if getattr(param, "is_flag", False):
        if param.secondary_opts:
            names += " / " + ", ".join(param.secondary_opts)
    else:
        names += f" {_metavar(param)}"
    return names, _with_notes(param.help or "", _notes(param))


def _notes(param: Any) -> list[str]:
    notes = []
    envvar = getattr(param, "envvar", None)
    if envvar and getattr(param, "show_envvar", True):
        notes.append(f"env var: {envvar}")
    default = param.default
    shown = getattr(param, "show_default", True) is not False
    if shown and not getattr(param, "is_flag", False) and default not in (None, "", (), []):
        notes.append(f"default: {default}")
    if param.required:
        notes.append("required")
    return notes


def _with_notes(text: str, notes: list[str]) -> str:
    return f"{text}  [{'; '.join(notes)}]" if notes else text
