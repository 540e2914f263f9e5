"""A port out of range is a usage error naming the option, not a traceback from bind(); a
port in use says how to choose another."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hookcast.cli import app


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["listen", "--port", "99999"], "--port"),
        (["serve", "--port", "-1"], "--port"),
        (["worker", "--metrics-port", "70000"], "--metrics-port"),
    ],
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    args: list[str], option: str, tmp_path: Path
) -> None:
    database = tmp_path / "unused.db"
    done = CliRunner().invoke(app, args, env={"HOOKCAST_DATABASE_URL": f"sqlite:///{database}"})
    assert done.exit_code == 2, done.output
    # The range's wording is Click's or Typer's own, and differs between their versions.
    assert f"Error: Invalid value for '{option}'" in done.output
    assert "65535" in done.output or "Input should be" in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert not database.exists()  # nothing started: no database was opened


@pytest.mark.parametrize(
    ("makelevel", "hint"), [(None, "--port"), ("1", 'make run SERVE_ARGS="--port 8001"')]
)
def test_serve_on_a_taken_port_names_how_to_choose_another(
    makelevel: str | None, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `make run` (README's start), --port is passed through SERVE_ARGS: `make run
    --port 8001` is make's option, not serve's."""
    from hookcast.cli.serving import bind_words

    monkeypatch.delenv("MAKELEVEL", raising=False)
    if makelevel is not None:
        monkeypatch.setenv("MAKELEVEL", makelevel)
    taken = OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
    assert bind_words(taken) == (
        f"address already in use (stop what is on it, or choose another with {hint})"
    )
