"""`hookcast webhooks ...`, `trigger` and `simulate` as a user runs them against a real
server (HOOKCAST_URL / HOOKCAST_API_KEY): JSON for scripts, tables for people, and every
failure one readable line on stderr with a non-zero exit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from harness import run_cli
from tools_harness import SITE_ID, LiveServer, live_server
from typer.testing import CliRunner, Result

from hookcast.cli import app
from hookcast.cli.lifecycles import simulation


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-tools")) as running:
        yield running


def hookcast(live: LiveServer, *args: str, api_key: str | None = None) -> Result:
    """One command in-process (Typer's runner), with the environment a user would set."""
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": api_key or live.admin_key}
    env["COLUMNS"] = "160"  # a wide terminal: tables fold long cells at narrower widths
    return CliRunner().invoke(app, list(args), env=env)


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_webhooks_create_list_get_update_deliveries_delete(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/hooks", "--name", "Ready"),
            *("--event", "media_available", "--site", SITE_ID, "--retry-policy", "5,60", "--json"),
            *("--ordering", "resource"),
        )
    )
    hook_id = created["id"]
    assert created["secret"].startswith("whsec_")
    assert created["metadata"]["retry_policy"] == [5, 60]  # the API's own shape
    assert created["metadata"]["ordering"] == "resource"

    listed = ok_json(hookcast(live, "webhooks", "list", "--json"))
    assert hook_id in [item["id"] for item in listed["webhooks"]]
    table = hookcast(live, "webhooks", "list")
    assert table.exit_code == 0
    assert hook_id in table.stdout
    assert "media_available" in table.stdout

    shown = hookcast(live, "webhooks", "get", hook_id)
    assert "https://example.com/hooks" in shown.stdout
    assert "whsec_" not in shown.stdout
    assert "resource" in shown.stdout

    updated = ok_json(
        hookcast(
            live,
            *("webhooks", "update", hook_id, "--disable", "--event", "media_deleted"),
            *("--conditions", '{"data.tags": {"$contains": "sports"}}', "--json"),
            *("--ordering", "none"),
        )
    )
    changed = updated["metadata"]
    assert (changed["enabled"], changed["events"]) == (False, ["media_deleted"])
    assert changed["conditions"] == {"data.tags": {"$contains": "sports"}}
    assert changed["ordering"] == "none"

    deliveries = ok_json(hookcast(live, "webhooks", "deliveries", hook_id, "--json"))
    assert deliveries["total"] == 0
    assert hookcast(live, "webhooks", "delete", hook_id).exit_code == 0
    assert_one_line_error(
        hookcast(live, "webhooks", "get", hook_id), "not found", "404", "not_found"
    )


def test_a_new_users_mistakes_say_what_to_do_next(live: LiveServer) -> None:
    """An unknown id names the command that lists the ids; a URL typed as in a browser's
    address bar is answered with the https:// one it most likely meant."""
    assert_one_line_error(
        hookcast(live, "webhooks", "get", "nope1234"),
        "webhook 'nope1234' was not found (HTTP 404, not_found): `hookcast webhooks list` "
        "shows your webhooks' ids",
    )
    assert_one_line_error(
        hookcast(live, "deliveries", "get", "nope1234"),
        "`hookcast webhooks deliveries WEBHOOK_ID` lists a webhook's deliveries",
    )
    assert_one_line_error(
        hookcast(
            live, "webhooks", "create", "--url", "https://example.com/h", "--site", "Nope1234"
        ),
        "unknown site id(s): Nope1234 (HTTP 400, invalid_body): `hookcast sites list` shows "
        "your properties' ids",
    )
    assert_one_line_error(
        hookcast(live, "webhooks", "create", "--url", "example.com/hooks"),
        "(got 'example.com/hooks'; did you mean https://example.com/hooks?)",
    )


def test_other_commands_errors_name_their_options_and_what_to_do(live: LiveServer) -> None:
    """Not only create and update: the list filters, trigger's ids, replay's range, an
    unknown property or key id, and a role too weak each say what the user typed and where
    to go next, never the API's field names (`query.page_length`, `site_id`)."""
    hook = ok_json(hookcast(live, "webhooks", "create", "--url", "https://e.com/o", "--json"))
    assert_one_line_error(
        hookcast(live, "webhooks", "list", "--page-length", "5000"),
        "error: --page-length: Input should be less than or equal to 1000",
    )
    assert_one_line_error(
        hookcast(live, "webhooks", "deliveries", hook["id"], "--status", "bogus"),
        "error: --status must be one of: pending",
    )
    assert_one_line_error(
        hookcast(live, "trigger", "media_available", "--site", "Nope1234"),
        "error: --site: unknown site 'Nope1234'",
        "`hookcast sites list` shows your properties' ids",
    )
    assert_one_line_error(
        hookcast(live, "simulate", "--site", "Nope1234", "--uploads", "1"),
        "`hookcast sites list` shows your properties' ids",
    )
    assert_one_line_error(
        hookcast(live, "keys", "revoke", "nope1234"), "`hookcast keys list` shows your keys' ids"
    )
    assert_one_line_error(
        hookcast(live, "webhooks", "replay", hook["id"], "--since", "2h", "--until", "5h"),
        "error: --until (",
        ") must be later than --since (",
    )
    with live.client() as client:
        viewer = client.create_api_key(role="viewer").secret
    assert viewer is not None
    assert_one_line_error(
        hookcast(live, "webhooks", "delete", hook["id"], api_key=viewer),
        "(HTTP 403, forbidden): use a key whose role allows it",
        "`hookcast keys create --role editor` (or admin) makes one",
    )
    # The weakest role that may: a publisher publishes; only an admin lists keys (an editor
    # offered for both did not do for the second).
    assert_one_line_error(
        hookcast(live, "trigger", "media_available", "--media-id", "Role0001", api_key=viewer),
        "`hookcast keys create --role publisher` (or editor, admin) makes one",
    )
    with live.client() as client:
        editor = client.create_api_key(role="editor").secret
    assert editor is not None
    assert_one_line_error(
        hookcast(live, "keys", "list", api_key=editor),
        "(HTTP 403, forbidden): use a key whose role allows it",
        "`hookcast keys create --role admin` makes one",
    )
    said = hookcast(live, "webhooks", "list", "--page-length", "5000").stderr
    assert "query." not in said
    assert "page_length" not in said


def test_update_with_nothing_to_change_is_a_usage_mistake(live: LiveServer) -> None:
    """It used to print the webhook back with exit status 0, as if a change were saved."""
    hook = ok_json(hookcast(live, "webhooks", "create", "--url", "https://e.com/n", "--json"))
    result = hookcast(live, "webhooks", "update", hook["id"])
    assert result.exit_code == 2
    assert "Error: nothing to change: give at least one setting" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (("--url", "ftp://example.com/"), "error: --url must start with http:// or https://"),
        (("--url", "http://10.1.2.3/"), "error: --url 'http://10.1.2.3/' is refused"),
        (("--timeout", "99"), "error: --timeout must be between 1 and 30"),
        (("--retry-policy", "0"), "error: --retry-policy's delay 1 must be a number of seconds"),
        (("--max-age", "media_available=0"), "error: --max-age media_available must be"),
        (("--rate-limit", "0"), "error: --rate-limit: "),
    ],
)
@pytest.mark.parametrize("command", ["create", "update"])
def test_webhook_errors_name_the_option_that_was_typed(
    live: LiveServer, command: str, given: tuple[str, ...], said: str
) -> None:
    """The API's errors start with its field's name (`webhook_url must ...`): the CLI says
    the option its user typed instead, as README and --help name it."""
    if command == "create":
        args = ["webhooks", "create", *given]
        if given[0] != "--url":
            args += ["--url", "https://example.com/options"]
    else:
        hook = ok_json(
            hookcast(live, "webhooks", "create", "--url", "https://example.com/o", "--json")
        )
        args = ["webhooks", "update", hook["id"], *given]
    result = hookcast(live, *args)
    assert_one_line_error(result, said)
    field = {"--url": "webhook_url", "--timeout": "timeout_seconds", "--rate-limit": "rate_limit"}
    assert field.get(given[0], given[0].lstrip("-").replace("-", "_")) not in result.stderr


def test_webhooks_deliveries_shows_what_was_delivered(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/log", "--json"),
            *("--event", "media_deleted"),
        )
    )
    # Delivery to example.com may or may not be possible here; the log has the row either way.
    assert hookcast(live, "trigger", "media_deleted", "--media-id", "Log0Med1").exit_code == 0
    listed = ok_json(hookcast(live, "webhooks", "deliveries", created["id"], "--json"))
    assert [item["event"] for item in listed["deliveries"]] == ["media_deleted"]
    table = hookcast(live, "webhooks", "deliveries", created["id"])
    assert "media_deleted" in table.stdout
    assert hookcast(live, "webhooks", "delete", created["id"]).exit_code == 0


def test_webhooks_held_while_disabled_are_shown_and_discarded(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/held", "--json"),
            *("--event", "media_deleted"),
        )
    )
    hook_id = created["id"]
    assert hookcast(live, "webhooks", "update", hook_id, "--disable").exit_code == 0
    assert hookcast(live, "trigger", "media_deleted", "--media-id", "Held0Md1").exit_code == 0

    shown = ok_json(hookcast(live, "webhooks", "get", hook_id, "--json"))
    assert shown["metadata"]["held_deliveries"] == 1
    assert "held deliveries" in hookcast(live, "webhooks", "get", hook_id).stdout
    listed = hookcast(live, "webhooks", "list").stdout
    assert "disabled by a" in listed
    assert "disabled: disabled" not in listed  # the reason says it whole
    assert_one_line_error(
        hookcast(live, "webhooks", "deliver-held", hook_id), "disabled", "409", "conflict"
    )
    discarded = hookcast(live, "webhooks", "discard-held", hook_id)
    assert discarded.exit_code == 0
    assert "discarded 1 held" in discarded.stderr
    # Nothing left: said as nothing, not as "0 held deliveries ... are on their way".
    assert hookcast(live, "webhooks", "update", hook_id, "--enable").exit_code == 0
    none_left = hookcast(live, "webhooks", "deliver-held", hook_id)
    assert none_left.exit_code == 0
    assert none_left.stderr.strip() == f"webhook {hook_id} holds no deliveries: nothing was sent"
    listed = ok_json(hookcast(live, "webhooks", "deliveries", hook_id, "--json"))
    assert [item["status"] for item in listed["deliveries"]] == ["discarded"]
    assert hookcast(live, "webhooks", "delete", hook_id).exit_code == 0


def test_webhooks_latest_wins_maximum_ages_and_replay(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/replay", "--json"),
            *("--event", "media_deleted", "--coalesce", "--max-age", "media_deleted=600"),
        )
    )
    hook_id = created["id"]
    metadata = created["metadata"]  # the API's own shape
    assert (metadata["coalesce"], metadata["max_age_seconds"]) == (True, {"media_deleted": 600})
    shown = hookcast(live, "webhooks", "get", hook_id).stdout
    assert "latest wins" in shown
    assert "media_deleted 600s" in shown
    cleared = ok_json(
        hookcast(
            live, "webhooks", "update", hook_id, "--no-coalesce", "--max-age", "none", "--json"
        )
    )
    assert (cleared["metadata"]["coalesce"], cleared["metadata"]["max_age_seconds"]) == (False, {})
    for seconds in ("ten", "\u00b2"):  # "²": str.isdigit() takes it, int() does not
        assert_one_line_error(
            hookcast(live, "webhooks", "update", hook_id, "--max-age", f"media_deleted={seconds}"),
            "EVENT=SECONDS",
        )

    # One held delivery, discarded: finished, so a replay may send it again.
    assert hookcast(live, "webhooks", "update", hook_id, "--disable").exit_code == 0
    assert hookcast(live, "trigger", "media_deleted", "--media-id", "Rply0Md1").exit_code == 0
    assert hookcast(live, "webhooks", "discard-held", hook_id).exit_code == 0
    since = ("--since", "2000-01-01T00:00:00Z")
    dry = hookcast(live, "webhooks", "replay", hook_id, *since, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "1 delivery of webhook" in dry.stderr
    assert "would be sent again" in dry.stderr
    # How long ago, as `recover --since` reads it: created in the last day.
    ago = hookcast(live, "webhooks", "replay", hook_id, "--since", "1d", "--dry-run")
    assert "1 delivery " in ago.stderr, ago.stderr
    none = hookcast(live, "webhooks", "replay", hook_id, *since, "--resource", "Other0M1")
    assert none.stderr.strip() == (
        f"no finished deliveries of webhook {hook_id} match: nothing was sent again"
    )
    done = hookcast(live, "webhooks", "replay", hook_id, *since, "--event", "media_deleted")
    assert "1 delivery of webhook" in done.stderr
    listed = ok_json(hookcast(live, "webhooks", "deliveries", hook_id, "--json"))
    assert [item["status"] for item in listed["deliveries"]] == ["paused"]  # still disabled
    # It named only ISO 8601 (the server's answer), though a date alone is read too.
    for bad in ("never", "2 weeks"):
        assert_one_line_error(
            hookcast(live, "webhooks", "replay", hook_id, "--since", bad),
            f"--since {bad!r} is not a time: give an ISO 8601 date or time such as 2024-08-27, "
            "2024-08-27T00:15:45Z or 2024-08-27T02:15:45+02:00 (UTC when it names no offset), "
            "or how long ago: 30m, 2h or 1d",
        )
    assert_one_line_error(
        hookcast(live, "webhooks", "replay", hook_id, *since, "--until", "soon"),
        "--until 'soon' is not a time",
    )
    assert hookcast(live, "webhooks", "delete", hook_id).exit_code == 0


def test_trigger_publishes_catalog_examples_and_your_own_ids(live: LiveServer) -> None:
    result = hookcast(live, "trigger", "media_available")  # site: the first one
    assert result.exit_code == 0, result.stderr
    event_id = result.stdout.strip()
    with live.client() as client:
        (record,) = client.list_events(resource_id="MNYaMSQl", event="media_available").items
        assert record.event_id == event_id
        assert record.data == {"title": "Match highlights", "tags": ["sports"]}  # the example

    custom = hookcast(
        live,
        *("trigger", "thumbnail_created", "--site", SITE_ID, "--media-id", "Own0Med1"),
        *("--id", "thumbnail_id=Own0Thb1", "--data", '{"width": 640}', "--event-id", "evt-own"),
    )
    assert custom.stdout.strip() == "evt-own"
    with live.client() as client:
        (record,) = client.list_events(resource_id="Own0Thb1").items
    assert record.resource_ids == {"thumbnail_id": "Own0Thb1", "media_id": "Own0Med1"}
    assert record.data == {"width": 640}


def test_trigger_errors_are_one_line(live: LiveServer) -> None:
    assert_one_line_error(
        hookcast(live, "trigger", "media_exploded"),
        "listed by GET /v2/event_types/ and at /event-types on the dashboard",
    )
    assert_one_line_error(
        hookcast(live, "trigger", "media_avaliable"), "did you mean media_available?"
    )
    assert_one_line_error(
        hookcast(live, "trigger", "media_created", "--data", "[1]"), "JSON object"
    )
    assert_one_line_error(hookcast(live, "trigger", "media_created", "--id", "oops"), "field=")
    # Python's json reads these as floats the API refuses and JSON cannot write: a traceback
    # of 60 lines (ValueError: Out of range float values are not JSON compliant; attack 15).
    for number in ("1e999", "-1e999", "NaN", "Infinity", "-Infinity"):
        assert_one_line_error(
            hookcast(live, "trigger", "media_created", "--data", f'{{"x": {number}}}'),
            "--data is not valid JSON",
        )
    assert_one_line_error(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/h"),
            *("--event", "media_created", "--conditions", '{"data.x": {"$gt": 1e999}}'),
        ),
        "--conditions is not valid JSON",
    )
    assert_one_line_error(
        hookcast(live, "trigger", "media_created", "--site", "Nowhere1"), "unknown site", "400"
    )
    assert_one_line_error(
        hookcast(live, "trigger", "media_created", api_key="hck_wrong"), "invalid API key", "401"
    )


def test_simulate_publishes_the_seeded_lifecycles(live: LiveServer) -> None:
    with live.client() as client:
        before = client.list_events().total
    result = hookcast(
        live, *("simulate", "--uploads", "3", "--channels", "1", "--rate", "500", "--seed", "5")
    )
    assert result.exit_code == 0, result.stderr
    expected = simulation(seed=5, site_id=SITE_ID, uploads=3, channels=1)
    assert f"published {len(expected)} events (3 uploads, 1 channel, seed 5)" in result.stderr
    with live.client() as client:
        assert client.list_events().total == before + len(expected)
        renditions = client.list_events(event="rendition_ready", page_length=100).total
    assert renditions == sum(event["event"] == "rendition_ready" for event in expected)


def test_simulate_paces_its_batches(live: LiveServer) -> None:
    started = time.monotonic()
    result = hookcast(live, "simulate", "--uploads", "1", "--channels", "0", "--rate", "8")
    assert result.exit_code == 0, result.stderr
    published = int(result.stderr.split("published ")[1].split(" ")[0])
    # 8 events per second: the last batch goes out no sooner than its slot
    assert time.monotonic() - started >= (published - 8) / 8 - 0.5


def test_simulate_bounds_are_one_line_errors(live: LiveServer) -> None:
    assert_one_line_error(hookcast(live, "simulate", "--uploads", "100000"), "--uploads")
    assert_one_line_error(hookcast(live, "simulate", "--rate", "0"), "--rate")
    assert_one_line_error(
        hookcast(live, "simulate", "--uploads", "0", "--channels", "0"), "nothing to simulate"
    )


def test_simulate_on_an_unknown_site_is_one_line_without_a_progress_bar(live: LiveServer) -> None:
    result = hookcast(live, "simulate", "--site", "nosite")
    assert_one_line_error(result, "nosite")
    assert "publishing" not in result.stderr


def test_an_empty_list_is_one_line_saying_what_to_do(live: LiveServer) -> None:
    created = ok_json(
        hookcast(live, "webhooks", "create", "--url", "https://example.com/a", "--json")
    )
    # Before: the columns of an empty table, titled "webhooks (page 99, 0 of 1)".
    past = hookcast(live, "webhooks", "list", "--page", "99")
    assert past.exit_code == 0, past.stderr
    assert past.stdout == ""
    assert past.stderr.startswith("no webhooks on page 99: there are ")
    unmatched = hookcast(live, "webhooks", "list", "--format", "mediamanager")
    assert unmatched.stderr.strip() == (
        "no webhooks match --event, --site or --format: list them all without"
    )
    sites = hookcast(live, "sites", "list", "--page", "99")
    assert sites.stdout == ""
    assert sites.stderr.startswith("no properties on page 99: there are ")
    # A page before the first is refused by the CLI, not answered in the API's pydantic words.
    first = hookcast(live, "webhooks", "list", "--page", "0")
    assert first.exit_code == 2
    assert "query.page" not in first.output
    assert hookcast(live, "webhooks", "delete", created["id"]).exit_code == 0


def test_an_id_where_the_command_goes_names_the_command(live: LiveServer) -> None:
    # Before: "No such command 'whk_nope'." and nothing about what to type instead.
    for group, example in (
        (("webhooks", "secret"), "webhooks secret reveal whk_nope"),
        (("webhooks",), "webhooks get whk_nope"),
        (("deliveries",), "deliveries get whk_nope"),
    ):
        done = hookcast(live, *group, "whk_nope")
        assert done.exit_code == 2
        # e.g. hookcast webhooks get whk_nope (Typer's runner names the program "root")
        assert done.output.rstrip().endswith(f"the command comes first, e.g. root {example}")
    # A mistyped command keeps click's suggestion.
    assert "Did you mean 'list'?" in hookcast(live, "webhooks", "lsit").output


def test_an_id_holding_dots_or_slashes_is_that_id_not_another_route(live: LiveServer) -> None:
    # Before: `webhooks get .` was GET /v2/webhooks/ (the client resolved the dot segment)
    # and `webhooks get <id>/secret` was GET /v2/webhooks/<id>/secret/ (the server decodes
    # %2F before routing): both answered 200 with another route's JSON.
    hook_id = ok_json(
        hookcast(live, "webhooks", "create", "--url", "https://example.com/ids", "--json")
    )["id"]
    for odd in (".", "..", f"{hook_id}/secret", f"{hook_id}/..", f"../webhooks/{hook_id}"):
        for command in (("webhooks", "get"), ("webhooks", "deliveries"), ("deliveries", "get")):
            assert_one_line_error(hookcast(live, *command, odd, "--json"), "was not found")
    assert_one_line_error(hookcast(live, "webhooks", "delete", "."), "was not found")
    assert ok_json(hookcast(live, "webhooks", "get", hook_id, "--json"))["id"] == hook_id


def test_as_a_real_process_errors_have_no_traceback(live: LiveServer) -> None:
    env = live.env(api_key="hck_wrong")
    done = run_cli(["webhooks", "list"], env, live.cwd)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: invalid API key (HTTP 401, unauthorized): check HOOKCAST_API_KEY (or "
        "--api-key); `hookcast serve` prints the first admin key on a new database, and "
        "`hookcast keys create` makes more"
    )
    env.pop("HOOKCAST_API_KEY")
    done = run_cli(["trigger", "media_created"], env, live.cwd)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: no API key: set HOOKCAST_API_KEY or pass --api-key; `hookcast serve` prints "
        "the first admin key on a new database, and `hookcast keys create --role admin` makes "
        "more"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["listen"],
        ["trigger"],
        ["simulate"],
        ["webhooks"],
        ["webhooks", "list"],
        ["webhooks", "create"],
        ["webhooks", "get"],
        ["webhooks", "update"],
        ["webhooks", "delete"],
        ["webhooks", "deliveries"],
        ["webhooks", "deliver-held"],
        ["webhooks", "discard-held"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: hookcast" in result.stdout


def test_trigger_shows_what_each_formats_receivers_get(live: LiveServer) -> None:
    result = hookcast(
        live,
        *("trigger", "video.encoding.quality.completed", "--format", "apivideo"),
        *("--media-id", "viFormat1", "--data", '{"encoding": "mp4", "quality": "1080p"}'),
    )
    assert result.exit_code == 0, result.stderr
    event_id, shown = result.stdout.split("\n", 1)
    with live.client() as client:
        (record,) = client.list_events(resource_id="viFormat1").items
    assert (record.event_id, record.event) == (event_id, "rendition_ready")
    assert shown.startswith("apivideo: {")
    body = json.loads(shown.removeprefix("apivideo: "))
    assert body["type"] == "video.encoding.quality.completed"
    assert (body["videoId"], body["quality"]) == ("viFormat1", "1080p")

    every = hookcast(live, "trigger", "media_created", "--format", "all")
    assert every.exit_code == 0, every.stderr
    assert "apivideo: not delivered in this format" in every.stdout
    assert '"event_type": "VIDEO_READY"' not in every.stdout  # media_created is not VIDEO_READY
    assert '"type": "media.created"' in every.stdout  # standard
    assert '"event": "media.created"' in every.stdout  # Media Manager
    assert_one_line_error(hookcast(live, "trigger", "media_created", "--format", "vimeo"), "vimeo")


def test_webhooks_create_takes_a_format_and_list_shows_it(live: LiveServer) -> None:
    created = ok_json(
        hookcast(
            live,
            *("webhooks", "create", "--url", "https://example.com/av", "--format", "apivideo"),
            *("--event", "live-stream.broadcast.ended", "--site", SITE_ID, "--json"),
        )
    )
    assert created["metadata"]["format"] == "apivideo"  # the API's own shape
    assert created["metadata"]["events"] == ["live-stream.broadcast.ended"]
    assert created["secret"].startswith("sig_sec_")
    table = hookcast(live, "webhooks", "list")
    assert table.exit_code == 0, table.stderr
    assert "apivideo" in table.stdout
    only = ok_json(hookcast(live, "webhooks", "list", "--format", "apivideo", "--json"))
    assert [hook["id"] for hook in only["webhooks"]] == [created["id"]]
    assert hookcast(live, "webhooks", "delete", created["id"]).exit_code == 0


@pytest.mark.parametrize("key", ["hck_é", "hck_\udcff", "hck_a\nb"])
def test_an_api_key_no_header_can_carry_is_one_line(live: LiveServer, key: str) -> None:
    """A key with a byte an HTTP header cannot carry (a mistyped or mis-encoded environment
    variable) was a traceback (UnicodeEncodeError), or blamed on the server being down
    (a line break; attack 15)."""
    assert_one_line_error(
        hookcast(live, "webhooks", "list", api_key=key), "HOOKCAST_API_KEY", "printable ASCII"
    )
