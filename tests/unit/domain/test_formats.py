"""Every format: names, bodies and headers, as tables; receivers' own checks as oracles."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from hookcast.domain.catalog import (
    ALL_EVENTS,
    EVENT_TYPES,
    LISTED_IN_ERRORS,
    OPERATIONAL_EVENTS,
    PUBLISHABLE_EVENTS,
    guess_for,
    where_listed,
)
from hookcast.domain.formats import FORMATS, TEST_EVENT, Format
from hookcast.domain.formats.examples import format_examples
from hookcast.domain.models import Event
from support import factories as make

WEBHOOK_ID = "2yW4KmiG"
DELIVERY_ID = "dlv_3kTMd9CqYpVn0bWx5Lr2aQ"
TIME = datetime(2024, 8, 27, 0, 15, 45, tzinfo=UTC)


def _event(type_: str, ids: dict[str, str], data: dict[str, Any] | None = None) -> Event:
    return make.event(
        "acc", "9KboGBFu", id="evt_1", type=type_, resource_ids=ids, event_time=TIME, data=data
    )


def _wire(name: str, event: Event) -> tuple[bytes, dict[str, str]]:
    wire = FORMATS[name]
    body = orjson.dumps(wire.body(event, webhook_id=WEBHOOK_ID, delivery_id=DELIVERY_ID))
    return body, wire.headers(
        body, msg_id=DELIVERY_ID, timestamp=1724717745, webhook_id=WEBHOOK_ID, secrets=SECRETS
    )


SECRETS = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",)
HEX = re.compile(r"^[0-9a-f]{64}$")


# --- the registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("wire", FORMATS.values(), ids=FORMATS.keys())
def test_every_name_a_format_offers_stands_for_catalog_events_and_back(wire: Format) -> None:
    assert wire.event_names()
    for name in wire.event_names():
        catalog = wire.catalog_events(name)
        assert catalog
        assert all(wire.event_name(event) == name for event in catalog)
    assert wire.catalog_events("no.such.event") == ()


@pytest.mark.parametrize("wire", FORMATS.values(), ids=FORMATS.keys())
def test_every_format_names_the_test_ping_without_offering_it(wire: Format) -> None:
    name = wire.event_name(TEST_EVENT)
    assert name is not None
    assert name not in wire.event_names()


@pytest.mark.parametrize("wire", FORMATS.values(), ids=FORMATS.keys())
def test_every_format_renders_every_event_it_names(wire: Format) -> None:
    for catalog_event in wire.names:
        kind = EVENT_TYPES[catalog_event]
        ids = dict(zip(kind.id_fields, ("Abcd1234", "Efgh5678"), strict=False))
        body = wire.body(
            _event(catalog_event, ids, dict(kind.example_data or {})),
            webhook_id=WEBHOOK_ID,
            delivery_id=DELIVERY_ID,
        )
        assert orjson.loads(orjson.dumps(body)) == body
        assert wire.event_name(catalog_event) in body.values()


def test_a_format_refuses_to_render_an_event_it_has_no_name_for() -> None:
    with pytest.raises(ValueError, match="not delivered in the apivideo format"):
        FORMATS["apivideo"].body(
            _event("media_created", {"media_id": "Abcd1234"}), webhook_id="w", delivery_id="d"
        )


@pytest.mark.parametrize(
    ("format_name", "subscription", "shown"),
    [
        ("jwplayer", ("media_available", "channel_idle"), ("media_available", "channel_idle")),
        ("apivideo", ("channel_idle",), ("live-stream.broadcast.ended",)),
        ("flowplayer", (ALL_EVENTS,), ("ALL",)),
        ("mediamanager", ("media_created", "channel_created"), ("media.created",)),
        ("standard", ("channel_recording_ready",), ("channel.recording_ready",)),
    ],
)
def test_a_stored_subscription_is_shown_in_the_formats_names(
    format_name: str, subscription: tuple[str, ...], shown: tuple[str, ...]
) -> None:
    assert FORMATS[format_name].to_own(subscription) == shown


@pytest.mark.parametrize(
    ("format_name", "secret"),
    [
        ("jwplayer", re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")),
        ("standard", re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")),
        ("mediamanager", re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")),
        ("apivideo", re.compile(r"^sig_sec_[A-Za-z0-9]{22}$")),
    ],
)
def test_each_format_makes_secrets_of_its_shape(format_name: str, secret: re.Pattern[str]) -> None:
    made = {FORMATS[format_name].new_secret() for _ in range(20)}
    assert len(made) == 20
    assert all(secret.match(value) for value in made)


@pytest.mark.parametrize(
    ("format_name", "delays", "timeout", "success_from"),
    [
        ("jwplayer", 7, 10, 200),
        ("apivideo", (3.0, 3.0, 3.0), 10, 100),  # retried 3 times, 3 s apart; 1xx delivered
        ("mediamanager", (3.0, 3.0), 3, 200),  # 3 tries in all, 3 s timeout
        ("flowplayer", 7, 10, 200),
        ("standard", 7, 10, 200),
    ],
)
def test_each_format_has_its_platforms_retry_defaults(
    format_name: str, delays: Any, timeout: int, success_from: int
) -> None:
    wire = FORMATS[format_name]
    if isinstance(delays, int):
        assert len(wire.retry_policy.delays) == delays
    else:
        assert wire.retry_policy.delays == delays
    assert (wire.timeout_seconds, wire.success_from) == (timeout, success_from)


# --- api.video --------------------------------------------------------------------------------


def test_api_video_signs_its_guides_example_exactly() -> None:
    """The body and signature of api.video's guide (secret, compact body, hex digest)."""
    event = make.event(
        "acc",
        "9KboGBFu",
        type="rendition_ready",
        resource_ids={"media_id": "vi0000000000000000000000"},
        data={"channel_id": "li0000000000000000000000", "encoding": "hls", "quality": "720p"},
        event_time=datetime(2021, 1, 29, 15, 46, 25, 217000, tzinfo=UTC),
    )
    wire = FORMATS["apivideo"]
    body = orjson.dumps(wire.body(event, webhook_id="webhook_XXXX", delivery_id=DELIVERY_ID))
    headers = wire.headers(
        body,
        msg_id=DELIVERY_ID,
        timestamp=0,
        webhook_id="webhook_XXXX",
        secrets=("sig_sec_0000000000000000000000",),
    )
    assert body == (
        b'{"type":"video.encoding.quality.completed","emittedAt":"2021-01-29T15:46:25.217Z",'
        b'"videoId":"vi0000000000000000000000","liveStreamId":"li0000000000000000000000",'
        b'"encoding":"hls","quality":"720p"}'
    )
    assert headers["X-Api-Video-Signature"] == (
        "27a77d3a7fc626854886b5dbfae4e32c8b0170c1ea1b714c91ba77f1e7774e8c"
    )
    assert headers["X-Api-Video-WebhookID"] == "webhook_XXXX"


@pytest.mark.parametrize(
    ("catalog_event", "ids", "data", "expected"),
    [
        (
            "channel_active",
            {"channel_id": "li3VbBGc"},
            None,
            {"type": "live-stream.broadcast.started", "liveStreamId": "li3VbBGc"},
        ),
        (
            "channel_idle",
            {"channel_id": "li3VbBGc"},
            None,
            {"type": "live-stream.broadcast.ended", "liveStreamId": "li3VbBGc"},
        ),
        (
            "channel_recording_ready",
            {"channel_id": "li3VbBGc"},
            {"media_id": "viXXXXXX"},
            {"type": "video.source.recorded", "liveStreamId": "li3VbBGc", "videoId": "viXXXXXX"},
        ),
        (
            "rendition_ready",
            {"media_id": "viXXXXXX"},
            {"encoding": "mp4", "quality": "1080p", "title": "dropped"},
            {
                "type": "video.encoding.quality.completed",
                "videoId": "viXXXXXX",
                "encoding": "mp4",
                "quality": "1080p",
            },
        ),
        (
            "caption_generated",
            {"track_id": "caption_1", "media_id": "viXXXXXX"},
            {"generation_mode": "transcript", "language": "fr"},
            {
                "type": "video.caption.generated",
                "videoId": "viXXXXXX",
                "captionId": "caption_1",
                "generationMode": "transcript",
                "language": "fr",
            },
        ),
        (
            "summary_generated",
            {"summary_id": "summary_1", "media_id": "viXXXXXX"},
            None,
            {"type": "video.summary.generated", "videoId": "viXXXXXX", "summaryId": "summary_1"},
        ),
    ],
)
def test_api_video_bodies_are_flat_with_only_its_fields(
    catalog_event: str, ids: dict[str, str], data: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    body, headers = _wire("apivideo", _event(catalog_event, ids, data))
    parsed = orjson.loads(body)
    assert parsed.pop("emittedAt") == "2024-08-27T00:15:45.000Z"
    assert parsed == expected
    assert list(parsed) == list(expected)  # api.video's key order
    assert (
        headers["X-Api-Video-Signature"]
        == hmac.new(SECRETS[0].encode(), body, hashlib.sha256).hexdigest()
    )
    assert "Authorization" not in headers
    assert "webhook-signature" not in headers


def test_api_video_names_exactly_its_six_events_and_hookcasts_own() -> None:
    operational = {f"webhook.{name.removeprefix('webhook_')}" for name in OPERATIONAL_EVENTS}
    assert set(FORMATS["apivideo"].event_names()) == operational | {
        "video.encoding.quality.completed",
        "live-stream.broadcast.started",
        "live-stream.broadcast.ended",
        "video.source.recorded",
        "video.caption.generated",
        "video.summary.generated",
    }


# --- Flowplayer -------------------------------------------------------------------------------


def test_flowplayer_body_is_its_envelope_with_the_resource_in_payload() -> None:
    event = _event("media_available", {"media_id": "MNYaMSQl"}, {"tags": ["sports"]})
    wire = FORMATS["flowplayer"]
    body = orjson.dumps(wire.body(event, webhook_id=WEBHOOK_ID, delivery_id=DELIVERY_ID))
    headers = wire.headers(
        body, msg_id=DELIVERY_ID, timestamp=0, webhook_id=WEBHOOK_ID, secrets=("org secret",)
    )
    assert orjson.loads(body) == {
        "event_type": "VIDEO_READY",
        "event_id": "evt_1",
        "created_at": "2024-08-27T00:15:45+00:00",
        "payload": {"id": "MNYaMSQl", "tags": ["sports"]},
    }
    expected = hmac.new(b"org secret", body, hashlib.sha256).hexdigest()
    assert headers["X-FP-Webhook-Signature-Hmac-Sha-256"] == expected


def test_flowplayer_signs_with_the_organization_secret_or_not_at_all() -> None:
    wire = FORMATS["flowplayer"]
    hook = make.webhook("acc", format="flowplayer")
    assert wire.signing_secrets(hook, make.NOW) == ()
    with_secret = make.webhook("acc", format="flowplayer", organization_secret="org secret")
    assert wire.signing_secrets(with_secret, make.NOW) == ("org secret",)


def test_flowplayer_names_every_event_its_docs_list_and_hookcasts_own() -> None:
    assert set(FORMATS["flowplayer"].event_names()) == {
        "VIDEO_READY",
        "VIDEO_UPDATED",
        "VIDEO_DELETED",
        *(
            f"LIVESTREAM_{what}"
            for what in ("CREATED", "UPDATED", "DELETED", "CONNECTED", "DISCONNECTED", "ERROR")
        ),
        *(f"LIVESOURCE_{what}" for what in ("CREATED", "UPDATED", "DELETED", "CONNECTED")),
        *(name.upper() for name in OPERATIONAL_EVENTS),
    }


# --- Media Manager ----------------------------------------------------------------------------


def test_media_manager_signature_is_the_hex_hmac_of_the_body() -> None:
    body, headers = _wire("mediamanager", _event("channel_created", {"channel_id": "YijbmYHJ"}))
    assert orjson.loads(body) == {
        "event": "media.created",
        "event_id": "evt_1",
        "event_time": "2024-08-27T00:15:45+00:00",
        "data": {"token": "YijbmYHJ"},
    }
    # What a receiver's hash_hmac('sha256', $body, $secret) gives.
    assert headers["Signature"] == hmac.new(SECRETS[0].encode(), body, hashlib.sha256).hexdigest()


def test_media_manager_names_every_event_its_docs_list_and_hookcasts_own() -> None:
    assert set(FORMATS["mediamanager"].event_names()) == {
        "media.created",
        "media.upload.completed",
        "media.upload.failed",
        "media.published",
        "media.unpublished",
        "media.updated",
        "media.deleted",
        "media.restored",
        "media.master.ready",
        "media.master.failed",
        "livestream.enabled",
        "livestream.disabled",
        "livestream.started",
        "livestream.idle",
        *(name.replace("_", ".", 1) for name in OPERATIONAL_EVENTS),
    }


# --- Standard Webhooks ------------------------------------------------------------------------


def test_standard_body_is_the_specs_envelope() -> None:
    body, headers = _wire(
        "standard",
        _event("thumbnail_created", {"thumbnail_id": "k9x00iro", "media_id": "MNYaMSQl"}),
    )
    assert orjson.loads(body) == {
        "type": "thumbnail.created",
        "timestamp": "2024-08-27T00:15:45+00:00",
        "data": {"thumbnail_id": "k9x00iro", "media_id": "MNYaMSQl", "site_id": "9KboGBFu"},
    }
    assert set(headers) == {
        "Content-Type",
        "User-Agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }


@pytest.mark.parametrize("catalog_event", PUBLISHABLE_EVENTS)
def test_the_official_standard_webhooks_library_verifies_every_event(catalog_event: str) -> None:
    kind = EVENT_TYPES[catalog_event]
    ids = dict(zip(kind.id_fields, ("Abcd1234", "Efgh5678"), strict=False))
    now = datetime.now(UTC)
    wire = FORMATS["standard"]
    event = _event(catalog_event, ids, dict(kind.example_data or {}))
    body = orjson.dumps(wire.body(event, webhook_id=WEBHOOK_ID, delivery_id=DELIVERY_ID))
    previous = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    headers = wire.headers(
        body,
        msg_id=DELIVERY_ID,
        timestamp=int(now.timestamp()),
        webhook_id=WEBHOOK_ID,
        secrets=(SECRETS[0], previous),
    )
    # During a rotation's grace period, a receiver holding either secret accepts it.
    for secret in (SECRETS[0], previous):
        verified = StandardWebhook(secret).verify(body, headers)
        assert verified["type"] == wire.event_name(catalog_event)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook("whsec_" + "WllZWVlZWVlZWVlZWVlZWVlZWVlZWVlZ").verify(body, headers)
    stale = dict(headers, **{"webhook-timestamp": str(int((now - timedelta(hours=1)).timestamp()))})
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(SECRETS[0]).verify(body, stale)


# --- the catalog in every format --------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES.values(), ids=EVENT_TYPES.keys())
def test_the_catalog_shows_every_event_in_every_format_or_says_it_is_not_delivered(
    event_type: Any,
) -> None:
    examples = format_examples(event_type, FORMATS)
    assert set(examples) == set(FORMATS)
    # JW Player's example is the catalog's own, unchanged.
    jwplayer = examples["jwplayer"]
    assert jwplayer is not None
    assert jwplayer.example == event_type.example()
    for name, shown in examples.items():
        own = FORMATS[name].event_name(event_type.name)
        assert (shown is None) == (own is None)
        if shown is not None:
            assert shown.name == own


def test_the_api_video_example_of_a_rendition_is_its_documented_shape() -> None:
    shown = format_examples(EVENT_TYPES["rendition_ready"], FORMATS)["apivideo"]
    assert shown is not None
    assert shown.example == {
        "type": "video.encoding.quality.completed",
        "emittedAt": "2024-08-27T00:15:45.000Z",
        "videoId": "MNYaMSQl",
        "encoding": "hls",
        "quality": "720p",
    }
    assert format_examples(EVENT_TYPES["media_created"], FORMATS)["apivideo"] is None


def test_an_unknown_event_is_answered_with_a_guess_and_where_every_name_is() -> None:
    known = FORMATS["jwplayer"].event_names()
    assert guess_for("media_availble", known) == " (did you mean media_available?)"
    assert guess_for("nothing_like", known) == ""
    # Where the names are, not the names: all 37 made one line of about 600 characters.
    where = where_listed(known, "its")
    assert where == (
        f"its {len(known)} events are listed by GET /v2/event_types/ and at /event-types on "
        "the dashboard"
    )
    assert not any(name in where for name in known)


def test_a_format_of_a_dozen_names_or_fewer_is_named_whole_in_an_error() -> None:
    known = FORMATS["apivideo"].event_names()
    assert len(known) <= LISTED_IN_ERRORS
    # One reading the error learns the format's own vocabulary without another request.
    assert where_listed(known, "its") == f"its {len(known)} events are {', '.join(known)}"
