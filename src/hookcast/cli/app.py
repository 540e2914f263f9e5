"""The `hookcast` app: serve, worker, migrate and the operator's commands on the database
(accounts, keys create, sites create), and where every other module's commands join it."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hookcast.cli import listen, simulate, sites_keys, trigger, webhook_actions, webhooks
from hookcast.cli.database import describe, migration_report, missing_database
from hookcast.cli.help import PlainGroup
from hookcast.config import Settings
from hookcast.domain.errors import HookcastError, Unavailable
from hookcast.domain.models import Role
from hookcast.logs import configure_logging
from hookcast.services import Caller

if TYPE_CHECKING:
    from hookcast.cli.runtime import Runtime

# The server stack (FastAPI, SQLAlchemy, uvicorn) is imported inside the commands that need
# it, so `hookcast --help`, `listen` and `trigger` start in a fraction of a second.

T = TypeVar("T")


def _run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on uvloop (uvicorn[standard] brings it) or asyncio's own loop.

    `serve` builds its uvicorn.Server inside this loop, so uvicorn's own loop choice never
    applies: this is where the server and every worker get uvloop. Measured with the
    benchmarks (docs/benchmarks.md).

    The GIL switch interval drops from 5 ms to 0.5 ms: a helper thread done waiting (the
    SQLite commit's fsync, see store/sqlite_connector.py) otherwise waits up to 5 ms for the
    busy loop to let it return, holding the only write connection meanwhile (measured at
    700 publishes/s: p99 publish-to-receipt 98.7 ms at 5 ms, 4.5 ms at 0.5 ms).
    """
    sys.setswitchinterval(0.0005)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a slimmer install without uvicorn[standard]
        return asyncio.run(main)
    return uvloop.run(main)


app = typer.Typer(
    cls=PlainGroup,
    help="HookCast: durable, signed webhooks for video platforms.\n\n"
    "Example: hookcast migrate && hookcast serve --port 8000",
    no_args_is_help=True,
    add_completion=False,
    # Usage errors as plain lines ("Error: Missing argument 'EVENT'."), not a drawn box.
    rich_markup_mode=None,
)
accounts_app = typer.Typer(
    cls=PlainGroup,
    help='Manage accounts (operator).\n\nExample: hookcast accounts create "Acme Broadcasting"',
    no_args_is_help=True,
)
keys_app = typer.Typer(
    cls=PlainGroup,
    help="Manage API keys. `create` runs on the database (operator); `list` and `revoke` "
    "go through the API (HOOKCAST_URL, HOOKCAST_API_KEY, an admin key).\n\n"
    "Example: hookcast keys create --role publisher",
    no_args_is_help=True,
)
sites_app = typer.Typer(
    cls=PlainGroup,
    help="Manage properties. `create` runs on the database (operator); `list` goes "
    "through the API (HOOKCAST_URL, HOOKCAST_API_KEY).\n\n"
    'Example: hookcast sites create "Main" --id 1A23bCD4',
    no_args_is_help=True,
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(sites_app, name="sites")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _show_version(value: bool) -> None:
    if value:
        from hookcast import __version__

        typer.echo(f"hookcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print HookCast's version and exit.",
        ),
    ] = False,
) -> None:
    # `hookcast` itself takes only --version; each command has its own options.
    pass


def _configure_logging(settings: Settings) -> None:
    """Once, for the long-running commands: HOOKCAST_LOG_FORMAT (text or json), LOG_LEVEL."""
    configure_logging(level=settings.log_level, fmt=settings.log_format)


def _with_runtime(action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Runs one operator action against the configured database, errors as one line. The
    database must exist: only `migrate` and `serve` create one."""
    settings = Settings()
    missing = missing_database(settings)
    if missing is not None:
        _fail(missing)

    async def run() -> T:
        from hookcast.cli.runtime import Runtime

        runtime = await Runtime.open(settings)
        try:
            return await action(runtime)
        finally:
            await runtime.store.close()

    try:
        return _run_loop(run())
    except Unavailable as exc:
        _fail(
            f"{exc.description} (database: {describe(settings)}; check HOOKCAST_DATABASE_URL, "
            "and `hookcast migrate` creates or upgrades the schema)"
        )
        raise  # unreachable: _fail exits
    except HookcastError as exc:
        _fail(exc.description)
        raise  # unreachable: _fail exits


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version, and say which.

    The database is HOOKCAST_DATABASE_URL (default: hookcast.db in this directory).

    Example: HOOKCAST_DATABASE_URL=postgresql://user@host/db hookcast migrate
    """
    settings = Settings()
    from hookcast.store import migrate as migrate_database

    path = settings.sqlite_path()
    created = path is not None and not path.exists()
    try:
        migration = migrate_database(settings.database_url)
    except HookcastError as exc:
        _fail(f"{exc.description} (database: {describe(settings)})")
        raise  # unreachable: _fail exits
    typer.echo(migration_report(migration, where=describe(settings), created=created), err=True)


def _migrate_quietly(settings: Settings) -> None:
    """serve's migration: one log line when it created or upgraded the schema, instead of
    Alembic's INFO lines ("Context impl SQLiteImpl." and the like) on every start."""
    from hookcast.store import migrate as migrate_database

    logging.getLogger("alembic").setLevel(logging.WARNING)
    path = settings.sqlite_path()
    created = path is not None and not path.exists()
    migration = migrate_database(settings.database_url)
    if migration.changed:
        report = migration_report(migration, where=describe(settings), created=created)
        logging.getLogger("hookcast").info("%s", report)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; deliver elsewhere.")
    ] = False,
) -> None:
    """Run the API, the dashboard and (unless --no-worker) a delivery worker in one process.

    Example: hookcast serve --host 0.0.0.0 --port 8000
    """
    import uvicorn

    settings = Settings()
    _configure_logging(settings)
    _migrate_quietly(settings)

    async def run() -> None:
        from hookcast.cli.runtime import Runtime, settle_heap

        runtime = await Runtime.open(settings)
        first_key = await runtime.services.accounts.bootstrap_admin_key()
        if first_key is not None:
            typer.echo("A new database: here is its admin API key (shown once, keep it safe):")
            typer.echo(first_key.secret)
            sys.stdout.flush()
        config = uvicorn.Config(
            runtime.app(with_worker=not no_worker),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's lines go through our handler (text or JSON)
            access_log=False,
            server_header=False,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
        settle_heap()
        await uvicorn.Server(config).serve()

    _run_loop(run())


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at once.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Deliver only (no API). Run any number against one PostgreSQL database.

    Example: HOOKCAST_DATABASE_URL=postgresql://... hookcast worker --concurrency 256
    --metrics-port 9100
    """
    _configure_logging(Settings())

    async def run(runtime: Runtime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from hookcast.cli.runtime import settle_heap

        exporter = _serve_metrics(runtime, metrics_host, metrics_port)
        settle_heap()
        try:
            await runtime.run_worker(stop, concurrency=concurrency)
        finally:
            if exporter is not None:
                exporter.shutdown()

    _with_runtime(run)


def _serve_metrics(runtime: Runtime, host: str, port: int | None) -> Any:
    """A worker's own counters (attempts, outcomes, latency) over HTTP for Prometheus.

    The backlog gauges (pending, oldest due, disabled webhooks) come from the store and are
    on the API's /metrics; what only a worker knows is what it sent, so it exports that.
    """
    if port is None:
        return None
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=runtime.metrics.registry)
    return server


@accounts_app.command("create")
def accounts_create(name: str) -> None:
    """Create an account and print its id alone.

    Example: hookcast accounts create "Acme Broadcasting"
    """

    async def run(runtime: Runtime) -> str:
        return (await runtime.services.accounts.create_account(name)).id

    typer.echo(_with_runtime(run))


@accounts_app.command("list")
def accounts_list() -> None:
    """Print every account, one per line: its id, then its name.

    Example: hookcast accounts list
    """

    async def run(runtime: Runtime) -> list[str]:
        return [f"{a.id}  {a.name}" for a in await runtime.services.accounts.list_accounts()]

    for line in _with_runtime(run):
        typer.echo(line)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, editor, publisher or viewer.")],
    account: Annotated[str | None, typer.Option(help="Account id (default: the first).")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key and print its secret alone (it is not shown again).

    Example: hookcast keys create --role publisher --name "encoder"
    """

    roles = [known.value for known in Role]
    if role not in roles:
        _fail(f"--role must be one of {', '.join(roles)} (got {role!r})")

    async def run(runtime: Runtime) -> str:
        account_id = account or (await runtime.services.accounts.default_account()).id
        created = await runtime.services.accounts.issue_key(account_id, role=Role(role), name=name)
        return created.secret

    typer.echo(_with_runtime(run))


@sites_app.command("create")
def sites_create(
    name: str,
    site_id: Annotated[str | None, typer.Option("--id", help="Your own 8-character id.")] = None,
    account: Annotated[str | None, typer.Option(help="Account id (default: the first).")] = None,
) -> None:
    """Create a property and print its id alone.

    Example: hookcast sites create "Main site" --id 1A23bCD4
    """

    async def run(runtime: Runtime) -> str:
        account_id = account or (await runtime.services.accounts.default_account()).id
        operator = Caller(account_id=account_id, role=Role.ADMIN)
        return (await runtime.services.sites.create(operator, name=name, site_id=site_id)).id

    typer.echo(_with_runtime(run))


# Over the API: listing properties and keys beside the operator's `create`.
sites_app.command("list")(sites_keys.list_sites)
keys_app.command("list")(sites_keys.list_keys)
keys_app.command("revoke")(sites_keys.revoke_key)

# Developer tools, each in its own module.
app.add_typer(webhooks.webhooks_app, name="webhooks")
webhooks.webhooks_app.command("test")(webhook_actions.send_test)
webhooks.webhooks_app.command("recover")(webhook_actions.recover_webhook)
webhooks.webhooks_app.add_typer(webhook_actions.secret_app, name="secret")
webhook_actions.secret_app.command("reveal")(webhook_actions.reveal_secret)
webhook_actions.secret_app.command("rotate")(webhook_actions.rotate_secret)
app.add_typer(webhook_actions.deliveries_app, name="deliveries")
webhook_actions.deliveries_app.command("get")(webhook_actions.get_delivery)
webhook_actions.deliveries_app.command("retry")(webhook_actions.retry_delivery)
app.command()(listen.listen)
app.command()(trigger.trigger)
app.command()(simulate.simulate)
