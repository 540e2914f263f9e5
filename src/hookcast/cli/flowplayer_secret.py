"""`hookcast webhooks flowplayer-secret reveal | set | rotate`: the account's Flowplayer
organization secret over the API, as the dashboard's Webhooks page and
/v2/account/flowplayer_secret/ offer it. The secret alone goes to stdout, for scripts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hookcast.cli.help import PlainGroup
from hookcast.cli.remote import (
    DEFAULT_URL,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
    fail,
    print_answer,
)

__all__ = ["flowplayer_secret_app", "reveal", "rotate", "set_secret"]

flowplayer_secret_app = typer.Typer(
    cls=PlainGroup,
    help="See, set or replace the account's Flowplayer organization secret.\n\n"
    "One secret signs every Flowplayer-format webhook's deliveries (X-FP-Webhook-Signature); "
    "while none is set, they are held.\n\n"
    "Example: hookcast webhooks flowplayer-secret rotate",
    no_args_is_help=True,
)

_FROM_STDIN = "-"
_NONE_SET = (
    "no Flowplayer secret is set: Flowplayer-format deliveries are held until one is "
    "(hookcast webhooks flowplayer-secret rotate, or set SECRET)"
)


def reveal(
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Print the organization secret alone (admin key); exit 1 if none is set.

    Example: hookcast webhooks flowplayer-secret reveal
    """
    with connected(url, api_key) as client:
        secret = client.get_flowplayer_secret()
    if as_json:
        print_answer(client)
        return
    if secret is None:
        fail(_NONE_SET)
    typer.echo(secret)


def set_secret(
    secret: Annotated[
        str,
        typer.Argument(
            help="At least 16 characters, as Flowplayer's Webhooks Secret Key shows it; "
            "- reads it from stdin (kept out of your shell's history).",
            metavar="SECRET",
        ),
    ],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Set the organization secret to one you chose; it signs from the next attempt.

    Example: hookcast webhooks flowplayer-secret set - < fp-secret.txt
    """
    chosen = sys.stdin.readline().strip() if secret == _FROM_STDIN else secret
    with connected(url, api_key) as client:
        client.set_flowplayer_secret(chosen)
    if as_json:
        print_answer(client)
        return
    typer.echo("the Flowplayer secret is set: it signs from the next attempt", err=True)


def rotate(
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Replace the organization secret with a new random one and print it alone.

    It signs from the next attempt, alone: Flowplayer's header carries one signature, so
    give receivers the new secret before (or right after) you rotate.

    Example: hookcast webhooks flowplayer-secret rotate
    """
    with connected(url, api_key) as client:
        secret = client.rotate_flowplayer_secret()
    if as_json:
        print_answer(client)
        return
    typer.echo("a new Flowplayer secret signs from the next attempt", err=True)
    typer.echo(secret)
