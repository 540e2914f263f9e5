"""The `hookcast` command line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from hookcast.cli.app import app

if TYPE_CHECKING:
    from pydantic import ValidationError


def main() -> None:
    try:
        app()
    except Exception as exc:
        invalid = _invalid_settings(exc)
        if invalid is None:
            raise
        # A setting read from the environment is not valid: say which, not a traceback.
        for line in settings_errors(invalid):
            typer.echo(f"error: {line}", err=True)
        raise SystemExit(2) from None


def _invalid_settings(exc: Exception) -> ValidationError | None:
    """`exc` if Settings() refused the environment. Pydantic is loaded by the commands that
    read settings, not by the CLI itself: without it loaded, no exception can be one."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return None
    refused: type[ValidationError] = pydantic.ValidationError
    return exc if isinstance(exc, refused) and exc.title == "Settings" else None


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
