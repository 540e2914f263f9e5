"""`hookcast webhooks create|update --signing ed25519` against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tools_harness import SITE_ID, LiveServer, live_server
from typer.testing import CliRunner, Result

from hookcast.cli import app
from hookcast.domain import ed25519


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-signing")) as running:
        yield running


def hookcast(live: LiveServer, *args: str) -> Result:
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key, "COLUMNS": "80"}
    return CliRunner().invoke(app, list(args), env=env)


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_create_prints_the_signing_key_once_and_the_public_key(live: LiveServer) -> None:
    result = hookcast(
        live,
        *("webhooks", "create", "--url", "https://example.com/signed", "--site", SITE_ID),
        *("--signing", "ed25519"),
    )
    assert result.exit_code == 0, result.stderr
    secret = next(line for line in result.stdout.splitlines() if line.startswith("secret: "))
    signing_key = secret.split()[1]
    public_key = ed25519.public_key_of(signing_key)
    assert f"public key: {public_key}" in result.stdout
    hook_id = next(line.split()[-1] for line in result.stdout.splitlines() if "webhook " in line)
    shown = hookcast(live, "webhooks", "get", hook_id)
    assert public_key in shown.stdout
    assert signing_key not in shown.stdout


def test_update_switches_the_signing_and_json_shows_the_public_key(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/later", "--site", SITE_ID),
            "--json",
        )
    )
    metadata = created["metadata"]  # the API's own shape
    assert (metadata["signing"], metadata["public_key"]) == ("hmac", None)

    updated = ok_json(
        hookcast(live, "webhooks", "update", created["id"], "--signing", "ed25519", "--json")
    )

    assert updated["metadata"]["signing"] == "ed25519"
    assert updated["metadata"]["public_key"].startswith("whpk_")
    refused = hookcast(live, "webhooks", "update", created["id"], "--signing", "rsa")
    assert refused.exit_code == 1
    assert "signing" in refused.stderr
