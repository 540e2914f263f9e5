"""`hookcast listen` tells each request's format and checks that format's signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from rich.console import Console

from hookcast.cli.listen import check_signatures, detect_format, render
from hookcast.domain.formats import FORMATS
from support import factories as make

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENT = make.event("acc", type="channel_active", resource_ids={"channel_id": "li3VbBGc"})


def _delivery(format_name: str) -> tuple[bytes, dict[str, str]]:
    wire = FORMATS[format_name]
    body = orjson.dumps(wire.body(EVENT, webhook_id="2yW4KmiG", delivery_id="dlv_1"))
    now = int(datetime.now(UTC).timestamp())
    headers = wire.headers(
        body, msg_id="dlv_1", timestamp=now, webhook_id="2yW4KmiG", secrets=(SECRET,)
    )
    return body, headers


@pytest.mark.parametrize(
    ("format_name", "schemes", "label", "event"),
    [
        ("jwplayer", ["JWT", "Standard", "hex"], "JW Player", "channel_active"),
        ("standard", ["Standard"], "Standard Webhooks", "channel.active"),
        ("apivideo", ["api.video"], "api.video", "live-stream.broadcast.started"),
        ("flowplayer", ["Flowplayer"], "Flowplayer", "LIVESTREAM_CONNECTED"),
        ("mediamanager", ["Media Manager"], "Media Manager", "livestream.started"),
    ],
)
def test_every_format_is_labelled_and_its_signatures_verified(
    format_name: str, schemes: list[str], label: str, event: str
) -> None:
    body, headers = _delivery(format_name)
    assert detect_format(headers) == format_name

    checks = check_signatures(body, headers, [SECRET])
    assert [check.scheme for check in checks] == schemes
    assert all(check.ok for check in checks)
    wrong = check_signatures(body, headers, ["whsec_WllZWVlZWVlZWVlZWVlZWVlZWVlZWVlZ"])
    assert not any(check.ok for check in wrong)

    console = Console(record=True, width=200)
    console.print(render(body, headers, checks, 200))
    shown = console.export_text()
    assert f"format: {label}" in shown
    assert event in shown
    assert "li3VbBGc" in shown


def test_a_deliverys_ids_are_shown_whole_in_an_80_column_terminal() -> None:
    body, headers = _delivery("jwplayer")
    console = Console(record=True, width=80)
    console.print(render(body, headers, check_signatures(body, headers, [SECRET]), 200))
    head = console.export_text().split('"event"')[0]  # above the body, which repeats them

    assert "webhook_id=2yW4KmiG" in head
    assert "channel_id=li3VbBGc" in head
    assert f"event_id={orjson.loads(body)['event_id']}" in head
