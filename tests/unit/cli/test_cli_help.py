"""Every command's --help, as a person reads it in an 80-column terminal: no line wider,
no Python type names (`<str>`, `<list[str]>`, `<bool>` after a flag), usage in plain
metavars (`EVENT`, not `{event}`), and an example."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from hookcast.cli import app

PYTHON_TYPES = re.compile(r"<\w+(\[[^\]]*\])?>|\blist\[|\bdict\[|\btuple\[|\{[a-z_]+\}")


def every_command() -> list[list[str]]:
    """The path of every group and command, found by walking the app."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:  # Typer's (click's) command classes
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


COMMANDS = every_command()


def test_the_walk_reaches_the_nested_commands() -> None:
    assert ["webhooks", "secret", "rotate"] in COMMANDS
    assert ["webhooks", "flowplayer-secret", "set"] in COMMANDS
    assert ["deliveries", "retry"] in COMMANDS
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "hookcast")
@pytest.mark.parametrize("columns", ["80", "200"])
def test_help_fits_80_columns_and_names_no_python_type(path: list[str], columns: str) -> None:
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": columns}, prog_name="hookcast"
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"Usage: hookcast {' '.join(path)}".rstrip())
    assert "Example: " in text
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    assert not PYTHON_TYPES.search(text), PYTHON_TYPES.search(text)
    assert "Traceback" not in text


def test_flags_take_no_value_and_values_are_named() -> None:
    text = CliRunner().invoke(app, ["serve", "--help"]).output
    assert re.search(r"^\s+--no-worker\s+API only", text, re.MULTILINE)
    assert re.search(r"^\s+--port PORT\s", text, re.MULTILINE)
    text = CliRunner().invoke(app, ["webhooks", "update", "--help"], prog_name="hookcast").output
    assert "--enable / --disable  " in text
    assert "Usage: hookcast webhooks update [OPTIONS] WEBHOOK_ID" in text


def command_summaries(text: str) -> dict[str, str]:
    """A group's help's "Commands:" section: each command and its summary, wrapped lines
    joined."""
    summaries: dict[str, str] = {}
    for line in text.split("Commands:\n", 1)[1].splitlines():
        row = re.match(r"^  (\S+)\s+(.*)$", line)
        if row:
            name = row.group(1)
            summaries[name] = row.group(2)
        elif line.strip():
            summaries[name] += " " + line.strip()
    return summaries


def is_group(path: list[str]) -> bool:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return bool(getattr(command, "commands", None))


GROUPS = [path for path in COMMANDS if is_group(path)]


@pytest.mark.parametrize("path", GROUPS, ids=lambda path: " ".join(path) or "hookcast")
def test_a_group_lists_each_command_with_its_whole_first_sentence(path: list[str]) -> None:
    # click cut each summary at what was left of the line: `hookcast --help` read "serve
    # Run the API, the dashboard and (unless --no-worker) a..." at 80 columns.
    text = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}).output
    summaries = command_summaries(text)
    assert summaries
    cut = {n: said for n, said in summaries.items() if said.endswith("...") or said[-1] != "."}
    assert not cut, cut


def test_serve_and_replay_are_summed_up_in_full() -> None:
    root = command_summaries(CliRunner().invoke(app, ["--help"]).output)
    assert root["serve"] == (
        "Run the API, the dashboard and (unless --no-worker) a delivery worker in one process."
    )
    hooks = command_summaries(CliRunner().invoke(app, ["webhooks", "--help"]).output)
    assert hooks["replay"].endswith("in publish order; at most 10,000 at once.")


def test_usage_errors_are_plain_lines_naming_the_metavar() -> None:
    result = CliRunner().invoke(app, ["webhooks", "get"], prog_name="hookcast")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "Usage: hookcast webhooks get [OPTIONS] WEBHOOK_ID"
    assert "Error: Missing argument 'WEBHOOK_ID'." in result.output
    assert "╭" not in result.output  # no drawn box


def test_every_argument_and_option_says_what_it_is() -> None:
    # `sites create` and `accounts create` showed "NAME  [required]" and nothing else.
    bare = [
        f"{' '.join(path)} {param.name}"
        for path in COMMANDS
        for command in [_command(path)]
        for param in getattr(command, "params", [])
        if param.name != "help"
        and not getattr(param, "help", None)
        # The lowest Typer pyproject allows drops an Annotated argument's help (and shows
        # none): there only the options can be checked.
        and (_ARGUMENT_HELP_KEPT or param.param_type_name != "argument")
    ]
    assert not bare, bare


def _argument_help_kept() -> bool:
    """Whether this Typer keeps an Annotated argument's help on its Click parameter."""
    probe = typer.Typer()

    @probe.command()
    def one(name: Annotated[str, typer.Argument(help="probe")]) -> None: ...

    params = typer.main.get_command(probe).params
    return any(getattr(param, "help", None) == "probe" for param in params)


_ARGUMENT_HELP_KEPT = _argument_help_kept()


def _command(path: list[str]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize(
    ("given", "says"), [("0", "greater than or equal to 1"), ("4097", "less than or equal to 4096")]
)
def test_a_worker_concurrency_out_of_bounds_is_refused_not_replaced(given: str, says: str) -> None:
    # 0 ran the worker at the default 128, saying only "(concurrency 128)".
    result = CliRunner().invoke(app, ["worker", "--concurrency", given], prog_name="hookcast")
    assert result.exit_code == 2
    assert "Invalid value for '--concurrency'" in result.output, result.output
    # The settings' words, or the lowest Click's for the same range.
    assert f"Input should be {says}" in result.output or "1<=x<=4096" in result.output
