"""`hookcast webhooks create|update` set the per-webhook controls (--header, --rate-limit,
--rate-burst, --client-cert/--client-key) and `webhooks get` shows them, secrets left out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools_harness import LiveServer, live_server
from typer.testing import CliRunner, Result

from hookcast.cli import app
from support.certificates import make_pki


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-controls")) as running:
        yield running


def hookcast(live: LiveServer, *args: str) -> Result:
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key, "COLUMNS": "160"}
    return CliRunner().invoke(app, list(args), env=env)


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_controls_are_set_shown_and_removed(live: LiveServer, tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    client = pki.client("cli-client")
    (tmp_path / "client.pem").write_text(client.certificate)
    (tmp_path / "client.key").write_text(client.private_key)
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/gw", "--json"),
            *("--header", "X-Api-Key=gw-secret-77", "--header", "X-Route=blue"),
            *("--rate-limit", "2.5", "--rate-burst", "5"),
            *("--client-cert", str(tmp_path / "client.pem")),
            *("--client-key", str(tmp_path / "client.key")),
        )
    )
    metadata = created["metadata"]
    assert metadata["headers"] == {"X-Api-Key": "[redacted]", "X-Route": "[redacted]"}
    assert (metadata["rate_limit_per_second"], metadata["rate_limit_burst"]) == (2.5, 5)
    assert metadata["client_certificate"]["subject"] == "CN=cli-client"

    shown = hookcast(live, "webhooks", "get", created["id"]).stdout
    assert "X-Api-Key, X-Route" in shown
    assert "2.5/s, bursts of 5" in shown
    assert "CN=cli-client" in shown
    assert "gw-secret-77" not in shown

    removed = ok_json(
        hookcast(
            live,
            *("webhooks", "update", created["id"], "--json", "--header", "none"),
            *("--rate-limit", "none", "--client-cert", "none"),
        )
    )["metadata"]
    assert (removed["headers"], removed["rate_limit_per_second"]) == ({}, None)
    assert removed["client_certificate"] is None


def test_a_malformed_header_option_is_one_line_of_error(live: LiveServer) -> None:
    result = hookcast(live, "webhooks", "create", "--url", "https://example.com/x", "--header", "X")

    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: --header")
    refused = hookcast(
        live, "webhooks", "create", "--url", "https://example.com/x", "--header", "Host=evil"
    )
    assert refused.exit_code == 1
    assert "Host cannot be set" in refused.stderr


def test_an_unreadable_certificate_file_names_its_option(live: LiveServer, tmp_path: Path) -> None:
    """Which of the two files, and why, in the user's words: it said "cannot read the
    client certificate or key: [Errno 2] No such file or directory: '...'"."""
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    missing = tmp_path / "missing.pem"
    result = hookcast(
        live,
        *("webhooks", "create", "--url", "https://example.com/x"),
        *("--client-cert", str(missing), "--client-key", str(key)),
    )
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == f"error: --client-cert {str(missing)!r}: no such file or directory"
    )
    binary = tmp_path / "client.der"
    binary.write_bytes(b"\x30\x82\xff\xfe")
    result = hookcast(
        live,
        *("webhooks", "create", "--url", "https://example.com/x"),
        *("--client-cert", str(binary), "--client-key", str(key)),
    )
    assert result.stderr.strip() == (
        f"error: --client-cert {str(binary)!r} is not a PEM file (text beginning -----BEGIN)"
    )
