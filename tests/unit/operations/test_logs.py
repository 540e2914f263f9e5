"""Log output: one JSON object per line with the record's fields, text otherwise, and URL
credentials scrubbed from attempt errors."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from hookcast.delivery.logs import log_attempt, scrub
from hookcast.domain.models import DeliveryStatus
from hookcast.logs import configure_logging
from hookcast.ports import AttemptReport


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def _report(**changes: object) -> AttemptReport:
    values: dict[str, object] = {
        "delivery_id": "dlv_1",
        "event_id": "evt_1",
        "webhook_id": "Hook1234",
        "account_id": "Acct1234",
        "attempt": 2,
        "status_code": 503,
        "latency_ms": 12.34,
        "outcome": DeliveryStatus.PENDING,
        "error": "HTTP 503",
    }
    # The fields arrive as one dict of mixed types: their types are AttemptReport's to check.
    return AttemptReport(**(values | changes))  # type: ignore[arg-type]


def test_json_format_is_one_object_per_line_with_the_attempt_fields(restore_root: object) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    log_attempt(_report())
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("hookcast.api").exception("unexpected\nerror")

    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert {key: first[key] for key in ("delivery_id", "event_id", "webhook_id")} == {
        "delivery_id": "dlv_1",
        "event_id": "evt_1",
        "webhook_id": "Hook1234",
    }
    assert (first["attempt"], first["status_code"], first["outcome"]) == (2, 503, "retrying")
    assert (first["level"], first["logger"]) == ("info", "hookcast.delivery")
    assert second["message"] == "unexpected\nerror"
    assert "ValueError: boom" in second["exception"]


def test_text_format_and_a_second_configuration_replaces_the_first(restore_root: object) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    configure_logging(fmt="text", stream=second)
    log_attempt(_report(status_code=None, outcome=DeliveryStatus.FAILED, error="timed out"))
    assert first.getvalue() == ""
    line = second.getvalue()
    assert "INFO hookcast.delivery: delivery attempt dlv_1 #2" in line
    assert "no response" in line
    assert "failed (timed out)" in line


@pytest.mark.parametrize(
    ("error", "scrubbed"),
    [
        ("InvalidURL: http://bob:hunter2@x.test/h", "InvalidURL: http://***@x.test/h"),
        ("could not connect to x.test:443", "could not connect to x.test:443"),
        ("a https://token@host/ and http://u:p@h/", "a https://***@host/ and http://***@h/"),
    ],
)
def test_credentials_in_urls_are_scrubbed(error: str, scrubbed: str) -> None:
    assert scrub(error) == scrubbed
