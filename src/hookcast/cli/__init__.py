"""The `hookcast` command line."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from hookcast.cli.app import app


def main() -> None:
    try:
        app()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        # A setting read from the environment is not valid: say which, not a traceback.
        for line in settings_errors(exc):
            typer.echo(f"error: {line}", err=True)
        raise SystemExit(2) from None


def settings_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named as it is set (HOOKCAST_...)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        fields = [str(part) for part in error["loc"] if isinstance(part, str)]
        message = error["msg"].removeprefix("Value error, ")
        name = f"HOOKCAST_{fields[0].upper()}" if fields else ""
        named = not name or message.startswith(name)  # the validator's message names it
        lines.append(message if named else f"{name}: {message}")
    return lines


__all__ = ["app", "main"]
