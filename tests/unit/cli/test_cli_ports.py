"""A port out of range is a usage error naming the option, not a traceback from bind(); a
port in use says how to choose another."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import typer
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


def _resolving_to(monkeypatch: pytest.MonkeyPatch, name: str, *addresses: str) -> None:
    """`name` resolves to `addresses`, in that order, as a hosts file may say."""
    resolve = socket.getaddrinfo

    def found(host: str, port: int, **options: int) -> object:
        assert host == name
        return [info for address in addresses for info in resolve(address, port, **options)]

    monkeypatch.setattr(socket, "getaddrinfo", found)


def _without_ipv6(monkeypatch: pytest.MonkeyPatch, error: int) -> None:
    """A kernel that cannot make an IPv6 socket (EAFNOSUPPORT) or has no ::1
    (EADDRNOTAVAIL): each IPv6 bind fails with `error`; IPv4 binds for real."""
    from hookcast.cli import serving

    bind = serving._bound_socket

    def bound(
        family: socket.AddressFamily, address: tuple[Any, ...], *, shared: bool
    ) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(error, os.strerror(error))
        return bind(family, address, shared=shared)

    monkeypatch.setattr(serving, "_bound_socket", bound)


def _served_on_127_0_0_1_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, *addresses: str
) -> list[str]:
    """Listens on `name`, resolving to `addresses`: one socket, on 127.0.0.1, where a client
    is answered. What serve logged."""
    from hookcast.cli.serving import listening_sockets

    with caplog.at_level(logging.WARNING, logger="hookcast.serve"), monkeypatch.context() as m:
        _resolving_to(m, name, *addresses)
        (sock,) = listening_sockets(name, 0, shared=False)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
        sock.listen()
        assert _answers(("127.0.0.1", sock.getsockname()[1]))
    finally:
        sock.close()
    return [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize("error", [errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL])
def test_serve_on_localhost_without_ipv6_listens_on_127_0_0_1_and_says_so(
    error: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`--host localhost` where localhost names ::1 first and the kernel has no IPv6: serve
    starts on 127.0.0.1, where a client is answered, and one log line says ::1 was left out
    and why, rather than failing for an address it could not have used."""
    _without_ipv6(monkeypatch, error)
    assert _served_on_127_0_0_1_only(monkeypatch, caplog, "localhost", "::1", "127.0.0.1") == [
        "--host localhost: listening on 127.0.0.1 only; this system cannot listen on "
        f"::1 ({os.strerror(error).lower()})"
    ]


def test_serve_skips_an_address_that_is_not_this_machines(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The kernel's own EADDRNOTAVAIL, no fake: a name whose addresses include one this
    machine does not have (192.0.2.1, a documentation address) is served on the others."""
    logged = _served_on_127_0_0_1_only(monkeypatch, caplog, "media-api", "192.0.2.1", "127.0.0.1")
    assert logged == [
        "--host media-api: listening on 127.0.0.1 only; this system cannot listen on "
        "192.0.2.1 (cannot assign requested address)"
    ]


def test_serve_on_a_name_with_no_address_it_can_listen_on_fails_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing bound: serve's one line with the bind's error, exit status 1 (serve binds
    before it opens the database: app's `_listening_sockets`)."""
    from hookcast.cli.app import _listening_sockets

    _without_ipv6(monkeypatch, errno.EADDRNOTAVAIL)
    _resolving_to(monkeypatch, "localhost", "::1")
    with pytest.raises(typer.Exit) as stopped:
        _listening_sockets("localhost", 8000, shared=False)
    assert stopped.value.exit_code == 1
    assert capsys.readouterr().err == (
        "error: cannot listen on localhost:8000: cannot assign requested address\n"
    )


def test_serve_on_a_taken_port_still_fails_when_another_address_is_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only an address's own errors are skipped: a port taken on one of the name's
    addresses fails serve, and the socket it had bound is closed (the port is free)."""
    from hookcast.cli.serving import listening_sockets

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _resolving_to(monkeypatch, "media-api", "127.0.0.1", "127.0.0.2")
        with pytest.raises(OSError, match="already in use") as raised:
            listening_sockets("media-api", port, shared=False)
    assert raised.value.errno == errno.EADDRINUSE
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as again:
        again.bind(("127.0.0.1", port))  # not left bound by the failed start
