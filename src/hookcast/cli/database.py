"""Which database the operator commands use, said plainly: they run against
HOOKCAST_DATABASE_URL (default: hookcast.db in the current directory), and only `migrate`
and `serve` may create it, so a command run in the wrong directory names the file it looked
for instead of leaving an empty database behind."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The store (SQLAlchemy, Alembic) loads when a command opens it, the settings (pydantic,
    # and what they validate with) when a command reads them: not for --help or the
    # commands that only talk to the API.
    from hookcast.config import Settings
    from hookcast.store.migrate import Migration

__all__ = [
    "another_deliverer",
    "describe",
    "load_settings",
    "migration_report",
    "missing_database",
    "not_connected",
]


def another_deliverer(settings: Settings) -> str:
    """Why a `serve` or `worker` on a SQLite file another process delivers from did not
    start delivering (delivery/liveness.py's AnotherDeliverer), and what to do."""
    return (
        f"another process delivers from this SQLite file ({describe(settings)}), and on "
        "SQLite only one may: stop that one first, or run this one as an API server beside "
        "it with `hookcast serve --no-worker`"
    )


def load_settings() -> Settings:
    """The settings from the environment (HOOKCAST_...), for a command that needs them."""
    from hookcast.config import Settings

    return Settings()


def describe(settings: Settings) -> str:
    """The database as a person names it: the SQLite file's full path, or PostgreSQL's
    host and database (never the password). Settings refuse an in-memory SQLite URL, so a
    SQLite database always has its file."""
    path = settings.sqlite_path()
    if path is not None:
        return str(path.resolve())
    # Read as the store reads it (loaded by then: PostgreSQL is named once a command has
    # opened or migrated it): urlsplit took a password's "/", "?" or "#" for the host's
    # end, so "user:b64/pass=@db" was a host "user" and a port that is no number.
    from hookcast.store.database import to_async_url

    url = to_async_url(settings.database_url)
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"PostgreSQL database {url.database or '(default)'} on {host}{port}"


def not_connected(error: BaseException, settings: Settings) -> str | None:
    """The line for a database a command could not connect to: one that did not answer in
    time (the store's Unreachable, caused by the timeout), refused the connection, or was
    not found; None for any other error."""
    if isinstance(error.__cause__, TimeoutError):
        return (
            f"{describe(settings)} did not answer within "
            f"{settings.database_connect_timeout_seconds:g} s "
            "(HOOKCAST_DATABASE_CONNECT_TIMEOUT_SECONDS)"
        )
    from hookcast.store.errors import connection_refusal

    refusal = connection_refusal(error)
    if refusal is None:
        return None
    return f"cannot connect to {describe(settings)}: {refusal}; check HOOKCAST_DATABASE_URL"


def missing_database(settings: Settings) -> str | None:
    """Why an operator command must not run here (a SQLite file that does not exist), or
    None. Creating it would leave an empty database and key file in the wrong directory."""
    path = settings.sqlite_path()
    if path is None or path.exists():
        return None
    return (
        f"no HookCast database at {describe(settings)}: run `hookcast migrate` to create it "
        "there, or set HOOKCAST_DATABASE_URL to the one `hookcast serve` uses"
    )


def migration_report(migration: Migration, *, where: str, created: bool) -> str:
    """One line saying what `hookcast migrate` did to the database at `where`."""
    if created:
        return f"created {where} at schema revision {migration.after}"
    if migration.before is None:
        return f"created the schema in {where} (revision {migration.after})"
    if migration.changed:
        return f"upgraded {where} from schema revision {migration.before} to {migration.after}"
    return f"{where} is up to date (schema revision {migration.after})"
