"""The `hookcast` app: serve, worker and migrate, and where every other module's commands
join it (the operator's in operator.py, the API's in remote-command modules)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hookcast.cli import (
    flowplayer_secret,
    listen,
    operator,
    simulate,
    sites_keys,
    trigger,
    webhook_actions,
    webhooks,
)
from hookcast.cli.database import (
    another_deliverer,
    describe,
    load_settings,
    migration_report,
    not_connected,
)
from hookcast.cli.help import PlainGroup
from hookcast.cli.loop import run_loop
from hookcast.cli.operator import database_failed, with_runtime
from hookcast.cli.remote import fail
from hookcast.domain.errors import HookcastError

if TYPE_CHECKING:
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings

# The server stack (FastAPI, SQLAlchemy, uvicorn) and the settings are imported inside the
# commands that need them, so `hookcast --help`, `listen` and `trigger` start in a fraction
# of a second (tests/unit/cli/test_cli_imports.py holds the client commands to it).


app = typer.Typer(
    cls=PlainGroup,
    help="HookCast: durable, signed webhooks for video platforms.\n\n"
    "Example: hookcast migrate && hookcast serve --port 8000",
    no_args_is_help=True,
    add_completion=False,
    # Usage errors as plain lines ("Error: Missing argument 'EVENT'."), not a drawn box.
    rich_markup_mode=None,
)
app.add_typer(operator.accounts_app, name="accounts")
app.add_typer(operator.keys_app, name="keys")
app.add_typer(operator.sites_app, name="sites")


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
    from hookcast.logs import configure_logging

    configure_logging(level=settings.log_level, fmt=settings.log_format)
    # Before Alembic is imported (serve migrates; the worker's store imports it too): it logs
    # its plugins as it loads, seven INFO lines ("setup plugin ...") on every start.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version, and say which.

    The database is HOOKCAST_DATABASE_URL (default: hookcast.db in this directory).

    Example: HOOKCAST_DATABASE_URL=postgresql://user@host/db hookcast migrate
    """
    settings = load_settings()
    from hookcast.store import migrate as migrate_database

    path = settings.sqlite_path()
    created = path is not None and not path.exists()
    try:
        migration = migrate_database(
            settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
        )
    except HookcastError as exc:
        fail(not_connected(exc, settings) or f"{exc.description} (database: {describe(settings)})")
    typer.echo(migration_report(migration, where=describe(settings), created=created), err=True)


def _migrate_quietly(settings: Settings) -> None:
    """serve's migration: one log line when it created or upgraded the schema, instead of
    Alembic's INFO lines ("setup plugin ...", "Context impl SQLiteImpl.") on every start."""
    from hookcast.store import migrate as migrate_database

    path = settings.sqlite_path()
    created = path is not None and not path.exists()
    migration = migrate_database(
        settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
    )
    if migration.changed:
        report = migration_report(migration, where=describe(settings), created=created)
        logging.getLogger("hookcast").info("%s", report)


_DELIVERY_DIED = (
    "serve stopped: its delivery thread died (logged above); restart serve, the events it "
    "accepted wait in the database"
)


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; a name, on each address it names (:: is IPv6 "
            "only); one this system cannot listen on (::1 without IPv6) is skipped, and "
            "logged, when another is bound."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; deliver elsewhere.")
    ] = False,
    reuse_port: Annotated[
        bool,
        typer.Option(
            "--reuse-port",
            help="Share the port with other `serve --reuse-port` processes (SO_REUSEPORT): "
            "the kernel spreads connections among them. On SQLite only with --no-worker "
            "(one process delivers from a SQLite file).",
        ),
    ] = False,
) -> None:
    """Run the API, the dashboard and (unless --no-worker) a delivery worker in one process.

    The database is HOOKCAST_DATABASE_URL (default: hookcast.db in this directory), created
    or upgraded first as `hookcast migrate` does. On SQLite only one process delivers: with
    its worker, serve exits 1 while another process delivers from the file.

    Example: hookcast serve --host 0.0.0.0 --port 8000
    """
    settings = load_settings()
    if reuse_port and not no_worker and settings.is_sqlite():
        # Each serve would deliver from the one file and take back the other's leases as it
        # starts: deliveries in flight would be sent twice.
        fail(
            "--reuse-port on SQLite needs --no-worker: only one process may deliver from a "
            "SQLite file (run the API servers with --no-worker --reuse-port and one serve "
            "without them on another port, or use PostgreSQL)"
        )
    _configure_logging(settings)
    sockets = _listening_sockets(host, port, shared=reuse_port)  # a taken port: one line
    try:
        _migrate_quietly(settings)
    except HookcastError as exc:  # e.g. PostgreSQL unreachable: one line, as migrate says it
        database_failed(exc, settings)

    async def run() -> str | None:
        from hookcast.cli.runtime import Runtime, settle_heap
        from hookcast.cli.serving import AnnouncingServer, server_config
        from hookcast.cli.signposts import signposts
        from hookcast.delivery.liveness import AnotherDeliverer

        runtime = await Runtime.open(settings)
        first_key = await runtime.services.accounts.bootstrap_admin_key()
        if first_key is not None:
            typer.echo("A new database: here is its admin API key (shown once, keep it safe):")
            typer.echo(first_key.secret)
            sys.stdout.flush()
        config = server_config(
            runtime.app(
                with_worker=not no_worker,
                # A supervisor restarts a process that exits, not one that keeps answering.
                on_delivery_failure=lambda error: server.stop_failed(
                    another_deliverer(settings)
                    if isinstance(error, AnotherDeliverer)
                    else _DELIVERY_DIED
                ),
            ),
            settings,
            host=host,
            port=port,
            refused=runtime.metrics.on_connection_refused,
        )
        server = AnnouncingServer(
            config,
            lambda url: signposts(
                url=url,
                allowed_networks=settings.allowed_networks,
                with_worker=not no_worker,
                key_printed=first_key is not None,
            ),
        )
        settle_heap()
        await server.serve(sockets=sockets)
        return server.failure

    try:
        failure = run_loop(run())
    except HookcastError as exc:  # opening the runtime: no HOOKCAST_SECRET_KEY, no database
        database_failed(exc, settings)
    if failure is not None:
        fail(failure)


def _listening_sockets(host: str, port: int, *, shared: bool) -> list[socket.socket]:
    from hookcast.cli.serving import bind_words, listening_sockets

    try:
        return listening_sockets(host, port, shared=shared)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {bind_words(exc)}")


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Requests in flight at once (default: HOOKCAST_WORKER_CONCURRENCY, 128).",
            # HOOKCAST_WORKER_CONCURRENCY's bounds: 0 was taken as the default, 99999 as given.
            min=1,
            max=4096,
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on this port.", min=0, max=65535),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Deliver only (no API). Run any number against one PostgreSQL database; on SQLite only
    one process delivers, and this exits 1 while another does.

    Example: HOOKCAST_DATABASE_URL=postgresql://... hookcast worker --concurrency 256
    --metrics-port 9100
    """
    settings = load_settings()
    _configure_logging(settings)
    _refuse_a_database_without_schema(settings)

    async def run(runtime: Runtime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from hookcast.cli.runtime import settle_heap
        from hookcast.cli.signposts import delivery_policy

        exporter = _serve_metrics(runtime, metrics_host, metrics_port)
        settle_heap()
        # Otherwise a worker says nothing until its first delivery: is it running, and where?
        # Logged, not printed: with HOOKCAST_LOG_FORMAT=json every line stays JSON.
        log = logging.getLogger("hookcast.worker")
        log.info(
            "delivering from %s (concurrency %d); %s; SIGTERM or Ctrl+C stops it",
            describe(settings),
            concurrency or settings.worker_concurrency,
            delivery_policy(settings.allowed_networks),
        )
        try:
            await runtime.run_worker(stop, concurrency=concurrency)
        finally:
            if exporter is not None:
                exporter.shutdown()
        log.info("stopped")

    from hookcast.delivery.liveness import AnotherDeliverer

    try:
        with_runtime(run)
    except AnotherDeliverer:
        fail(another_deliverer(settings))


def _refuse_a_database_without_schema(settings: Settings) -> None:
    """A worker on a PostgreSQL database nobody migrated would log a traceback for every
    claim and heartbeat, each second, for ever: say so once instead. A database that cannot
    be reached is left to the worker, which waits for it as it does when it goes away later;
    a SQLite file that does not exist is refused by with_runtime."""
    if settings.is_sqlite():
        return
    from hookcast.store.migrate import schema_revision

    try:
        revision = schema_revision(
            settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
        )
    except HookcastError:
        return
    if revision is None:
        fail(f"no HookCast schema in {describe(settings)}: run `hookcast migrate` on it first")


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


# Over the API: listing properties and keys beside the operator's `create`.
operator.sites_app.command("list")(sites_keys.list_sites)
operator.keys_app.command("list")(sites_keys.list_keys)
operator.keys_app.command("revoke")(sites_keys.revoke_key)

# Developer tools, each in its own module.
app.add_typer(webhooks.webhooks_app, name="webhooks")
webhooks.webhooks_app.command("test")(webhook_actions.send_test)
webhooks.webhooks_app.command("recover")(webhook_actions.recover_webhook)
webhooks.webhooks_app.add_typer(webhook_actions.secret_app, name="secret")
webhook_actions.secret_app.command("reveal")(webhook_actions.reveal_secret)
webhook_actions.secret_app.command("rotate")(webhook_actions.rotate_secret)
webhooks.webhooks_app.add_typer(flowplayer_secret.flowplayer_secret_app, name="flowplayer-secret")
flowplayer_secret.flowplayer_secret_app.command("reveal")(flowplayer_secret.reveal)
flowplayer_secret.flowplayer_secret_app.command("set")(flowplayer_secret.set_secret)
flowplayer_secret.flowplayer_secret_app.command("rotate")(flowplayer_secret.rotate)
app.add_typer(webhook_actions.deliveries_app, name="deliveries")
webhook_actions.deliveries_app.command("get")(webhook_actions.get_delivery)
webhook_actions.deliveries_app.command("retry")(webhook_actions.retry_delivery)
app.command()(listen.listen)
app.command()(trigger.trigger)
app.command()(simulate.simulate)
