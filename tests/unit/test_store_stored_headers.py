"""An attempt's request headers stored compactly (store/stored_headers.py): read back, they
are exactly the headers that were logged, in their order, in a fraction of the bytes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.delivery.attempt import conclude, prepare
from hookcast.domain.models import Attempt
from hookcast.ports import ClaimedDelivery, SendOutcome
from hookcast.store.stored_headers import compact, expand
from hookcast.store.types import dump_json
from support import factories as make

NOW = make.later(10.25)
_FORMATS: dict[str, dict[str, Any]] = {
    "jwplayer": {},
    "standard": {},
    "apivideo": {},
    "mediamanager": {},
    "flowplayer": {"organization_secret": "organization secret"},
    "custom": {"headers": {"X-Api-Key": "gateway key"}},
}


def _logged(format_name: str, *, ordered: bool = True) -> Attempt:
    """The attempt a delivery of a webhook of `format_name` logs: with `ordered`, of an
    ordered event, traced."""
    settings = dict(_FORMATS[format_name])
    if format_name != "custom":
        settings["format"] = format_name
    hook = make.webhook("acc", **settings)
    event = make.event(
        "acc",
        type="channel_active",
        resource_ids={"channel_id": "li3VbBGc"},
        sequence=7 if ordered else None,
    )
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    trace = "00-" + "a" * 32 + "-" + "b" * 16 + "-01" if ordered else None
    return conclude(
        claimed,
        request=prepare(claimed, NOW, traceparent=trace),
        outcome=SendOutcome(status_code=204, latency_ms=1.0),
        started_at=NOW,
        now=NOW,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    ).result.attempt


def _round_trip(attempt: Attempt) -> tuple[dict[str, str], str]:
    delivery_id, started_at = attempt.delivery_id, attempt.started_at
    stored = dump_json(
        compact(attempt.request_headers, delivery_id=delivery_id, started_at=started_at)
    )
    read = expand(orjson.loads(stored), delivery_id=delivery_id, started_at=started_at)
    return read, stored


@pytest.mark.parametrize("format_name", sorted(_FORMATS))
def test_every_formats_logged_headers_read_back_exactly(format_name: str) -> None:
    attempt = _logged(format_name)

    read, stored = _round_trip(attempt)

    assert list(read.items()) == list(attempt.request_headers.items())
    assert len(stored) < len(dump_json(attempt.request_headers)) / 2


def test_a_jw_player_deliverys_headers_take_a_few_dozen_bytes() -> None:
    _read, stored = _round_trip(_logged("jwplayer", ordered=False))

    assert len(stored) <= 40


@given(st.dictionaries(st.text(), st.text(), max_size=8))
def test_any_headers_read_back_exactly(headers: dict[str, str]) -> None:
    attempt = make.attempt("dlv_" + "x" * 22, request_headers=headers)

    read, _stored = _round_trip(attempt)

    assert list(read.items()) == list(headers.items())


def test_headers_stored_as_an_object_are_read_as_they_are() -> None:
    stored = {"webhook-id": "dlv_1", "Content-Type": "application/json"}

    assert expand(stored, delivery_id="dlv_2", started_at=NOW) == stored
