"""The SDK against a real `hookcast serve`: every resource round-trips typed, errors arrive
as the documented exceptions, and `hookcast.verify` accepts the deliveries HookCast really
sent, and refuses them tampered, stale or checked with the wrong secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from receivers import Receiver, closed_port
from tools_harness import SITE_ID, LiveServer, live_server

from hookcast import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    HookcastConnectionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    verify,
)
from support.waiting import eventually


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("sdk")) as running:
        yield running


@pytest.fixture
def hookcast(live: LiveServer) -> Iterator[Client]:
    with live.client() as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.close()


def test_sites_round_trip(hookcast: Client) -> None:
    site = hookcast.create_site("Second", site_id="Sec0nd01")
    assert hookcast.get_site(site.id) == site
    assert hookcast.rename_site(site.id, "Renamed").name == "Renamed"
    assert site.id in [item.id for item in hookcast.list_sites(page_length=100)]
    hookcast.delete_site(site.id)
    with pytest.raises(NotFoundError) as raised:
        hookcast.get_site(site.id)
    assert raised.value.status == 404


def test_webhooks_round_trip_and_the_secret_is_shown_on_create_only(hookcast: Client) -> None:
    hook = hookcast.create_webhook(
        name="Ready",
        webhook_url="https://example.com/hooks",
        events=["media_available"],
        site_ids=[SITE_ID],
        retry_policy="quick",
    )
    assert hook.secret is not None
    assert hook.secret.startswith("whsec_")
    fetched = hookcast.get_webhook(hook.id)
    assert fetched.secret is None
    assert (fetched.events, fetched.retry_policy) == (("media_available",), "quick")
    changed = hookcast.update_webhook(
        hook.id, enabled=False, conditions={"data.tags": {"$contains": "sports"}}
    )
    assert not changed.enabled
    assert changed.conditions == {"data.tags": {"$contains": "sports"}}
    assert hookcast.update_webhook(hook.id, conditions=None).conditions is None
    assert hookcast.get_webhook_secret(hook.id).secret == hook.secret
    rotated = hookcast.rotate_webhook_secret(hook.id)
    assert rotated.secrets == (rotated.secret, hook.secret)
    listed = hookcast.list_webhooks(events="media_available", page_length=100)
    assert hook.id in [item.id for item in listed]
    hookcast.delete_webhook(hook.id)
    with pytest.raises(NotFoundError):
        hookcast.delete_webhook(hook.id)


def test_api_keys_and_roles(live: LiveServer, hookcast: Client) -> None:
    viewer = hookcast.create_api_key(role="viewer", name="dashboard")
    assert viewer.secret
    assert viewer.id in [key.id for key in hookcast.list_api_keys()]
    with live.client(viewer.secret) as as_viewer:
        assert as_viewer.list_sites().total >= 1
        with pytest.raises(PermissionDeniedError) as raised:
            as_viewer.publish("media_created", site_id=SITE_ID, media_id="MNYaMSQl")
    assert raised.value.code == "forbidden"
    hookcast.revoke_api_key(viewer.id)
    with live.client(viewer.secret) as revoked, pytest.raises(AuthenticationError):
        revoked.list_sites()


def test_webhooks_on_every_property_read_back_as_such(hookcast: Client) -> None:
    hook = hookcast.create_webhook(
        name="Everywhere", webhook_url="https://example.com/all", events=["*"], site_ids=["*"]
    )
    assert hook.every_site
    assert hook.site_ids == ("*",)
    narrowed = hookcast.update_webhook(hook.id, site_ids=[SITE_ID])
    assert not narrowed.every_site
    hookcast.delete_webhook(hook.id)


async def test_the_portal_is_branded_and_linked_through_the_sdk(live: LiveServer) -> None:
    async with AsyncClient(live.url, live.admin_key) as hookcast:
        brand = await hookcast.set_portal_settings(
            name="Acme Video", accent_colour="#0f766e", frame_ancestors=["https://app.example.com"]
        )
        assert (brand.name, brand.accent_colour) == ("Acme Video", "#0f766e")
        assert brand.frame_ancestors == ("https://app.example.com",)
        assert await hookcast.get_portal_settings() == brand
        link = await hookcast.create_portal_link("viewer", duration="1h")
    assert link.url.startswith(f"{live.url}/portal/")
    assert link.role == "viewer"
    assert link.frame_ancestors is None  # the account's default
    assert timedelta(minutes=55) < link.expires - datetime.now(UTC) <= timedelta(hours=1)
    with live.client() as sync:
        assert sync.set_portal_settings() == sync.get_portal_settings()  # HookCast's own again
        assert sync.get_portal_settings().name is None


def test_rule_violations_raise_with_the_servers_code_and_description(hookcast: Client) -> None:
    with pytest.raises(ValidationError) as unknown:
        hookcast.publish("media_exploded", site_id=SITE_ID, media_id="MNYaMSQl")
    assert unknown.value.status == 400
    # The closest name, and where every name is (not all 32 on one line).
    assert "did you mean media_reuploaded?" in unknown.value.description
    assert "GET /v2/event_types/" in unknown.value.description
    with pytest.raises(ValidationError) as unsafe:
        hookcast.create_webhook(
            name="x", webhook_url="http://10.0.0.1/", events=["*"], site_ids=[SITE_ID]
        )
    assert unsafe.value.code == "unsafe_url"
    with pytest.raises(ConflictError):
        hookcast.create_site("Again", site_id=SITE_ID)


def test_events_publish_once_per_event_id_and_list_back(hookcast: Client) -> None:
    first = hookcast.publish(
        "media_available", site_id=SITE_ID, media_id="Pub1ish0", event_id="evt-sdk-once"
    )
    again = hookcast.publish(
        "media_available", site_id=SITE_ID, media_id="Pub1ish0", event_id="evt-sdk-once"
    )
    assert first.event_ids == again.event_ids == ("evt-sdk-once",)
    batch = hookcast.publish_many(
        [
            {"event": "channel_created", "site_id": SITE_ID, "channel_id": "Chan0001"},
            {"event": "channel_active", "site_id": SITE_ID, "channel_id": "Chan0001"},
        ]
    )
    assert len(batch.event_ids) == 2
    found = hookcast.list_events(resource_id="Pub1ish0")
    assert [record.event_id for record in found] == ["evt-sdk-once"]
    assert found.items[0].resource_ids == {"media_id": "Pub1ish0"}
    assert "rendition_ready" in [kind.name for kind in hookcast.list_event_types()]


async def test_real_deliveries_verify_and_the_log_reads_back(
    live: LiveServer, receiver: Receiver
) -> None:
    async with AsyncClient(live.url, live.admin_key) as hookcast:
        hook = await hookcast.create_webhook(
            name="local", webhook_url=receiver.url, events=["media_available"], site_ids=[SITE_ID]
        )
        assert hook.secret
        receiver.secret = hook.secret
        published = await hookcast.publish(
            "media_available", site_id=SITE_ID, media_id="Rea1Med1", data={"tags": ["sports"]}
        )
        test = await hookcast.test_webhook(hook.id)
        (delivered, pinged) = await receiver.wait_for(2)
        receiver.assert_all_verified()  # PyJWT, standardwebhooks, hmac: independent checks

        for item in (delivered, pinged):
            assert verify.any(item.body, item.headers, hook.secret)["webhook_id"] == hook.id
            assert verify.jwt(item.body, item.headers["Authorization"], hook.secret)
            assert verify.standard(item.body, item.headers, [hook.secret])
            assert verify.hex(item.body, item.headers["X-Hookcast-Signature"], hook.secret)
        assert {delivered.event_id, pinged.event_id} == {published.event_id, test.event_id}

        async def logged() -> bool:
            page = await hookcast.list_deliveries(hook.id, status="succeeded")
            return page.total == 2

        await eventually(logged, message="two succeeded deliveries in the log")
        found = await hookcast.list_deliveries(hook.id, resource_id="Rea1Med1")
        assert [d.event_id for d in found.items] == [published.event_id]
        healthy = await hookcast.get_webhook(hook.id)
        assert (healthy.state, healthy.last_error, healthy.next_attempt_at) == (
            "healthy",
            None,
            None,
        )
        page = await hookcast.list_deliveries(hook.id)
        delivery = await hookcast.get_delivery(page.items[0].id)
        assert delivery.attempt_log[0].status_code == 200
        assert delivery.attempt_log[0].request_headers["webhook-signature"] == "[redacted]"
        retried = await hookcast.retry_delivery(delivery.id)
        # Due at once: the worker inside `serve` may have resent it before the read-back.
        assert retried.status in ("pending", "succeeded")
        assert retried.id == delivery.id
        await receiver.wait_for(3)  # the resend arrives
        await hookcast.delete_webhook(hook.id)


async def test_verify_refuses_real_deliveries_tampered_stale_or_with_a_wrong_secret(
    live: LiveServer, receiver: Receiver
) -> None:
    async with AsyncClient(live.url, live.admin_key) as hookcast:
        hook = await hookcast.create_webhook(
            name="local", webhook_url=receiver.url, events=["*"], site_ids=[SITE_ID]
        )
        assert hook.secret
        await hookcast.publish("media_deleted", site_id=SITE_ID, media_id="Tamper01")
        (item,) = await receiver.wait_for(1)
        wrong = (await hookcast.rotate_webhook_secret(hook.id)).secret
        await hookcast.delete_webhook(hook.id)

    payload = json.loads(item.body)
    payload["media_id"] = "Someone1"
    tampered = json.dumps(payload).encode()
    for body, secret, now, error in [
        (tampered, hook.secret, None, verify.InvalidSignature),
        (item.body, wrong, None, verify.InvalidSignature),
        (item.body, hook.secret, datetime.now(UTC) + timedelta(minutes=10), verify.StaleTimestamp),
    ]:
        with pytest.raises(error):
            verify.any(body, item.headers, secret, now=now)
    with pytest.raises(verify.InvalidSignature):
        verify.jwt(tampered, item.headers["Authorization"], hook.secret)
    with pytest.raises(verify.InvalidSignature):
        verify.hex(item.body, item.headers["X-Hookcast-Signature"], wrong)
    # during a rotation a receiver holding both secrets still accepts it
    assert verify.any(item.body, item.headers, [wrong, hook.secret])["media_id"] == "Tamper01"


def test_an_unreachable_server_says_so() -> None:
    with (
        Client(f"http://127.0.0.1:{closed_port()}", "hck_x", timeout=2) as client,
        pytest.raises(HookcastConnectionError, match="cannot reach"),
    ):
        client.list_sites()
