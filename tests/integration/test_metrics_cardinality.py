"""/metrics keeps per-webhook series for at most an account's webhook limit of its webhooks:
a tenant creating, test-sending and deleting webhooks in a loop cannot grow `serve`'s memory
and every scrape without bound (each scrape renders all series on the event loop that also
answers every tenant's API), and evicts only its own series, never another account's."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from harness import cli_env, run_cli, serve, webhook_metadata
from receivers import closed_port

from support.waiting import wait_until

LIMIT = 2  # HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT
CHURNED = 6  # webhooks the churning account creates, test-sends and deletes, one by one
_SERIES = re.compile(r'^hookcast_webhook_attempts_total\{[^}]*webhook_id="([^"]+)"', re.M)


def _series(client: httpx.Client) -> set[str]:
    """The webhook ids /metrics has per-webhook series for."""
    page = client.get("/metrics")
    assert page.status_code == 200, page.text
    return set(_SERIES.findall(page.text))


def _tested_webhook(client: httpx.Client, key: str, site_id: str) -> str:
    """A new webhook to a refused port, sent a test event, once its attempt is counted."""
    headers = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{closed_port()}/hook"
    made = client.post(
        "/v2/webhooks/",
        json={"metadata": webhook_metadata([site_id], webhook_url=url)},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    webhook_id: str = made.json()["id"]
    tested = client.post(f"/v2/webhooks/{webhook_id}/test/", json={}, headers=headers)
    assert tested.status_code == 202, tested.text
    wait_until(
        lambda: webhook_id in _series(client),
        timeout=30,
        message=f"the test attempt of {webhook_id} was never counted",
    )
    return webhook_id


def _site(client: httpx.Client, key: str) -> str:
    made = client.post(
        "/v2/sites/",
        json={"metadata": {"name": "Main"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert made.status_code == 201, made.text
    site_id: str = made.json()["id"]
    return site_id


@pytest.mark.timeout(120)
def test_a_tenant_churning_webhooks_keeps_at_most_its_limit_of_series(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hookcast.db'}"
    env = cli_env(
        database_url,
        HOOKCAST_ALLOWED_NETWORKS="127.0.0.0/8",
        HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT=str(LIMIT),
        HOOKCAST_RATE_LIMIT_PER_SECOND="0",
        HOOKCAST_ACCOUNT_RATE_LIMIT_PER_SECOND="0",
    )
    with serve(env, tmp_path) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        victim_key = server.admin_key()
        victim_hook = _tested_webhook(client, victim_key, _site(client, victim_key))

        made = run_cli(["accounts", "create", "Churner"], env, tmp_path)
        assert made.returncode == 0, made.stderr
        account_id = made.stdout.strip()
        issued = run_cli(
            ["keys", "create", "--account", account_id, "--role", "admin"], env, tmp_path
        )
        assert issued.returncode == 0, issued.stderr
        churner_key = issued.stdout.strip()
        site_id = _site(client, churner_key)

        churned = []
        for _ in range(CHURNED):
            webhook_id = _tested_webhook(client, churner_key, site_id)
            deleted = client.delete(
                f"/v2/webhooks/{webhook_id}/", headers={"Authorization": f"Bearer {churner_key}"}
            )
            assert deleted.status_code == 204, deleted.text
            churned.append(webhook_id)

        kept = _series(client)
        # The churner's latest webhooks, at most its limit of them; the victim's untouched.
        assert kept & set(churned) == set(churned[-LIMIT:])
        assert victim_hook in kept
