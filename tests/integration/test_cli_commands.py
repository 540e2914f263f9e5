"""The operator's CLI, run as a user runs it: the installed `hookcast` executable."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from harness import SITE_ID, cli_env, in_process_client, run_cli
from typer.testing import CliRunner

import hookcast
import hookcast.store
from hookcast.cli import app
from hookcast.config import Settings

ID = re.compile(r"[A-Za-z0-9]{8}")


def _head_revision() -> str:
    """The revision no other migration follows (numbers are taken in merge order, so the
    head need not be the highest-numbered file)."""
    versions = (Path(hookcast.store.__file__).parent / "migrations" / "versions").glob("0*.py")
    texts = [path.read_text() for path in versions]
    revisions: set[str] = {
        re.findall(r'^revision\b[^=]*= *"([^"]+)"', text, re.MULTILINE)[0] for text in texts
    }
    followed = {
        found[0]
        for text in texts
        if (found := re.findall(r'^down_revision\b[^=]*= *"([^"]+)"', text, re.MULTILINE))
    }
    (head,) = revisions - followed
    return head


HEAD_REVISION = _head_revision()
HELP_COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["migrate"],
    ["accounts"],
    ["accounts", "create"],
    ["accounts", "list"],
    ["keys"],
    ["keys", "create"],
    ["sites"],
    ["sites", "create"],
]


def only_line(stdout: str) -> str:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    return lines[0]


def client_on(database_url: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The API in-process on a database the CLI wrote (its key file beside it)."""
    return in_process_client(Settings(database_url=database_url, allowed_networks=""))


async def test_operator_commands_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hookcast.db'}"
    env = cli_env(url)

    where = tmp_path / "hookcast.db"
    reports = []
    for _ in range(2):  # idempotent
        migrated = run_cli(["migrate"], env, tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        reports.append(migrated.stderr.strip())
    assert reports == [
        f"created {where} at schema revision {HEAD_REVISION}",
        f"{where} is up to date (schema revision {HEAD_REVISION})",
    ]  # one line each: what was done, where, and no Alembic INFO lines

    account = run_cli(["accounts", "create", "Acme Broadcasting"], env, tmp_path)
    assert account.returncode == 0, account.stderr
    acme = only_line(account.stdout)
    assert ID.fullmatch(acme)
    listed = run_cli(["accounts", "list"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("  ", 1)[1] for line in listed.stdout.splitlines()] == [
        "Default",
        "Acme Broadcasting",
    ]
    assert f"{acme}  Acme Broadcasting" in listed.stdout

    publisher = run_cli(["keys", "create", "--role", "publisher"], env, tmp_path)
    assert publisher.returncode == 0, publisher.stderr
    publisher_secret = only_line(publisher.stdout)
    acme_admin = run_cli(["keys", "create", "--role", "admin", "--account", acme], env, tmp_path)
    assert acme_admin.returncode == 0, acme_admin.stderr
    acme_secret = only_line(acme_admin.stdout)

    site = run_cli(["sites", "create", "Main", "--id", SITE_ID], env, tmp_path)
    assert site.returncode == 0, site.stderr
    assert only_line(site.stdout) == SITE_ID

    duplicate = run_cli(["sites", "create", "Again", "--id", SITE_ID], env, tmp_path)
    # Site ids are unique within an account: Acme may use the same platform property id.
    elsewhere = run_cli(
        ["sites", "create", "Acme main", "--id", SITE_ID, "--account", acme], env, tmp_path
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert only_line(elsewhere.stdout) == SITE_ID
    with ThreadPoolExecutor(max_workers=3) as pool:  # failures write nothing
        failures = list(
            pool.map(
                lambda args: run_cli(args, env, tmp_path),
                [
                    ["sites", "create", "Bad", "--id", "bad id"],
                    ["keys", "create", "--role", "admin", "--account", "NoSuch12"],
                    ["sites", "create", "Nowhere", "--account", "NoSuch12"],
                ],
            )
        )
    bad_role = run_cli(["keys", "create", "--role", "root"], env, tmp_path)
    for result in [duplicate, bad_role, *failures]:
        assert result.returncode != 0, result.args
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr

    async with client_on(url) as client:
        event = {"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl"}
        published = await client.post(
            "/v2/events/", json=event, headers={"Authorization": publisher_secret}
        )
        assert published.status_code == 202, published.text
        refused = await client.post(
            "/v2/sites/",
            json={"metadata": {"name": "x"}},
            headers={"Authorization": f"Bearer {publisher_secret}"},
        )
        assert refused.status_code == 403
        acme_sites = await client.get("/v2/sites/", headers={"Authorization": acme_secret})
        assert acme_sites.status_code == 200
        # The key belongs to Acme, not the first account: Acme's site of that id alone.
        assert [site["metadata"]["name"] for site in acme_sites.json()["sites"]] == ["Acme main"]
        made = await client.post(
            "/v2/sites/",
            json={"metadata": {"name": "Acme"}},
            headers={"Authorization": acme_secret},
        )
        assert made.status_code == 201  # an admin key
        first_sites = await client.get("/v2/sites/", headers={"Authorization": publisher_secret})
        assert [s["id"] for s in first_sites.json()["sites"]] == [SITE_ID]


def test_help_everywhere_has_an_example(tmp_path: Path) -> None:
    executable = run_cli(["--help"], cli_env(f"sqlite:///{tmp_path / 'unused.db'}"), tmp_path)
    assert executable.returncode == 0, executable.stderr
    assert "Example" in executable.stdout
    assert not (tmp_path / "unused.db").exists()

    runner = CliRunner()
    for args in HELP_COMMANDS:  # the same app in-process: no interpreter start per command
        result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
        assert "Example" in result.output, (args, result.output)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_migrate_and_sites_on_postgresql(database_url: str, tmp_path: Path) -> None:
    env = cli_env(database_url, HOOKCAST_SECRET_KEY="cli-test-secret")

    migrated = run_cli(["migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    said = only_line(migrated.stderr)  # the fixture's database may be migrated already
    assert re.search(r"PostgreSQL database \w+ on 127\.0\.0\.1:\d+ ", said), said
    assert said.endswith(f"revision {HEAD_REVISION})"), said
    site = run_cli(["sites", "create", "Main", "--id", SITE_ID], env, tmp_path)
    assert site.returncode == 0, site.stderr
    assert only_line(site.stdout) == SITE_ID


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_operator_commands_on_postgresql_need_no_secret_key(
    database_url: str, tmp_path: Path
) -> None:
    # They read and write no webhook secret, yet asked for HOOKCAST_SECRET_KEY (newuser2):
    # a new installation makes its account, first key and properties before any server
    # is configured. A command that does read them still asks.
    env = cli_env(database_url)
    assert run_cli(["migrate"], env, tmp_path).returncode == 0
    site = run_cli(["sites", "create", "Main", "--id", SITE_ID], env, tmp_path)
    assert site.returncode == 0, site.stderr
    assert only_line(site.stdout) == SITE_ID
    acme = run_cli(["accounts", "create", "Acme"], env, tmp_path)
    assert acme.returncode == 0, acme.stderr
    listed = run_cli(["accounts", "list"], env, tmp_path)
    assert only_line(acme.stdout) in listed.stdout, listed.stderr
    key = run_cli(["keys", "create", "--role", "admin"], env, tmp_path)
    assert key.returncode == 0, key.stderr
    worker = run_cli(["worker"], env, tmp_path)
    assert worker.returncode == 1
    assert "HOOKCAST_SECRET_KEY is required with PostgreSQL" in worker.stderr, worker.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["sites", "create", "Other"],
        ["accounts", "create", "Acme"],
        ["accounts", "list"],
        ["keys", "create", "--role", "admin"],
        ["worker"],
    ],
)
def test_operator_commands_elsewhere_name_the_database_and_leave_nothing(
    args: list[str], tmp_path: Path
) -> None:
    done = run_cli(args, cli_env("sqlite:///hookcast.db"), tmp_path)  # the default, relative
    assert done.returncode == 1
    assert done.stdout == ""
    assert only_line(done.stderr) == (
        f"error: no HookCast database at {tmp_path / 'hookcast.db'}: run `hookcast migrate` "
        "to create it there, or set HOOKCAST_DATABASE_URL to the one `hookcast serve` uses"
    )
    assert list(tmp_path.iterdir()) == []  # no empty hookcast.db, no hookcast.db.key


def test_migrate_names_an_empty_file_it_gave_a_schema(tmp_path: Path) -> None:
    (tmp_path / "hookcast.db").touch()
    migrated = run_cli(["migrate"], cli_env("sqlite:///hookcast.db"), tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert only_line(migrated.stderr) == (
        f"created the schema in {tmp_path / 'hookcast.db'} (revision {HEAD_REVISION})"
    )


def test_version(tmp_path: Path) -> None:
    done = run_cli(["--version"], cli_env(f"sqlite:///{tmp_path / 'unused.db'}"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert only_line(done.stdout) == f"hookcast {hookcast.__version__}"


def test_a_database_without_the_schema_is_named(tmp_path: Path) -> None:
    (tmp_path / "hookcast.db").touch()  # there, but never migrated
    done = run_cli(["accounts", "list"], cli_env("sqlite:///hookcast.db"), tmp_path)
    assert done.returncode == 1
    said = only_line(done.stderr)
    assert said.startswith("error: the database is unavailable: "), said
    assert f"(database: {tmp_path / 'hookcast.db'}; check HOOKCAST_DATABASE_URL" in said
    assert "`hookcast migrate` creates or upgrades the schema" in said


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("password", ["b64/pass+word=", "what?ever", "no#fragment"])
def test_a_password_with_a_slash_question_mark_or_hash_is_taken_as_before(
    database_url: str, tmp_path: Path, password: str
) -> None:
    # Review 10: SQLAlchemy (which reads the URL) takes a password up to its "@"; the start-up
    # check read the host as ending at the first "/", "?" or "#" and refused such a URL
    # ("its port must be a number"), one that migrated and served before the check.
    # (The throwaway server trusts every connection: the URL's parse is what is tested.)
    with_password = database_url.replace("@", f":{password}@", 1)
    assert with_password.count("@") == 1
    migrated = run_cli(["migrate"], cli_env(with_password, HOOKCAST_SECRET_KEY="s"), tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    said = only_line(migrated.stderr)
    assert re.search(r"PostgreSQL database \w+ on 127\.0\.0\.1:\d+ ", said), said
    assert password not in migrated.stdout + migrated.stderr
