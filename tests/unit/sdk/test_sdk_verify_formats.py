"""hookcast.verify on every format's deliveries, signed by the formats' own code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from hookcast import verify
from hookcast.domain.formats import FORMATS
from support import factories as make

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "sig_sec_Abcd12348RLP7VPLi7nYVh"
OTHER = "sig_sec_Zyxw98765RLP7VPLi7nYVh"
EVENT = make.event("acc", type="channel_active", resource_ids={"channel_id": "li3VbBGc"})

Check = Callable[[bytes, dict[str, str], Any], dict[str, Any]]


def _delivery(
    format_name: str, secrets: tuple[str, ...] = (SECRET,)
) -> tuple[bytes, dict[str, str]]:
    wire = FORMATS[format_name]
    body = orjson.dumps(wire.body(EVENT, webhook_id="2yW4KmiG", delivery_id="dlv_1"))
    headers = wire.headers(
        body, msg_id="dlv_1", timestamp=int(NOW.timestamp()), webhook_id="2yW4KmiG", secrets=secrets
    )
    return body, headers


@pytest.mark.parametrize(
    ("format_name", "check", "event_key"),
    [
        ("apivideo", verify.apivideo, "type"),
        ("flowplayer", verify.flowplayer, "event_type"),
        ("mediamanager", verify.mediamanager, "event"),
    ],
)
def test_each_hmac_format_verifies_and_refuses_a_forgery(
    format_name: str, check: Check, event_key: str
) -> None:
    body, headers = _delivery(format_name)
    payload = check(body, headers, SECRET)
    assert payload[event_key] == FORMATS[format_name].event_name("channel_active")
    # A receiver mid-rotation accepts either of its secrets.
    assert check(body, headers, [OTHER, SECRET]) == payload
    with pytest.raises(verify.InvalidSignature):
        check(body, headers, OTHER)
    with pytest.raises(verify.InvalidSignature):
        check(body.replace(b"li3VbBGc", b"li3VbBGd"), headers, SECRET)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert check(body, lowered, SECRET) == payload
    with pytest.raises(verify.MissingSignature):
        check(body, {"Content-Type": "application/json"}, SECRET)


@pytest.mark.parametrize("format_name", ["apivideo", "flowplayer", "mediamanager"])
def test_any_accepts_untimestamped_formats_only_when_allowed(format_name: str) -> None:
    body, headers = _delivery(format_name)
    with pytest.raises(verify.MissingSignature, match="allow_untimestamped"):
        verify.any(body, headers, SECRET, now=NOW)
    assert verify.any(body, headers, SECRET, now=NOW, allow_untimestamped=True)


def test_any_verifies_the_standard_format_by_its_headers() -> None:
    secret = FORMATS["standard"].new_secret()
    body, headers = _delivery("standard", (secret,))
    assert verify.any(body, headers, secret, now=NOW)["type"] == "channel.active"
