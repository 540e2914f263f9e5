"""`hookcast serve` as a real process: JW Player's own curl example works against it byte for
byte, the first start prints an admin key once, every start says where the dashboard and the
docs are and whether it delivers to this machine, and SIGTERM stops it promptly."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from harness import READY_SECONDS, cli_env, hookcast_bin, run_cli, serve

from support.postgres import run_sql
from support.seeds import seed_doc
from support.waiting import wait_until


def _seed() -> Path:
    """The JW Player seed doc (not part of the repository: see support.seeds)."""
    return seed_doc("000_9728d0272fd5a02e.txt")


SEED_COMMAND = "curl -X POST https://api.jwplayer.com/v2/webhooks"
SEED_SITE = "1A23bCD4"


def seed_curl() -> list[str]:
    """The seed's curl command, split as a shell would, continuation lines included."""
    text = _seed().read_text()
    start = text.index(SEED_COMMAND)
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            break
    return shlex.split(" ".join(lines))


def retarget(command: list[str], base_url: str, secret: str) -> list[str]:
    """The same command with only the host and the API secret replaced."""
    changed = []
    for arg in command:
        if arg.startswith("https://api.jwplayer.com/"):
            path = urlsplit(arg).path
            arg = base_url + path
        elif arg.lower().startswith("authorization:"):
            arg = f"Authorization: {secret}"
        changed.append(arg)
    return changed


def test_seed_curl_creates_the_webhook_and_restart_prints_no_key(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "the curl binary is needed to replay the seed's example"
    command = seed_curl()
    assert command[0] == "curl"
    body = command[command.index("-d") + 1]
    assert body == (_seed().read_text().split("-d '", 1)[1].split("'\n", 1)[0])  # byte for byte
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")

    with serve(env, tmp_path) as server:
        secret = server.admin_key()
        site = httpx.post(
            f"{server.url}/v2/sites/",
            headers={"Authorization": secret},
            json={"id": SEED_SITE, "metadata": {"name": "Main"}},
            trust_env=False,
        )
        assert site.status_code == 201, site.text

        replay = retarget(command, server.url, secret)
        assert [arg for arg in replay if arg not in command] == [
            f"{server.url}/v2/webhooks",
            f"Authorization: {secret}",
        ]
        done = subprocess.run(
            [
                curl,
                "-sS",
                "--noproxy",
                "*",
                "--max-time",
                "20",
                "-w",
                "\n%{http_code}",
                *replay[1:],
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        response_text, status = done.stdout.rsplit("\n", 1)
        assert status == "201", response_text
        created = json.loads(response_text)
        exit_code = server.stop(timeout=10)
        assert exit_code is not None, "hookcast serve did not exit within 10 s of SIGTERM"
        assert exit_code in (0, -signal.SIGTERM), (exit_code, server.stderr())

    sent = json.loads(body)["metadata"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}", created["id"])
    for name in ("created", "last_modified"):
        assert datetime.fromisoformat(created[name]).utcoffset() is not None, created[name]
    for name in ("name", "description", "webhook_url", "events", "site_ids"):
        assert created["metadata"][name] == sent[name], name
    assert created["relationships"] == {}
    assert created["schema"] is None
    assert created["type"] == "webhook"
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"), validate=True)) >= 24

    with serve(env, tmp_path) as again:
        assert secret not in again.stdout()
        assert not re.search(r"hck_\S+", again.stdout()), again.stdout()
        listed = httpx.get(
            f"{again.url}/v2/webhooks", headers={"Authorization": secret}, trust_env=False
        )
        assert listed.status_code == 200
        assert [hook["id"] for hook in listed.json()["webhooks"]] == [created["id"]]
        assert again.stop(timeout=10) is not None


def test_https_from_a_trusted_proxy_gets_hsts_and_others_do_not(tmp_path: Path) -> None:
    # The proxy ends TLS and says so in X-Forwarded-Proto; only a proxy named in
    # HOOKCAST_FORWARDED_ALLOW_IPS is believed (uvicorn's default trusts loopback only).
    forwarded = {"X-Forwarded-Proto": "https"}
    database = f"sqlite:///{tmp_path / 'hookcast.db'}"
    for allowed, believed in (("192.0.2.10", False), ("192.0.2.10,127.0.0.1", True)):
        env = cli_env(database, HOOKCAST_FORWARDED_ALLOW_IPS=allowed)
        with serve(env, tmp_path) as server:
            answer = httpx.get(f"{server.url}/healthz", headers=forwarded, trust_env=False)
        assert ("Strict-Transport-Security" in answer.headers) is believed, allowed


def test_serve_says_where_it_is_and_whether_it_delivers_to_this_machine(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hookcast.db'}"
    with serve(cli_env(database, HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8"), tmp_path) as server:
        said = server.stdout().splitlines()
        url = server.url
        assert said[1].startswith("hck_"), said
        assert said[2:] == [
            f"HookCast is serving on {url}",
            f"  dashboard: {url}/",
            f"  API docs:  {url}/docs (also /redoc and /openapi.json)",
            "  delivery to 127.0.0.0/8: allowed (HOOKCAST_ALLOWED_NETWORKS);",
            "    to other loopback and private addresses: refused",
        ]
        for path in ("/", "/docs", "/redoc", "/openapi.json"):
            page = httpx.get(url + path, follow_redirects=True, trust_env=False)
            assert page.status_code == 200, (path, page.status_code)
        first_log = server.stderr()

    assert f"created {tmp_path / 'hookcast.db'} at schema revision 0" in first_log
    assert "alembic" not in first_log.lower(), first_log

    with serve(cli_env(database), tmp_path, "--no-worker") as again:
        said = again.stdout().splitlines()
        assert said == [
            f"HookCast is serving on {again.url}",
            f"  dashboard: {again.url}/",
            f"  API docs:  {again.url}/docs (also /redoc and /openapi.json)",
            "  delivery: not in this process (--no-worker; run `hookcast worker`, with the",
            "    HOOKCAST_ALLOWED_NETWORKS its receivers need: it checks every address again)",
            "  admin API key: printed when this database was created "
            "(`hookcast keys create --role admin` makes another)",
        ]
        quiet_log = again.stderr()
    # Nothing to migrate: no line about the schema at all.
    assert "schema" not in quiet_log, quiet_log
    assert "alembic" not in quiet_log.lower(), quiet_log


def test_api_servers_started_with_reuse_port_share_one_port(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")
    with serve(env, tmp_path, "--no-worker", "--reuse-port") as first:
        port = urlsplit(first.url).port
        with serve(env, tmp_path, "--no-worker", "--reuse-port", port=port) as second:
            # /healthz answered from either: the second says when it has bound the port.
            wait_until(
                lambda: "HookCast is serving on" in second.stdout(),
                timeout=READY_SECONDS,
                message="the second server never bound the shared port",
            )
            # The first stops (a rolling restart): the port keeps answering, from the second.
            assert first.stop(timeout=10) in (0, -signal.SIGTERM)
            answer = httpx.get(f"{second.url}/healthz", trust_env=False)
            assert answer.status_code == 200
            assert second.process.poll() is None


def test_serve_on_localhost_answers_on_each_address_localhost_names(tmp_path: Path) -> None:
    # uvicorn's own bind listened on every address of the name; one socket of the name's
    # first family answered on 127.0.0.1 only, and a client trying ::1 first was refused.
    names = {address[0] for *_, address in socket.getaddrinfo("localhost", 80)}
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")
    with serve(env, tmp_path, "--no-worker", "--host", "localhost") as server:
        port = urlsplit(server.url).port
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).status_code == 200
        if "::1" not in names:  # this machine's hosts file names 127.0.0.1 only
            pytest.skip(f"localhost names only {sorted(names)} here (test_cli_ports binds both)")
        assert httpx.get(f"http://[::1]:{port}/healthz", trust_env=False).status_code == 200


@pytest.mark.parametrize("flags", [[], ["--reuse-port"]], ids=["plain", "reuse-port"])
def test_a_second_serve_on_a_taken_port_says_so_and_what_to_do(
    tmp_path: Path, flags: list[str]
) -> None:
    # A second `make run`. With --reuse-port, the port held by a server started without it is
    # refused the same way.
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")
    env.pop("MAKELEVEL", None)  # as a person runs it, not under `make test` (see serving.py)
    with serve(env, tmp_path, "--no-worker") as taken:
        port = str(urlsplit(taken.url).port)
        done = run_cli(["serve", "--no-worker", *flags, "--port", port], env, tmp_path, 60)
    assert done.returncode == 1
    # One line, and only it: uvicorn's start-up lines (started, application startup
    # complete, its bind error, shutdown) had come first.
    assert done.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use (stop what is on "
        "it, or choose another with --port)"
    ], done.stderr
    assert done.stdout == ""


def test_reuse_port_with_a_worker_on_sqlite_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    database = tmp_path / "hookcast.db"
    done = subprocess.run(
        [hookcast_bin(), "serve", "--reuse-port", "--port", "0"],
        env=cli_env(f"sqlite:///{database}"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "error: --reuse-port on SQLite needs --no-worker" in done.stderr, done.stderr
    assert not database.exists()


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"]])
def test_an_invalid_setting_is_named_in_one_line_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    env = {
        **cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}"),
        "HOOKCAST_LEASE_SECONDS": "10",
        "HOOKCAST_DNS_SERVERS": "dns.example",
    }
    done = subprocess.run(
        [hookcast_bin(), *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: HOOKCAST_LEASE_SECONDS: Input should be greater than or equal to 40",
        "error: HOOKCAST_DNS_SERVERS: 'dns.example' is not an IP address with an optional port",
    ], done.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"]])
@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "mysql://hook:pw-s3cret@db/hookcast",
            "must be sqlite:///path/to/hookcast.db or "
            "postgresql://user:password@host:port/database",
        ),
        (
            "postgresql://hook:pw-s3cret@db:99999/hookcast",
            "its port must be a number from 0 to 65535",
        ),
        ("sqlite:///:memory:", "in-memory SQLite is not supported: give a file path"),
    ],
)
def test_an_invalid_database_url_is_named_in_one_line_without_its_password(
    tmp_path: Path, command: list[str], url: str, said: str
) -> None:
    # Each was a traceback of 130 to 650 lines (exit status 1), or for `worker` on
    # PostgreSQL a connection retried for ever.
    env = {**cli_env(url), "HOOKCAST_SECRET_KEY": "a shared secret"}
    done = run_cli(command, env, tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: HOOKCAST_DATABASE_URL: {said}"], done.stderr
    assert "s3cret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        (
            "HOOKCAST_ALLOWED_NETWORKS",
            "10.0.0.0/33",
            "'10.0.0.0/33' is not a network in CIDR notation (e.g. 127.0.0.0/8 or fd00::/8)",
        ),
        (
            "HOOKCAST_LOG_LEVEL",
            "LOUD",
            "'LOUD' is not a level: DEBUG, INFO, WARNING, ERROR or CRITICAL",
        ),
        (
            "HOOKCAST_OTEL_EXPORTER_OTLP_ENDPOINT",
            "collector:4318",
            "must be the collector's http:// or https:// base URL",
        ),
    ],
)
def test_a_setting_checked_late_is_named_in_one_line_at_start(
    tmp_path: Path, name: str, value: str, said: str
) -> None:
    # Each started serve before: then a traceback (networks, level) or an error logged at
    # every export of spans (the collector).
    env = {**cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}"), name: value}
    done = run_cli(["serve", "--port", "1"], env, tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {name}: {said}"], done.stderr
    assert not (tmp_path / "hookcast.db").exists()


def test_serve_says_in_one_line_that_postgresql_cannot_be_reached(tmp_path: Path) -> None:
    # A port bound but not listening: the connection is refused, as with PostgreSQL down.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        done = run_cli(
            ["serve", "--port", "0"],
            cli_env(f"postgresql://hookcast@127.0.0.1:{port}/hookcast"),
            tmp_path,
            timeout=60,
        )
    assert done.returncode == 1
    # In words, not Python's class name ("ConnectionRefusedError"), with what to check.
    assert done.stderr.splitlines() == [
        f"error: cannot connect to PostgreSQL database hookcast on 127.0.0.1:{port}: the "
        "connection was refused (is PostgreSQL running there?); check HOOKCAST_DATABASE_URL"
    ], done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["migrate"], ["accounts", "list"]])
@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ("user", 'role "nobody_here" does not exist'),
        ("database", 'database "nothing_here" does not exist'),
        ("host", "its host name was not found"),
    ],
)
def test_a_database_url_naming_what_is_not_there_says_which_in_one_line(
    tmp_path: Path, postgres_database: str, command: list[str], wrong: str, said: str
) -> None:
    # Each said a class name before: DBAPIError (migrate), InvalidAuthorizationSpecification-
    # Error, InvalidCatalogNameError, gaierror; and told the operator to run `hookcast
    # migrate`, which fails the same way.
    url = urlsplit(postgres_database)
    replaced = {
        "user": url._replace(netloc=f"nobody_here@{url.hostname}:{url.port}"),
        "database": url._replace(path="/nothing_here"),
        "host": url._replace(netloc=f"{url.username}@no-such-host.invalid:{url.port}"),
    }[wrong]
    env = {**cli_env(replaced.geturl()), "HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS": "20"}
    done = run_cli(command, env, tmp_path, timeout=60)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: cannot connect to PostgreSQL database "), line
    assert line.endswith(f": {said}; check HOOKCAST_DATABASE_URL"), line


@pytest.mark.postgres
def test_serve_on_postgresql_without_a_secret_key_says_so_in_one_line(
    tmp_path: Path, postgres_database: str
) -> None:
    done = run_cli(["serve", "--port", "0"], cli_env(postgres_database), tmp_path, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "error: HOOKCAST_SECRET_KEY is required with PostgreSQL: every server and worker "
        "must share it to read webhook secrets"
    ), done.stderr
    assert "Traceback" not in done.stderr


def test_worker_says_where_it_delivers_from_and_that_it_stopped_without_alembics_lines(
    tmp_path: Path,
) -> None:
    database = tmp_path / "hookcast.db"
    assert run_cli(["migrate"], cli_env(f"sqlite:///{database}"), tmp_path).returncode == 0
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [hookcast_bin(), "worker", "--concurrency", "7"],
            env=cli_env(f"sqlite:///{database}"),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: "SIGTERM or Ctrl+C stops it" in log.read_text(),
            timeout=READY_SECONDS,
            message=lambda: f"the worker never said it was running:\n{log.read_text()}",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        worker.kill()
        worker.wait()
    said = [line.split(" ", 2)[2] for line in log.read_text().splitlines()]  # no time
    assert said == [
        f"INFO hookcast.worker: delivering from {database} (concurrency 7); delivery to "
        "loopback and private addresses refused (HOOKCAST_ALLOWED_NETWORKS is empty); SIGTERM "
        "or Ctrl+C stops it",
        "INFO hookcast.worker: stopped",
    ]


@pytest.mark.postgres
def test_worker_on_a_postgresql_database_never_migrated_says_so_and_stops(
    tmp_path: Path, postgres_url: Callable[[str], str]
) -> None:
    name = f"never_migrated_{os.getpid()}"
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {name}")
    try:
        done = run_cli(["worker"], cli_env(postgres_url(name)), tmp_path, timeout=60)
    finally:
        run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        f"error: no HookCast schema in PostgreSQL database {name} on 127.0.0.1:"
    ), done.stderr
    assert done.stderr.endswith(": run `hookcast migrate` on it first\n")
    assert "Traceback" not in done.stderr
