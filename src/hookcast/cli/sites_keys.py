"""`hookcast sites list`, `hookcast keys list | revoke`: the account's properties and API
keys over the API, beside the operator's `create` commands (which run on the database)."""

from __future__ import annotations

from typing import Annotated

import typer

from hookcast.cli.remote import (
    DEFAULT_URL,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
    print_answer,
)
from hookcast.cli.tables import console, table, when

__all__ = ["list_keys", "list_sites", "revoke_key"]


def list_sites(
    page: Annotated[int, typer.Option(help="Page number.", metavar="N", min=1)] = 1,
    page_length: Annotated[
        int, typer.Option(help="Properties per page (at most 1000).", metavar="N")
    ] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the account's properties (the ids events and webhooks name), oldest first.

    Example: hookcast sites list
    """
    with connected(url, api_key) as client:
        found = client.list_sites(page=page, page_length=page_length)
    if as_json:
        print_answer(client)
        return
    if not found.items:  # one line, not the columns of an empty table
        typer.echo(_no_sites(page, found.total), err=True)
        return
    shown = table(
        f"properties (page {found.page}, {len(found)} of {found.total})",
        ["id", "name", "created"],
    )
    for site in found:
        shown.add_row(site.id, site.name, when(site.created))
    console().print(shown)


def _no_sites(page: int, total: int) -> str:
    if total:
        return f"no properties on page {page}: there are {total}"
    return 'no properties yet: create one with hookcast sites create "Main site"'


def list_keys(
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the account's API keys (never their secrets); needs an admin key.

    Example: hookcast keys list
    """
    with connected(url, api_key) as client:
        keys = client.list_api_keys()
    if as_json:
        print_answer(client)
        return
    shown = table(f"API keys ({len(keys)})", ["id", "role", "name", "created"])
    for key in keys:
        shown.add_row(key.id, key.role, key.name or "-", when(key.created))
    console().print(shown)


def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (see keys list).", metavar="KEY_ID")],
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Revoke an API key: requests with it are refused from now on. Needs an admin key.

    Example: hookcast keys revoke gUUkpczp
    """
    with connected(url, api_key) as client:
        client.revoke_api_key(key_id)
    typer.echo(f"revoked API key {key_id}", err=True)
