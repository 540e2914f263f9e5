"""`hookcast webhooks get / list` print what others wrote: a webhook's name and description
(any editor of the account), its URL, the answers of its receiver. None of it may reach the
terminal as escape sequences (an OSC 52 writes the user's clipboard, an OSC 8 makes a link
of other text) or as rich's markup (`[link=...]`, `[reverse]`, which hide what they wrap)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from tools_harness import SITE_ID, LiveServer, live_server
from typer.testing import CliRunner

from hookcast.cli import app

BIDI = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
ESCAPES = BIDI + "\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2J\x9b2J"
MARKUP = "[link=https://elsewhere.example]see[/link] [reverse]x[/reverse]"
# Controls but newline and tab, and the bidi embeddings, overrides and isolates, which make
# a terminal show the text after them reversed (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli-terminal")) as running:
        yield running


def _hookcast(live: LiveServer, *args: str) -> str:
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key, "COLUMNS": "400"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_a_webhooks_strings_are_printed_as_text(live: LiveServer) -> None:
    created = _hookcast(
        live,
        *("webhooks", "create", "--url", "https://example.com/hooks", "--json"),
        *("--name", f"n{ESCAPES}{MARKUP}", "--description", f"d{ESCAPES}{MARKUP}"),
        *("--event", "media_available", "--site", SITE_ID),
    )
    hook_id = json.loads(created)["id"]

    for printed in (
        _hookcast(live, "webhooks", "get", hook_id),
        _hookcast(live, "webhooks", "list"),
    ):
        assert not _CONTROL.findall(printed), printed
        assert MARKUP in printed  # as typed, not taken for styles
        assert "]52;c;" in printed  # shown, not dropped
        assert "\\u202a" in printed


def test_json_output_escapes_what_json_leaves_raw(live: LiveServer) -> None:
    # json.dumps escapes C0 controls, but not DEL nor C1 (\x9b is CSI to many terminals)
    created = _hookcast(
        live,
        *("webhooks", "create", "--url", "https://example.com/hooks", "--json"),
        *("--name", f"n{ESCAPES}\x7f", "--event", "media_available", "--site", SITE_ID),
    )
    hook_id = json.loads(created)["id"]

    for printed in (created, _hookcast(live, "webhooks", "get", hook_id, "--json")):
        assert not _CONTROL.findall(printed), printed
        assert json.loads(printed)["metadata"]["name"] == f"n{ESCAPES}\x7f"
