"""`prepare` and `conclude` follow the webhook's format: its body, headers, success rule."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import orjson
import pytest

from hookcast.delivery.attempt import conclude, prepare
from hookcast.domain.models import DeliveryStatus
from hookcast.domain.signing import REDACTED
from hookcast.ports import ClaimedDelivery, SendOutcome
from support import factories as make

NOW = make.later(10)


def _claimed(**webhook: Any) -> ClaimedDelivery:
    hook = make.webhook("acc", **webhook)
    event = make.event("acc", type="channel_active", resource_ids={"channel_id": "li3VbBGc"})
    return ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)


def test_an_apivideo_webhook_gets_api_videos_body_and_signature() -> None:
    claimed = _claimed(format="apivideo", secret="sig_sec_" + "A" * 22)
    request = prepare(claimed, NOW)

    assert orjson.loads(request.body)["type"] == "live-stream.broadcast.started"
    expected = hmac.new(claimed.webhook.secret.encode(), request.body, hashlib.sha256)
    assert request.headers["X-Api-Video-Signature"] == expected.hexdigest()
    assert request.headers["X-Api-Video-WebhookID"] == claimed.webhook.id


def test_a_flowplayer_webhook_is_signed_with_the_organization_secret() -> None:
    claimed = _claimed(format="flowplayer", organization_secret="organization secret")
    request = prepare(claimed, NOW)

    expected = hmac.new(b"organization secret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-FP-Webhook-Signature-Hmac-Sha-256"] == expected


def test_a_flowplayer_delivery_without_the_organization_secret_is_not_built() -> None:
    with pytest.raises(ValueError, match="signing secret is not set"):
        prepare(_claimed(format="flowplayer"), NOW)


@pytest.mark.parametrize(
    ("format_name", "header"),
    [
        ("apivideo", "X-Api-Video-Signature"),
        ("mediamanager", "Signature"),
        ("standard", "webhook-signature"),
    ],
)
def test_every_formats_signature_is_redacted_in_the_log(format_name: str, header: str) -> None:
    claimed = _claimed(format=format_name)
    request = prepare(claimed, NOW)
    concluded = _conclude(claimed, request, SendOutcome(status_code=200, latency_ms=1.0))
    assert concluded.result.attempt.request_headers[header] == REDACTED


@pytest.mark.parametrize(
    ("format_name", "status"),
    [("apivideo", DeliveryStatus.SUCCEEDED), ("jwplayer", DeliveryStatus.PENDING)],
)
def test_api_video_counts_a_1xx_answer_as_delivered(
    format_name: str, status: DeliveryStatus
) -> None:
    claimed = _claimed(format=format_name)
    outcome = SendOutcome(status_code=102, latency_ms=1.0)
    concluded = _conclude(claimed, prepare(claimed, NOW), outcome)
    assert concluded.result.status is status


def _conclude(claimed: ClaimedDelivery, request: Any, outcome: SendOutcome) -> Any:
    return conclude(
        claimed,
        request=request,
        outcome=outcome,
        started_at=NOW,
        now=NOW,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    )


def test_the_request_names_the_webhooks_account_whose_tls_contexts_it_may_use() -> None:
    # The sender keeps mutual-TLS contexts per account: the request must say whose it is.
    request = prepare(_claimed(), NOW)

    assert request.account_id == "acc"
