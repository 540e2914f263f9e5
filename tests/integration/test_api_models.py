"""The response models (api/models.py) are the API's answers: each route returns the model
its `from_domain` builds, and FastAPI sends that model as is.

So: each representative answer, on SQLite, is byte for byte the model built from the same
resource (the right model, with every key, ints kept ints); the rare shapes keep their
values; and no GET answer (nor its schema) has a secret, except the one route whose purpose
is to reveal it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from harness import SITE_ID, Api
from pydantic import BaseModel, TypeAdapter

from hookcast.api import models
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Event,
    RetryPolicySpec,
    Role,
    Webhook,
)
from hookcast.ports import DeliveryRecord, DeliveryResult, EventSummary, PageRequest
from hookcast.services import Caller, NewApiKey
from hookcast.services import TestSent as SentTest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PAGE = PageRequest(page=1, page_length=50)
SECRET_ROUTE = "/v2/webhooks/{webhook_id}/secret/"


def _json(model: BaseModel, *, exclude_unset: bool = False) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_unset=exclude_unset)


def _same(
    response: httpx.Response, expected: BaseModel, status: int = 200, *, exclude_unset: bool = False
) -> None:
    assert response.status_code == status, response.text
    body = _json(expected, exclude_unset=exclude_unset)
    assert response.content == orjson.dumps(body), (response.json(), body)


async def _record_attempts(api: Api) -> list[str]:
    """Two deliveries get an attempt each, as a worker would record them: one succeeded
    (latency with decimals), one failed (no status code, an error). Returns their ids."""
    store = api.runtime.store
    now = datetime.now(UTC)
    claimed = await store.claim_due_deliveries(now=now, limit=2, lease_seconds=60)
    assert len(claimed) == 2
    results = []
    for index, item in enumerate(claimed):
        ok = index == 0
        attempt = Attempt(
            delivery_id=item.delivery_id,
            number=1,
            started_at=now,
            request_headers={"content-type": "application/json", "webhook-signature": "***"},
            status_code=200 if ok else None,
            latency_ms=12.3456 if ok else 3.0,
            response_body="ok" if ok else "",
            error=None if ok else "connection refused",
        )
        done = DeliveryStatus.SUCCEEDED if ok else DeliveryStatus.FAILED
        results.append(DeliveryResult(item.delivery_id, item.lease_token, attempt, done, None, now))
    await store.record_results(results, [])
    return [item.delivery_id for item in claimed]


@SQLITE
async def test_answers_are_byte_for_byte_the_models_from_domain(api: Api) -> None:
    services = api.runtime.services
    caller = Caller(account_id=api.account_id, role=Role.ADMIN)

    # sites
    response = await api.call("POST", "/v2/sites/", json={"id": SITE_ID, "metadata": {"name": "A"}})
    _same(response, models.SiteOut.from_domain(await services.sites.get(caller, SITE_ID)), 201)
    response = await api.call("PATCH", f"/v2/sites/{SITE_ID}/", json={"metadata": {"name": "B"}})
    _same(response, models.SiteOut.from_domain(await services.sites.get(caller, SITE_ID)))
    _same(
        await api.call("GET", f"/v2/sites/{SITE_ID}/"),
        models.SiteOut.from_domain(await services.sites.get(caller, SITE_ID)),
    )
    _same(
        await api.call("GET", "/v2/sites/", params={"page_length": 50}),
        models.SiteList.from_domain(await services.sites.list(caller, PAGE), PAGE),
    )

    # webhooks: a custom retry policy (ints stay ints) and conditions; one with the defaults
    custom = {
        "name": "Sports",
        "description": "",
        "webhook_url": "https://receiver.example.com/hooks",
        "events": ["*"],
        "site_ids": [SITE_ID],
        "conditions": {"data.tags": {"$contains": "sports"}},
        "retry_policy": [5, 30.5, 60],
        "timeout_seconds": 7,
    }
    response = await api.call("POST", "/v2/webhooks/", json={"metadata": custom})
    hook_id = response.json()["id"]
    hook = await services.webhooks.get(caller, hook_id)
    _same(response, models.WebhookCreated.from_domain(hook), 201)
    assert response.json()["metadata"]["retry_policy"] == [5, 30.5, 60]
    plain = await api.webhook([SITE_ID])
    _same(
        await api.call("GET", f"/v2/webhooks/{hook_id}/"),
        models.WebhookOut.from_domain(hook),
    )
    response = await api.call(
        "PATCH", f"/v2/webhooks/{plain['id']}/", json={"metadata": {"conditions": None}}
    )
    _same(response, models.WebhookOut.from_domain(await services.webhooks.get(caller, plain["id"])))
    found_hooks = await services.webhooks.list(caller, page=PAGE, sort="created:dsc")
    _same(
        await api.call("GET", "/v2/webhooks/", params={"page_length": 50}),
        models.WebhookList.from_domain(found_hooks, PAGE),
    )
    _same(
        await api.call("GET", f"/v2/webhooks/{hook_id}/secret/"),
        models.SecretOut.from_domain(await services.webhooks.get(caller, hook_id)),
    )
    response = await api.call("POST", f"/v2/webhooks/{hook_id}/secret/rotate/")
    _same(response, models.SecretOut.from_domain(await services.webhooks.get(caller, hook_id)))
    assert response.json()["previous_secret"] is not None

    # API keys: the secret only in the create answer
    response = await api.call("POST", "/v2/api_keys/", json={"metadata": {"role": "viewer"}})
    created_key = response.json()
    (key,) = [k for k in await services.accounts.list_keys(caller) if k.id == created_key["id"]]
    _same(response, models.ApiKeyCreated.from_new(NewApiKey(key, created_key["secret"])), 201)
    keys = await services.accounts.list_keys(caller)
    _same(await api.call("GET", "/v2/api_keys/"), models.ApiKeyList.from_domain(keys))

    # the catalog
    types = list(EVENT_TYPES.values())
    _same(await api.call("GET", "/v2/event_types/"), models.EventTypeList.from_domain(types))
    for name in ("thumbnail_created", "webhook_test"):
        _same(
            await api.call("GET", f"/v2/event_types/{name}/"),
            models.EventTypeOut.from_domain(EVENT_TYPES[name]),
        )

    # events: every shape of resource ids, with and without data
    batch = [
        {"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl",
         "data": {"title": "Goal", "tags": ["sports"], "score": 2.0}},
        {"event": "thumbnail_created", "site_id": SITE_ID, "thumbnail_id": "k9x00iro",
         "media_id": "MNYaMSQl"},
        {"event": "track_created", "site_id": SITE_ID, "track_id": "VHsQNYq9",
         "media_id": "MNYaMSQl", "data": {}},
        {"event": "channel_active", "site_id": SITE_ID, "channel_id": "YijbmYHJ"},
    ]  # fmt: skip
    response = await api.call("POST", "/v2/events/", json={"events": batch})
    assert response.status_code == 202, response.text
    # api/publish_endpoint.py writes this answer without the model (it is the hot path)
    _same(response, models.PublishResult(event_ids=response.json()["event_ids"]), 202)
    response = await api.call("POST", f"/v2/webhooks/{hook_id}/test/")
    sent = SentTest(**response.json())
    _same(response, models.TestSent.from_domain(sent), 202)

    attempted = await _record_attempts(api)
    found_events = await services.events.list(caller, page=PAGE)
    response = await api.call("GET", "/v2/events/", params={"page_length": 50})
    _same(response, models.EventList.from_domain(found_events, PAGE), exclude_unset=True)
    listed = {item["event"]: list(item) for item in response.json()["events"]}
    assert listed["thumbnail_created"][3:5] == ["thumbnail_id", "media_id"]  # catalog order
    assert "data" not in listed["channel_active"], "an event without data has no data key"

    # deliveries, with attempts
    for delivery_id in attempted:
        record = await services.deliveries.get(caller, delivery_id)
        _same(
            await api.call("GET", f"/v2/deliveries/{delivery_id}/"),
            models.DeliveryOut.from_domain(record),
        )
    for webhook_id in (hook_id, plain["id"]):
        found = await services.deliveries.list(caller, webhook_id, page=PAGE)
        _same(
            await api.call(
                "GET", f"/v2/webhooks/{webhook_id}/deliveries/", params={"page_length": 50}
            ),
            models.DeliveryList.from_domain(found, PAGE),
        )
    response = await api.call("POST", f"/v2/deliveries/{attempted[1]}/retry/")
    retried = await services.deliveries.get(caller, attempted[1])
    _same(response, models.DeliveryOut.from_domain(retried), 202)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await api.call("POST", f"/v2/webhooks/{hook_id}/recover/", json={"since": since})
    _same(response, models.Recovered(recovered=response.json()["recovered"]), 202)


@SQLITE
async def test_no_get_answer_carries_a_secret(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    key = (await api.call("POST", "/v2/api_keys/", json={"metadata": {"role": "viewer"}})).json()
    published = await api.call(
        "POST",
        "/v2/events/",
        json={"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl"},
    )
    assert published.status_code == 202, published.text
    log = (await api.call("GET", f"/v2/webhooks/{created['id']}/deliveries/")).json()
    secrets = (created["secret"], key["secret"], api.admin)
    for path in (
        "/v2/webhooks/",
        f"/v2/webhooks/{created['id']}/",
        f"/v2/webhooks/{created['id']}/deliveries/",
        f"/v2/deliveries/{log['deliveries'][0]['id']}/",
        "/v2/sites/",
        "/v2/api_keys/",
        "/v2/events/",
    ):
        response = await api.call("GET", path)
        assert response.status_code == 200, (path, response.text)
        assert not any(secret in response.text for secret in secrets), path
        assert '"secret"' not in response.text, path


def _properties(schema: dict[str, Any], document: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable from `schema`, following $refs."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        seen.add(name)
        return _properties(document["components"]["schemas"][name], document, seen)
    names = set(schema.get("properties", {}))
    children: list[Any] = [*schema.get("properties", {}).values()]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            children.append(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        children.extend(schema.get(key, []))
    for child in children:
        names |= _properties(child, document, seen)
    return names


@SQLITE
async def test_only_create_answers_and_the_reveal_route_document_a_secret(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json", key=None)).json()
    with_secret = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                assert "content" in answer or status == "204", (method, path, status)
                for content in answer.get("content", {}).values():
                    if "secret" in _properties(content["schema"], document, set()):
                        with_secret.add((method.upper(), path, status))
    assert with_secret == {
        ("POST", "/v2/webhooks/", "201"),
        ("GET", SECRET_ROUTE, "200"),
        ("POST", "/v2/webhooks/{webhook_id}/secret/rotate/", "200"),
        ("POST", "/v2/api_keys/", "201"),
        # The account's Flowplayer organization secret: revealed (admins), set, generated.
        ("GET", "/v2/account/flowplayer_secret/", "200"),
        ("PUT", "/v2/account/flowplayer_secret/", "200"),
        ("POST", "/v2/account/flowplayer_secret/rotate/", "200"),
    }


# --- the models alone, on shapes the API rarely shows ------------------------------------------

_NOW = datetime(2024, 8, 27, 0, 15, 45, 123000, tzinfo=UTC)


def _sent(model: BaseModel, *, exclude_unset: bool = False) -> Any:
    """What FastAPI sends for `model` returned from a route, read back."""
    adapter = TypeAdapter(type(model))
    return orjson.loads(adapter.dump_json(model, by_alias=True, exclude_unset=exclude_unset))


def test_models_keep_rare_shapes() -> None:
    hook = Webhook(
        id="2yW4KmiG",
        account_id="acc",
        name="n",
        description="",
        webhook_url="https://receiver.example.com/hooks",
        events=("*",),
        site_ids=(SITE_ID,),
        secret="s3cret",
        created=_NOW,
        last_modified=_NOW,
        enabled=False,
        disabled_reason="410 Gone",
        retry_policy=RetryPolicySpec("custom", (5.0, 0.5, 3600.0)),
        last_success=_NOW,
        failing_since=_NOW,
    )
    shown = _sent(models.WebhookOut.from_domain(hook))
    assert b"[5,0.5,3600]" in orjson.dumps(shown)  # ints stay ints
    assert shown["metadata"]["retry_policy"] == [5, 0.5, 3600]
    assert (shown["metadata"]["enabled"], shown["metadata"]["disabled_reason"]) == (
        False,
        "410 Gone",
    )
    assert shown["metadata"]["last_success"] == "2024-08-27T00:15:45.123000+00:00"
    assert (shown["relationships"], shown["schema"], shown["type"]) == ({}, None, "webhook")
    assert "secret" not in shown
    assert _sent(models.WebhookCreated.from_domain(hook)) == {**shown, "secret": "s3cret"}
    assert _sent(models.SecretOut.from_domain(hook)) == {
        "id": "2yW4KmiG",
        "secret": "s3cret",
        "previous_secret": None,
        "previous_secret_expires": None,
    }

    # An id field the catalog may add one day passes through (moved last, the JSON object is
    # the same); no data means no data key.
    event = Event(
        "evt_1", "acc", SITE_ID, "media_available", {"playlist_id": "p1"}, _NOW, None, _NOW
    )
    summary = EventSummary(event, {DeliveryStatus.PAUSED: 3})
    assert _sent(models.EventOut.from_domain(summary), exclude_unset=True) == {
        "event_id": "evt_1",
        "event": "media_available",
        "site_id": SITE_ID,
        "playlist_id": "p1",
        "event_time": "2024-08-27T00:15:45.123000+00:00",
        "created": "2024-08-27T00:15:45.123000+00:00",
        "deliveries": {"paused": 3},
    }

    delivery = Delivery("d1", "acc", "evt_1", "2yW4KmiG", DeliveryStatus.PAUSED, 0, _NOW, _NOW)
    attempt = Attempt("d1", 1, _NOW, {}, None, 7.004, "", "timed out")
    body = _sent(models.DeliveryOut.from_domain(DeliveryRecord(delivery, event, [attempt])))
    assert body["next_attempt_at"] is None  # only while pending
    assert (body["status"], body["event"]) == ("paused", "media_available")
    assert body["attempt_log"] == [
        {
            "number": 1,
            "started_at": "2024-08-27T00:15:45.123000+00:00",
            "request_headers": {},
            "status_code": None,
            "latency_ms": 7.0,
            "response_body": "",
            "error": "timed out",
        }
    ]


def test_no_model_adds_a_key_by_default() -> None:
    """Only EventOut has optional fields (and its route excludes unset ones): everywhere else
    a key `from_domain` did not set is an error, never a default."""
    optional = {
        (model.__name__, name)
        for model in vars(models).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__ == models.__name__
        for name, field in model.model_fields.items()
        if not field.is_required()
    }
    assert optional == {
        ("EventOut", name)
        for name in ("thumbnail_id", "track_id", "media_id", "channel_id", "sequence", "data")
    }
