"""A port out of range is a usage error naming the option, not a traceback from bind(); a
port in use says how to choose another."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hookcast.cli import app
from support.loopback import has_ipv6_loopback


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


_NO_IPV6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")


def _answers(address: tuple[str, int]) -> bool:
    """A connection to `address` is accepted (the backlog takes it: nothing calls accept)."""
    try:
        socket.create_connection(address, timeout=5).close()
    except OSError:
        return False
    return True


@_NO_IPV6
def test_serve_listens_on_every_address_its_host_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--host localhost` where localhost names 127.0.0.1 and ::1 (many systems' hosts file;
    this one may name only 127.0.0.1): a client that tries ::1 first is answered there too,
    on the same port, as uvicorn's own bind answered it."""
    from hookcast.cli.serving import listening_sockets

    resolve = socket.getaddrinfo

    def both_loopbacks(host: str, port: int, **options: int) -> object:
        assert host == "localhost"
        return resolve("127.0.0.1", port, **options) + resolve("::1", port, **options)

    with monkeypatch.context() as resolving:
        resolving.setattr(socket, "getaddrinfo", both_loopbacks)
        sockets = listening_sockets("localhost", 0, shared=False)
    try:
        for sock in sockets:
            sock.listen()
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(sockets) == 2
        assert len(ports) == 1
        port = ports.pop()
        assert _answers(("127.0.0.1", port))
        assert _answers(("::1", port))
    finally:
        for sock in sockets:
            sock.close()


@_NO_IPV6
def test_serve_on_every_ipv6_address_leaves_ipv4s_port_to_another() -> None:
    """`--host ::` is IPv6 only (IPV6_V6ONLY, as uvicorn's bind through asyncio set it): a
    `serve --host 0.0.0.0` on the same port, or any other IPv4 server, may still start."""
    from hookcast.cli.serving import listening_sockets

    (v6,) = listening_sockets("::", 0, shared=False)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4:
            v4.bind(("0.0.0.0", v6.getsockname()[1]))
    finally:
        v6.close()


def test_serve_on_an_empty_host_is_on_every_address_as_before() -> None:
    # `--host ""`: uvicorn's bind (through asyncio) took it for every address; bound, not
    # listening, so nothing can connect.
    from hookcast.cli.serving import listening_sockets

    sockets = listening_sockets("", 0, shared=False)
    try:
        assert {sock.getsockname()[0] for sock in sockets} <= {"0.0.0.0", "::"}
        assert "0.0.0.0" in {sock.getsockname()[0] for sock in sockets}
    finally:
        for sock in sockets:
            sock.close()


def test_serve_on_a_name_nothing_resolves_says_so() -> None:
    from hookcast.cli.serving import bind_words

    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert bind_words(unknown) == "name or service not known"
