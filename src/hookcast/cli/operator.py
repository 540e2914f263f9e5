"""The operator's commands, run on the database (HOOKCAST_DATABASE_URL) rather than the API:
accounts, the first keys and properties. They need no API key, which is how a new
installation gets its first one. The groups' API commands (sites list, keys list) are
added to them in app.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from hookcast.cli.database import describe, load_settings, missing_database, not_connected
from hookcast.cli.help import PlainGroup
from hookcast.cli.loop import run_loop
from hookcast.cli.remote import fail
from hookcast.domain.errors import HookcastError, Unavailable

if TYPE_CHECKING:
    from hookcast.cli.runtime import Runtime
    from hookcast.config import Settings

__all__ = ["accounts_app", "keys_app", "sites_app", "with_runtime"]

T = TypeVar("T")

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


def with_runtime(action: Callable[[Runtime], Awaitable[T]], *, secrets: bool = True) -> T:
    """Runs one operator action against the configured database, errors as one line. The
    database must exist: only `migrate` and `serve` create one. An action that reads and
    writes no webhook secret passes `secrets=False`: on PostgreSQL it then runs without
    HOOKCAST_SECRET_KEY (a new installation makes its account, first key and properties
    before any server is configured; asking for the key there only puzzled)."""
    settings = load_settings()
    missing = missing_database(settings)
    if missing is not None:
        fail(missing)

    async def run() -> T:
        from hookcast.cli.runtime import Runtime

        runtime = await Runtime.open(settings, secrets=secrets)
        try:
            return await action(runtime)
        finally:
            await runtime.close()

    try:
        return run_loop(run())
    except HookcastError as exc:
        database_failed(exc, settings)


def database_failed(exc: HookcastError, settings: Settings) -> NoReturn:
    """A command that could not open or use its database: one line, no traceback."""
    unconnected = not_connected(exc, settings)
    if unconnected is not None:
        fail(unconnected)
    if isinstance(exc, Unavailable):
        fail(
            f"{exc.description} (database: {describe(settings)}; check HOOKCAST_DATABASE_URL, "
            "and `hookcast migrate` creates or upgrades the schema)"
        )
    fail(exc.description)


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="The account's name, for people.")],
) -> None:
    """Create an account and print its id alone.

    Example: hookcast accounts create "Acme Broadcasting"
    """

    async def run(runtime: Runtime) -> str:
        return (await runtime.services.accounts.create_account(name)).id

    typer.echo(with_runtime(run, secrets=False))


@accounts_app.command("list")
def accounts_list() -> None:
    """Print every account, one per line: its id, then its name.

    Example: hookcast accounts list
    """

    async def run(runtime: Runtime) -> list[str]:
        return [f"{a.id}  {a.name}" for a in await runtime.services.accounts.list_accounts()]

    for line in with_runtime(run, secrets=False):
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
    from hookcast.domain.models import Role

    roles = [known.value for known in Role]
    if role not in roles:
        fail(f"--role must be one of {', '.join(roles)} (got {role!r})")

    async def run(runtime: Runtime) -> str:
        account_id = account or (await runtime.services.accounts.default_account()).id
        created = await runtime.services.accounts.issue_key(account_id, role=Role(role), name=name)
        return created.secret

    typer.echo(with_runtime(run, secrets=False))


@sites_app.command("create")
def sites_create(
    name: Annotated[str, typer.Argument(help="The property's name, for people.")],
    site_id: Annotated[
        str | None,
        typer.Option("--id", help="Your own id: 8 letters or digits (default: a new one)."),
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account id (default: the first).")] = None,
) -> None:
    """Create a property and print its id alone.

    Example: hookcast sites create "Main site" --id 1A23bCD4
    """
    from hookcast.domain.models import Role
    from hookcast.services import Caller

    async def run(runtime: Runtime) -> str:
        account_id = account or (await runtime.services.accounts.default_account()).id
        operator = Caller(account_id=account_id, role=Role.ADMIN)
        return (await runtime.services.sites.create(operator, name=name, site_id=site_id)).id

    typer.echo(with_runtime(run, secrets=False))
