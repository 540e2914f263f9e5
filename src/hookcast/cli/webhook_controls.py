"""The per-webhook controls' options of `hookcast webhooks create|update`, and their rows
in `webhooks get`: custom headers, the rate limit, the mutual-TLS client certificate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hookcast.cli.remote import fail, os_error_words
from hookcast.cli.tables import when_exact

if TYPE_CHECKING:
    from hookcast.sdk.types import Webhook

__all__ = [
    "BurstOption",
    "CertificateOption",
    "HeaderOption",
    "KeyOption",
    "RateOption",
    "control_choices",
    "control_rows",
]

_NONE = "none"

HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        help="A header sent with every delivery, NAME=VALUE (repeatable); the ones given "
        'replace all the webhook has, "none" removes them. Values are stored encrypted and '
        "shown redacted.",
    ),
]
RateOption = Annotated[
    str | None,
    typer.Option(
        "--rate-limit",
        help='At most this many requests per second (0.01-1000), across every worker; "none" '
        "for no limit. Deliveries over it wait; none fails for it.",
    ),
]
BurstOption = Annotated[
    int | None,
    typer.Option("--rate-burst", help="Requests that may go at once (1-1000; default: the rate)."),
]
CertificateOption = Annotated[
    str | None,
    typer.Option(
        "--client-cert",
        help="Mutual TLS: a PEM file of the client certificate (and intermediates), with "
        '--client-key; "none" removes it. Presented to https URLs only.',
    ),
]
KeyOption = Annotated[
    Path | None,
    typer.Option("--client-key", help="The PEM file of --client-cert's private key."),
]


def control_choices(
    *,
    headers: list[str] | None,
    rate: str | None,
    burst: int | None,
    certificate: str | None,
    key: Path | None,
) -> dict[str, Any]:
    """The control options that were given, as metadata (the server checks the values)."""
    chosen: dict[str, Any] = {}
    if headers:
        chosen["headers"] = _headers(headers)
    if rate is not None:
        chosen["rate_limit_per_second"] = None if rate == _NONE else _rate(rate)
    if burst is not None:
        chosen["rate_limit_burst"] = burst
    if certificate is not None or key is not None:
        chosen["client_certificate"] = _certificate(certificate, key)
    return chosen


def _headers(values: list[str]) -> dict[str, str] | None:
    if values == [_NONE]:
        return None
    headers: dict[str, str] = {}
    for value in values:
        name, equals, content = value.partition("=")
        if not equals or not name.strip():
            fail(f"--header {name!r}: expected NAME=VALUE, e.g. X-Api-Key=abc123")
        headers[name.strip()] = content
    return headers


def _rate(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        fail(f'--rate-limit {value!r}: a number of requests per second, or "none"')


def _certificate(certificate: str | None, key: Path | None) -> dict[str, str] | None:
    if certificate == _NONE and key is None:
        return None
    if certificate is None or key is None:
        fail("--client-cert and --client-key go together (--client-cert none removes it)")
    return {
        "certificate": _pem_file(Path(certificate), "--client-cert"),
        "private_key": _pem_file(key, "--client-key"),
    }


def _pem_file(path: Path, option: str) -> str:
    """A PEM file's text, or one line naming the option and why not ("cannot read the
    client certificate or key: [Errno 2] ..." said neither which nor what to give)."""
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"{option} {str(path)!r}: {os_error_words(exc)}")
    except UnicodeDecodeError:
        fail(f"{option} {str(path)!r} is not a PEM file (text beginning -----BEGIN)")


def control_rows(hook: Webhook) -> list[tuple[str, str]]:
    """`webhooks get`'s rows for the controls: header names, the rate, the certificate."""
    rate = "-"
    if hook.rate_limit_per_second is not None:
        rate = f"{hook.rate_limit_per_second:g}/s, bursts of {hook.rate_limit_burst}"
    certificate = hook.client_certificate
    shown = "-"
    if certificate is not None:
        shown = f"{certificate.subject} (until {when_exact(certificate.not_after)})"
    return [
        ("headers", ", ".join(hook.headers or {}) or "-"),
        ("rate limit", rate),
        ("client certificate", shown),
    ]
