"""The one line a remote command prints for each way talking to a server can fail, and
--since's relative times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from typer.testing import CliRunner

from hookcast.cli import app
from hookcast.cli.remote import explain, fail, in_options
from hookcast.cli.webhook_actions import since_time
from hookcast.cli.webhooks import OPTIONS
from hookcast.sdk.errors import (
    ConflictError,
    HookcastConnectionError,
    NotFoundError,
    ServerError,
    UnexpectedResponseError,
    error_from_response,
)

URL = "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("exc", "url", "line"),
    [
        (
            UnexpectedResponseError(200, b"<html><body>hi</body></html>"),
            URL,
            f"{URL} answered HTTP 200 with an HTML page, not HookCast's JSON: is HOOKCAST_URL "
            "(or --server) a HookCast server? `hookcast serve` listens on "
            "http://127.0.0.1:8000 unless told otherwise",
        ),
        (
            error_from_response(502, b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"),
            URL,
            f"{URL} answered HTTP 502 Bad Gateway, not HookCast's JSON: a proxy answered: is "
            "HookCast up behind it, and is HOOKCAST_URL right?",
        ),
        (
            error_from_response(404, b"File not found"),
            URL + "/",
            f"{URL} answered HTTP 404 Not Found, not HookCast's JSON: is HOOKCAST_URL (or "
            "--server) a HookCast server? `hookcast serve` listens on http://127.0.0.1:8000 "
            "unless told otherwise",
        ),
        (
            HookcastConnectionError(f"cannot reach HookCast at {URL}: Connection refused"),
            URL,
            f"cannot reach HookCast at {URL}: Connection refused (is `hookcast serve` "
            "running there? if it is elsewhere, set HOOKCAST_URL (or --server))",
        ),
        (
            NotFoundError(404, "not_found", "Not Found"),
            URL + "/v2",
            "Not Found (HTTP 404, not_found); HOOKCAST_URL is the server's root, e.g. "
            "http://127.0.0.1:8000, without a path",
        ),
        (
            ServerError(500, "internal", "something\nbroke"),
            URL,
            "something broke (HTTP 500, internal)",
        ),
    ],
    ids=["html", "proxy-502", "plain-404", "refused", "v2-path", "hookcast-500"],
)
def test_explain_is_one_line_saying_what_to_check(exc: Exception, url: str, line: str) -> None:
    assert explain(exc, url) == line


def test_only_an_unknown_id_points_at_the_command_listing_ids() -> None:
    """A webhook that exists but is disabled (409) is not one to look up in the list."""
    disabled = ConflictError(
        409,
        "conflict",
        "webhook '3XruoSw9' is disabled: enable it first, then deliver what is held",
    )
    unknown = NotFoundError(404, "not_found", "webhook 'nope1234' was not found")
    assert explain(disabled, URL) == (
        "webhook '3XruoSw9' is disabled: enable it first, then deliver what is held "
        "(HTTP 409, conflict)"
    )
    assert explain(unknown, URL).endswith(": `hookcast webhooks list` shows your webhooks' ids")


def test_a_tls_failure_points_at_the_scheme() -> None:
    exc = HookcastConnectionError("cannot reach HookCast at https://h: [SSL: WRONG_VERSION]")
    assert "TLS failed: `hookcast serve` speaks plain http://" in explain(exc, "https://h")


NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2h", "2026-12-05T08:30:00Z"),
        ("30m", "2026-12-05T10:00:00Z"),
        ("1d", "2026-12-04T10:30:00Z"),
        (" 2026-12-05T08:00:00Z ", "2026-12-05T08:00:00Z"),  # a time goes as given
        ("2026-12-05", "2026-12-05"),  # a date too (its midnight, the server reads)
    ],
)
def test_since_takes_a_time_or_how_long_ago(given: str, sent: str) -> None:
    assert since_time(given, now=NOW) == sent


@pytest.mark.parametrize("given", ["yesterday", "2 weeks", "2026-13-05"])
def test_since_refuses_what_neither_form_reads_naming_both(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit):
        since_time(given, now=NOW)
    said = capsys.readouterr().err
    assert said.startswith(f"error: --since {given!r} is not a time: give an ISO 8601 date")
    assert said.endswith("or how long ago: 30m, 2h or 1d\n")


@pytest.mark.parametrize("server", ["localhost:8000", "127.0.0.1:8000", "notaurl"])
@pytest.mark.parametrize("command", [["webhooks", "list"], ["trigger", "media_available"]])
def test_a_server_url_without_its_scheme_is_named_before_any_request(
    server: str, command: list[str]
) -> None:
    done = CliRunner().invoke(app, [*command, "--server", server, "--api-key", "hck_x"])
    assert done.exit_code == 1
    assert done.output.splitlines() == [
        f"error: HOOKCAST_URL (or --server) {server!r} must start with http:// or https://, "
        "e.g. http://127.0.0.1:8000"
    ]


@pytest.mark.parametrize(
    ("description", "said"),
    [
        ("webhook_url must not be empty", "--url must not be empty"),
        ("metadata.rate_limit_burst: Input should be", "--rate-burst: Input should be"),
        ("retry_policy[2] must be a number", "--retry-policy's delay 3 must be a number"),
        ("max_age_seconds.media_available must be", "--max-age media_available must be"),
        ("query.timeout_seconds: Input should be", "--timeout: Input should be"),
        # not a field the command has an option for, or not where a field's name is
        ("unknown site id(s): zz", "unknown site id(s): zz"),
        ("the webhook_url is fine", "the webhook_url is fine"),
        ("webhook_urls are many", "webhook_urls are many"),
    ],
)
def test_api_field_names_become_the_options_typed(description: str, said: str) -> None:
    assert in_options(description, OPTIONS) == said


def test_an_error_line_prints_a_servers_escape_sequences_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server's error message quoted in the line (ESC ]52 writes the clipboard, RLO turns
    the rest of the line around) reaches the terminal as escapes, not obeyed."""
    with pytest.raises(typer.Exit):
        fail("conflict: \x1b]52;c;Y2F0\x07 name \u202egnp.exe")
    assert capsys.readouterr().err == "error: conflict: \\x1b]52;c;Y2F0\\x07 name \\u202egnp.exe\n"
