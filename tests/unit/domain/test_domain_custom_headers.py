"""Custom headers: what an editor may make HookCast send, and what it may not."""

from __future__ import annotations

import pytest

from hookcast.domain.custom_headers import (
    MAX_HEADERS,
    REDACTED,
    parse_custom_headers,
    redacted,
)
from hookcast.domain.errors import ValidationFailed


def test_gateway_headers_are_kept_as_given() -> None:
    given = {"X-Api-Key": "k3y-123", "X-Tenant": "acme corp"}

    assert parse_custom_headers(given) == given
    assert parse_custom_headers(None) == {}


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "content-length",
        "Transfer-Encoding",
        "Connection",
        "Content-Type",
        "Authorization",  # the jwplayer format's JWT
        "webhook-signature",
        "Webhook-Id",
        "webhook-timestamp",
        "X-Hookcast-Signature",
        "x-hookcast-anything",
        "X-Api-Video-Signature",  # api.video's
        "User-Agent",
        "traceparent",
        "Expect",
    ],
)
def test_a_header_hookcast_sets_or_frames_with_cannot_be_overridden(name: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_custom_headers({name: "x"})

    assert name in refused.value.description
    assert refused.value.field == "headers"


def test_every_formats_signature_header_is_reserved() -> None:
    from hookcast.domain.formats import FORMATS

    for wire in FORMATS.values():
        for name in wire.signature_headers:
            with pytest.raises(ValidationFailed):
                parse_custom_headers({name: "forged"})


def test_no_header_a_format_sends_can_be_overridden_in_any_spelling() -> None:
    from hookcast.domain.formats import FORMATS

    for wire in FORMATS.values():
        secret = wire.make_secret()
        sent = wire.sign(b"{}", msg_id="m", timestamp=1, webhook_id="w", secrets=(secret,))
        for name in sent:  # X-Api-Video-WebhookID among them, which signs nothing
            for spelling in (name, name.upper(), name.lower()):
                with pytest.raises(ValidationFailed):
                    parse_custom_headers({spelling: "forged"})


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nX-Injected: 1",
        "a\nb",
        "a\rb",
        "nul\x00",
        "",
        " leading",
        "trailing ",
        "caf\u00e9",
        "\x7f",
        123,
    ],
)
def test_values_with_line_breaks_control_or_non_ascii_characters_are_refused(
    value: object,
) -> None:
    with pytest.raises(ValidationFailed, match="printable ASCII"):
        parse_custom_headers({"X-Key": value})


@pytest.mark.parametrize("name", ["X Key", "X-Key:", "X\r\nKey", "", "é", "a" * 65, "X(Key)"])
def test_names_must_be_http_tokens(name: str) -> None:
    with pytest.raises(ValidationFailed, match="not a header name"):
        parse_custom_headers({name: "v"})


def test_limits_on_count_size_and_duplicates() -> None:
    with pytest.raises(ValidationFailed, match=f"at most {MAX_HEADERS}"):
        parse_custom_headers({f"X-{n}": "v" for n in range(MAX_HEADERS + 1)})
    with pytest.raises(ValidationFailed, match="longer than"):
        parse_custom_headers({"X-Key": "v" * 4097})
    with pytest.raises(ValidationFailed, match="in all"):
        parse_custom_headers({f"X-{n}": "v" * 4000 for n in range(3)})
    with pytest.raises(ValidationFailed, match="given twice"):
        parse_custom_headers({"X-Key": "a", "x-key": "b"})
    with pytest.raises(ValidationFailed, match="object"):
        parse_custom_headers(["X-Key: a"])


def test_the_redacted_marker_keeps_a_stored_value_and_nothing_else() -> None:
    current = {"X-Api-Key": "s3cret"}

    kept = parse_custom_headers({"x-api-key": REDACTED, "X-New": "n"}, current=current)

    assert kept == {"x-api-key": "s3cret", "X-New": "n"}
    with pytest.raises(ValidationFailed, match="no such header"):
        parse_custom_headers({"X-Other": REDACTED}, current=current)


def test_what_people_are_shown_is_the_names_alone() -> None:
    assert redacted({"X-Api-Key": "s3cret"}) == {"X-Api-Key": REDACTED}
