"""`hookcast webhooks test | recover | secret ...` and `hookcast deliveries ...`: what the
dashboard's buttons do, over the API. Each prints its result for people on stderr and what
a script needs on stdout (an id, a secret), or with --json the API's own answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

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
from hookcast.cli.tables import console, deliveries, kv_table, shorten, when_exact
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.times import TIME_FORMS, timestamp

if TYPE_CHECKING:
    from hookcast.sdk.types import Attempt, Delivery, WebhookSecret

__all__ = [
    "TIME_HELP",
    "attempt_said",
    "deliveries_app",
    "get_delivery",
    "recover_webhook",
    "retry_delivery",
    "reveal_secret",
    "rotate_secret",
    "secret_app",
    "send_test",
    "since_time",
]

secret_app = typer.Typer(
    cls=PlainGroup,
    help="See or replace a webhook's signing secret (admin key).\n\n"
    "Example: hookcast webhooks secret reveal 2yW4KmiG",
    no_args_is_help=True,
)
deliveries_app = typer.Typer(
    cls=PlainGroup,
    help="One delivery: show it, or send it again (HOOKCAST_URL, HOOKCAST_API_KEY).\n\n"
    "Example: hookcast deliveries retry dlv_B24HJEd8N6pPmDOlFSOdMZ",
    no_args_is_help=True,
)

WebhookId = Annotated[str, typer.Argument(help="The webhook id.", metavar="WEBHOOK_ID")]
DeliveryId = Annotated[str, typer.Argument(help="The delivery id.", metavar="DELIVERY_ID")]
_AGO = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
AGO = "30m, 2h or 1d"
# `--since` and `--until`'s help: what since_time reads.
TIME_HELP = (
    "A time (2026-12-05, 2026-12-05T08:00:00Z; UTC if no offset) or how long ago (30m, 2h, 1d)"
)


def send_test(
    webhook_id: WebhookId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Send a webhook_test event to one webhook now; print its delivery id.

    Follow it with: hookcast webhooks deliveries WEBHOOK_ID

    Example: hookcast webhooks test 2yW4KmiG
    """
    with connected(url, api_key) as client:
        sent = client.test_webhook(webhook_id)
    if as_json:
        print_answer(client)
        return
    typer.echo(f"a webhook_test event ({sent.event_id}) is on its way to {webhook_id}", err=True)
    typer.echo(sent.delivery_id)


def recover_webhook(
    webhook_id: WebhookId,
    since: Annotated[
        str,
        typer.Option(
            help=f"{TIME_HELP}: failed deliveries created since then.",
            metavar="TIME",
        ),
    ],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Resend every failed delivery of a webhook created since a time.

    Example: hookcast webhooks recover 2yW4KmiG --since 2h
    """
    start = since_time(since, now=datetime.now(UTC))
    with connected(url, api_key) as client:
        count = client.recover_webhook(webhook_id, since=start)
    if as_json:
        print_answer(client)
        return
    typer.echo(f"resending {deliveries(count, 'failed')} of {webhook_id} since {start}", err=True)


def since_time(text: str, *, now: datetime, option: str = "--since") -> str:
    """`--since` (or `option`): "2h" becomes the ISO 8601 time two hours before `now`; a
    time the server reads goes to it as given; anything else is refused here, naming
    both forms (the server's answer could name only its own)."""
    match = _AGO.match(text)
    if match is None:
        try:
            timestamp(text, field=option)
        except ValidationFailed:
            fail(f"{option} {text!r} is not a time: give {TIME_FORMS}, or how long ago: {AGO}")
        return text.strip()
    ago = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return (now - ago).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def reveal_secret(
    webhook_id: WebhookId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Print a webhook's signing secret alone (and say if an older one still signs).

    Example: hookcast webhooks secret reveal 2yW4KmiG
    """
    with connected(url, api_key) as client:
        secret = client.get_webhook_secret(webhook_id)
    if as_json:
        print_answer(client)
        return
    _print_secret(secret)


def rotate_secret(
    webhook_id: WebhookId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Replace a webhook's signing secret now and print the new one alone.

    Only the Standard Webhooks header (webhook-signature) also carries a signature with the
    old secret, until the grace period ends. The JWT (Authorization) and X-Hookcast-Signature
    switch to the new secret at once: give receivers that check those both secrets first.

    Example: hookcast webhooks secret rotate 2yW4KmiG
    """
    with connected(url, api_key) as client:
        secret = client.rotate_webhook_secret(webhook_id)
    if as_json:
        print_answer(client)
        return
    _print_secret(secret)


def _print_secret(secret: WebhookSecret) -> None:
    if secret.previous_secret is not None:
        expires = when_exact(secret.previous_secret_expires)
        typer.echo(
            f"the previous secret also signs the webhook-signature header until {expires}",
            err=True,
        )
    typer.echo(secret.secret)


def retry_delivery(
    delivery_id: DeliveryId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Send one delivery again now: retry a failed one, or send a delivered one again.

    A delivered one goes out with the same event id: a receiver that skips ids it has
    seen ignores it. The dashboard's log calls this Retry, or Send again once delivered.

    Example: hookcast deliveries retry dlv_B24HJEd8N6pPmDOlFSOdMZ
    """
    with connected(url, api_key) as client:
        delivery = client.retry_delivery(delivery_id)
    if as_json:
        print_answer(client)
        return
    typer.echo(f"delivery {delivery.id} is queued again ({delivery.status})", err=True)


def get_delivery(
    delivery_id: DeliveryId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show one delivery and each of its attempts, with the response it got; once the retry
    policy gave up, when and why.

    Example: hookcast deliveries get dlv_B24HJEd8N6pPmDOlFSOdMZ
    """
    from hookcast.domain.models import DeliveryStatus

    with connected(url, api_key) as client:
        delivery = client.get_delivery(delivery_id)
        if as_json:
            print_answer(client)
            return
        rows = _delivery_rows(delivery)
        if delivery.status == DeliveryStatus.FAILED:  # why it stopped takes its policy
            policy = client.get_webhook(delivery.webhook_id).retry_policy
            rows.append(("gave up", _gave_up(delivery, policy)))
    console().print(kv_table(f"delivery {delivery.id}", rows))


def _gave_up(delivery: Delivery, policy: str | tuple[float, ...]) -> str:
    """When the retry policy gave up, and why: the words of the dashboard's "Gave up" line."""
    from hookcast.domain.retry import parse_retry_policy, why_given_up

    last = delivery.attempt_log[-1] if delivery.attempt_log else None
    why = why_given_up(
        last_status=last.status_code if last else None,
        last_error=last.error if last else None,
        attempts_made=delivery.attempts,
        # as stored: an operator may allow shorter delays than the default minimum
        spec=parse_retry_policy(policy if isinstance(policy, str) else list(policy), min_delay=0),
    )
    return f"{when_exact(delivery.completed_at)} · {why}"


def _delivery_rows(delivery: Delivery) -> list[tuple[str, str]]:
    rows = [
        ("webhook", delivery.webhook_id),
        ("event", f"{delivery.event} ({delivery.event_id})"),
        ("status", delivery.status),
        ("created", when_exact(delivery.created)),
        ("next attempt", when_exact(delivery.next_attempt_at)),
    ]
    for attempt in delivery.attempt_log:
        answer = f"HTTP {attempt.status_code}" if attempt.status_code else "no answer"
        rows.append(
            (
                f"attempt {attempt.number}",
                f"{when_exact(attempt.started_at)} · {answer} · "
                f"{attempt.latency_ms:.0f} ms · {attempt_said(attempt, answer)}",
            )
        )
    return rows


def attempt_said(attempt: Attempt, answer: str) -> str:
    """The error, unless it only repeats the answer's status ("HTTP 500"), then the start
    of the body the receiver answered with: what the receiver said is why it failed."""
    said = [attempt.error] if attempt.error and attempt.error != answer else []
    body = shorten(attempt.response_body, 200)
    return " · ".join([*said, body] if body != "-" or not said else said)
