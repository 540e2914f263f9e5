"""The `hookcast` command line."""

from __future__ import annotations

from hookcast.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
