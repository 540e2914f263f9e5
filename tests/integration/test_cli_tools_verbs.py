"""The CLI verbs the API and dashboard have, run as a user runs them against a real server:
test, recover, deliveries get / retry, secret reveal / rotate, sites list, keys list /
revoke. Scripts get ids and secrets alone on stdout, or the API's own JSON with --json."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from receivers import closed_port
from tools_harness import SITE_ID, LiveServer, live_server
from typer.testing import CliRunner, Result

from hookcast.cli import app
from support.waiting import wait_until

DELIVERY_ID = re.compile(r"dlv_[A-Za-z0-9]{22}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-verbs")) as running:
        yield running


def hookcast(live: LiveServer, *args: str) -> Result:
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key, "COLUMNS": "80"}
    return CliRunner().invoke(app, list(args), env=env)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def ok_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


@pytest.fixture
def webhook(live: LiveServer) -> Iterator[dict[str, Any]]:
    """A webhook whose endpoint refuses connections: every attempt fails."""
    url = f"http://127.0.0.1:{closed_port()}/hook"
    created = ok_json(hookcast(live, "webhooks", "create", "--url", url, "--event", "*", "--json"))
    yield created
    ok(hookcast(live, "webhooks", "delete", created["id"]))


def test_send_a_test_then_show_and_retry_its_delivery(
    live: LiveServer, webhook: dict[str, Any]
) -> None:
    sent = ok(hookcast(live, "webhooks", "test", webhook["id"]))
    delivery_id = sent.stdout.strip()
    assert DELIVERY_ID.fullmatch(delivery_id)
    assert "webhook_test event" in sent.stderr

    shown = ok_json(hookcast(live, "deliveries", "get", delivery_id, "--json"))
    assert (shown["id"], shown["event"]) == (delivery_id, "webhook_test")
    table = ok(hookcast(live, "deliveries", "get", delivery_id))
    assert "webhook_test" in table.stdout
    assert " UTC" in table.stdout  # times say their zone

    retried = ok(hookcast(live, "deliveries", "retry", delivery_id))
    assert f"delivery {delivery_id} is queued again" in retried.stderr
    assert ok_json(hookcast(live, "deliveries", "retry", delivery_id, "--json"))["id"] == (
        delivery_id
    )


def test_an_empty_delivery_log_is_one_line_saying_what_was_asked(
    live: LiveServer, webhook: dict[str, Any]
) -> None:
    hook_id = webhook["id"]
    none = ok(hookcast(live, "webhooks", "deliveries", hook_id, "--status", "succeeded"))
    assert none.stdout == ""
    assert none.stderr == f"no deliveries of {hook_id} with status succeeded\n"
    ok(hookcast(live, "webhooks", "test", hook_id))
    past = ok(hookcast(live, "webhooks", "deliveries", hook_id, "--page", "2"))
    assert past.stderr == f"no deliveries of {hook_id} on page 2: there are 1\n"


def test_recover_resends_failed_deliveries_since_a_time(
    live: LiveServer, webhook: dict[str, Any]
) -> None:
    recovered = ok(hookcast(live, "webhooks", "recover", webhook["id"], "--since", "2h"))
    assert re.fullmatch(
        rf"resending \d+ failed deliveries of {webhook['id']} since "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        recovered.stderr.strip(),
    )
    answer = ok_json(
        hookcast(
            live, "webhooks", "recover", webhook["id"], "--since", "2026-01-01T00:00:00Z", "--json"
        )
    )
    assert set(answer) == {"recovered"}  # the API's own answer


def test_secret_reveal_and_rotate_print_the_secret_alone(
    live: LiveServer, webhook: dict[str, Any]
) -> None:
    revealed = ok(hookcast(live, "webhooks", "secret", "reveal", webhook["id"]))
    assert revealed.stdout.strip() == webhook["secret"]

    rotated = ok(hookcast(live, "webhooks", "secret", "rotate", webhook["id"]))
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("whsec_")
    assert new_secret != webhook["secret"]
    assert "previous secret also signs the webhook-signature header until" in rotated.stderr
    shown = ok_json(hookcast(live, "webhooks", "secret", "reveal", webhook["id"], "--json"))
    assert (shown["secret"], shown["previous_secret"]) == (new_secret, webhook["secret"])


def test_sites_list(live: LiveServer) -> None:
    table = ok(hookcast(live, "sites", "list"))
    assert SITE_ID in table.stdout
    assert "Main" in table.stdout
    listed = ok_json(hookcast(live, "sites", "list", "--json"))
    assert SITE_ID in [site["id"] for site in listed["sites"]]


def test_keys_list_and_revoke(live: LiveServer) -> None:
    with live.client() as client:
        made = client.create_api_key(role="viewer", name="dashboard screen")
    table = ok(hookcast(live, "keys", "list"))
    assert made.id in table.stdout
    assert "dashboard screen" in table.stdout
    # Whoever holds the secret finds its row by the id it starts with, to revoke it.
    assert made.secret is not None
    assert made.secret.startswith(f"hck_{made.id}_")

    revoked = ok(hookcast(live, "keys", "revoke", made.id))
    assert f"revoked API key {made.id}" in revoked.stderr
    listed = ok_json(hookcast(live, "keys", "list", "--json"))
    assert made.id not in [key["id"] for key in listed["api_keys"]]
    gone = hookcast(live, "keys", "revoke", made.id)
    assert gone.exit_code == 1
    assert gone.stderr.startswith("error: ")


def test_tables_fit_80_columns_with_whole_ids_and_zoned_times(live: LiveServer) -> None:
    url = f"http://127.0.0.1:{closed_port()}/a-rather-long-path/for-a-receiver"
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", url, "--name", "Receiver with a long name"),
            *("--event", "channel_recording_ready", "--retry-policy", "5,60,600", "--json"),
        )
    )
    hook_id = created["id"]
    delivery_id = ok(hookcast(live, "webhooks", "test", hook_id)).stdout.strip()

    def attempted() -> bool:
        shown = ok_json(hookcast(live, "deliveries", "get", delivery_id, "--json"))
        return bool(shown["attempts"])

    # The failed attempt, and the webhook's failing state with it, are written within the
    # worker's flush interval of the attempt: the screens show them once they are.
    wait_until(attempted, timeout=10, message="the test delivery's attempt was never recorded")
    screens = {
        "list": ok(hookcast(live, "webhooks", "list")).stdout,
        "get": ok(hookcast(live, "webhooks", "get", hook_id)).stdout,
        "deliveries": ok(hookcast(live, "webhooks", "deliveries", hook_id)).stdout,
        "delivery": ok(hookcast(live, "deliveries", "get", delivery_id)).stdout,
        "sites": ok(hookcast(live, "sites", "list")).stdout,
        "keys": ok(hookcast(live, "keys", "list")).stdout,
    }
    for name, text in screens.items():
        assert max(len(line) for line in text.splitlines()) <= 80, (name, text)
        assert " UTC" in text, name
    assert hook_id in screens["list"]
    assert delivery_id in screens["deliveries"]  # whole, to copy into deliveries retry
    assert "5s, 60s, 600s" in screens["get"]  # not a tuple's repr
    assert "(5" not in screens["get"]
    ok(hookcast(live, "webhooks", "delete", hook_id))


def test_the_webhook_list_keeps_a_url_whole_in_80_columns(live: LiveServer) -> None:
    # It broke a receiver's URL after "http://127.0.0.1:", then neither read nor copied whole;
    # then any URL over 36 characters, and "media_availa|ble" in a column of its own.
    urls = (f"http://127.0.0.1:{closed_port()}/hooks", "https://hooks.broadcaster.example/hookcast")
    events = ("--event", "conversions_complete", "--event", "media_available")
    made = [
        ok_json(hookcast(live, "webhooks", "create", "--url", url, *events, "--json"))
        for url in urls
    ]
    listed = ok(hookcast(live, "webhooks", "list")).stdout
    for created in made:
        ok(hookcast(live, "webhooks", "delete", created["id"]))
    lines = listed.splitlines()
    assert max(len(line) for line in lines) <= 80, listed
    for url in urls:
        assert any(url in line for line in lines), listed
    for event in ("conversions_complete", "media_available"):  # each whole, on one line
        assert any(event in line for line in lines), listed
    assert any("on all properties" in line for line in lines), listed


def test_create_without_event_says_it_means_every_event(live: LiveServer) -> None:
    created = ok(hookcast(live, "webhooks", "create", "--url", "https://example.com/all", "--json"))
    answer = json.loads(created.stdout)
    ok(hookcast(live, "webhooks", "delete", answer["id"]))  # the other tests count matches
    assert answer["metadata"]["events"] == ["*"]
    assert (
        "no --event given: subscribed to every event, including ones added later "
        "(--event NAME, repeatable, for only some)"
    ) in created.stderr


def test_create_without_site_means_every_property_and_trigger_counts_matches(
    live: LiveServer,
) -> None:
    created = hookcast(
        live, "webhooks", "create", "--url", "https://example.com/count", "--event", "*"
    )
    ok(created)
    assert "no --site given: subscribed to every property, including ones created later" in (
        created.stderr
    )
    assert "no --event given" not in created.stderr  # --event "*" was given
    assert "all properties, including future ones" in created.stdout
    hook_id = re.search(r"webhook (\w{8})", created.stdout).group(1)  # type: ignore[union-attr]

    published = ok(hookcast(live, "trigger", "media_created", "--media-id", "Cnt0Med1"))
    matched = re.search(r"^matched (\d+) webhooks?$", published.stderr, re.MULTILINE)
    assert matched is not None, published.stderr
    with live.client() as client:
        (record,) = client.list_events(resource_id="Cnt0Med1").items
        assert int(matched.group(1)) == sum(record.deliveries.values()) >= 1
        client.create_site("Later", site_id="LaterS01")
    later = ok(hookcast(live, "trigger", "media_created", "--site", "LaterS01"))
    assert re.search(r"^matched [1-9]\d* webhooks?$", later.stderr, re.MULTILINE), later.stderr
    ok(hookcast(live, "webhooks", "delete", hook_id))
    with live.client() as client:
        client.create_site("Nobody's", site_id="Nobody01")
    elsewhere = ok(hookcast(live, "trigger", "media_created", "--site", "Nobody01"))
    assert elsewhere.stderr.strip() == (
        "matched no webhook: none wants media_created on property Nobody01 "
        "(see hookcast webhooks list)"
    )
    assert elsewhere.stdout.strip().startswith("evt_")


def test_trigger_says_which_matches_are_held_by_a_disabled_webhook(live: LiveServer) -> None:
    """ "matched 2 webhooks" of which one sends nothing until someone acts read as two
    deliveries on their way."""
    with live.client() as client:
        client.create_site("Held", site_id="HeldSit1")
        made = [
            client.create_webhook(
                name=name,
                webhook_url=f"https://example.com/{name}",
                events=["media_deleted"],
                site_ids=["HeldSit1"],
            )
            for name in ("on", "off")
        ]
        client.update_webhook(made[1].id, enabled=False)
    published = ok(hookcast(live, "trigger", "media_deleted", "--site", "HeldSit1"))
    assert published.stderr.strip() == (
        "matched 2 webhooks (1 held, not sent: its webhook is disabled, or in the Flowplayer "
        "format while the account has no organization secret; hookcast webhooks deliver-held "
        "WEBHOOK_ID sends once that is fixed)"
    )
    with live.client() as client:
        for webhook in made:
            client.delete_webhook(webhook.id)


def test_serve_says_it_created_the_schema_without_alembic_lines(live: LiveServer) -> None:
    log = live.server.stderr()
    assert f"created {live.cwd / 'hookcast.db'} at schema revision 0" in log
    assert "alembic" not in log


def test_a_given_up_delivery_says_when_and_why(live: LiveServer) -> None:
    """As the dashboard's log: after the last attempt, when the retry policy gave up and
    why (here a refused connection, retried once a second later)."""
    url = f"http://127.0.0.1:{closed_port()}/refused"
    created = ok_json(
        hookcast(live, "webhooks", "create", "--url", url, "--retry-policy", "1", "--json")
    )
    delivery_id = ok(hookcast(live, "webhooks", "test", created["id"])).stdout.strip()

    def failed() -> bool:
        shown = ok_json(hookcast(live, "deliveries", "get", delivery_id, "--json"))
        return bool(shown["status"] == "failed")

    wait_until(failed, timeout=20, message="the retry policy never gave up")
    shown = ok(hookcast(live, "deliveries", "get", delivery_id)).stdout
    ok(hookcast(live, "webhooks", "delete", created["id"]))  # the other tests count matches
    lines = shown.splitlines()
    where = next(i for i, line in enumerate(lines) if line.strip().startswith("gave up"))
    # after the last attempt (rows wrap at 80 columns)
    assert any(line.strip().startswith("attempt 2 ") for line in lines[:where])
    assert not any(line.strip().startswith("attempt") for line in lines[where:])
    said = " ".join(" ".join(lines[where:]).split())
    assert re.search(r"gave up \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · Retries used up: ", said)
    assert "2 attempts, all that the custom retry policy makes" in said


def test_flowplayer_secret_unset_then_set_from_stdin_then_rotated(live: LiveServer) -> None:
    # The account keeps the secret it ends with: no other test here reads it.
    unset = hookcast(live, "webhooks", "flowplayer-secret", "reveal")
    assert unset.exit_code == 1
    assert "no Flowplayer secret is set" in unset.stderr

    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key}
    chosen = "our-flowplayer-organization-secret"
    args = ["webhooks", "flowplayer-secret", "set", "-"]
    ok(CliRunner().invoke(app, args, env=env, input=f"{chosen}\n"))
    revealed = ok(hookcast(live, "webhooks", "flowplayer-secret", "reveal"))
    assert revealed.stdout == f"{chosen}\n"

    short = hookcast(live, "webhooks", "flowplayer-secret", "set", "too-short")
    assert short.exit_code == 1
    assert "at least 16 characters" in short.stderr

    rotated = ok(hookcast(live, "webhooks", "flowplayer-secret", "rotate"))
    assert rotated.stdout.strip() not in ("", chosen)
    shown = ok_json(hookcast(live, "webhooks", "flowplayer-secret", "reveal", "--json"))
    assert shown["secret"] == rotated.stdout.strip()
