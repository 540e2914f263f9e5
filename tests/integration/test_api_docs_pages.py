"""The documentation pages and the OpenAPI document, as a client reads them."""

from __future__ import annotations

import pytest
from harness import Api

pytestmark = pytest.mark.asyncio


async def test_docs_pages_load_everything_from_hookcast(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        page = await api.client.get(path)
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "http" not in page.text.replace(str(api.client.base_url), "")
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            if asset in page.text:
                served = await api.client.get(f"/docs/assets/{asset}")
                assert served.status_code == 200
                assert len(served.content) > 100_000
    missing = await api.client.get("/docs/assets/../../etc/passwd")
    assert missing.status_code == 404


async def test_openapi_declares_the_api_key_and_types_publishing(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    publish = document["paths"]["/v2/events/"]["post"]
    assert publish["security"] == [{"ApiKey": []}]
    body = publish["requestBody"]["content"]["application/json"]
    assert {"media_available", "conversions_complete", "batch"} <= set(body["examples"])
    event = document["components"]["schemas"]["PublishedEvent"]
    assert "media_available" in event["properties"]["event"]["enum"]
    assert event["required"] == ["event", "site_id"]


async def test_the_documented_examples_publish(api: Api) -> None:
    site_id = await api.site()
    document = (await api.client.get("/openapi.json")).json()
    examples = document["paths"]["/v2/events/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    for example in examples.values():
        body = _on_site(example["value"], site_id)
        answer = await api.call("POST", "/v2/events/", json=body)
        assert answer.status_code == 202, answer.text


def _on_site(body: dict[str, object], site_id: str) -> dict[str, object]:
    if "events" in body:
        events = body["events"]
        assert isinstance(events, list)
        return {"events": [{**event, "site_id": site_id} for event in events]}
    return {**body, "site_id": site_id}


async def test_the_documented_webhook_examples_are_accepted(api: Api) -> None:
    await api.site("1A23bCD4")  # the property JW Player's example names
    schemas = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
    made = []
    for example in schemas["WebhookCreate"]["examples"]:
        answer = await api.call("POST", "/v2/webhooks/", json=example)
        assert answer.status_code == 201, answer.text
        assert answer.json()["metadata"]["site_ids"] == example["metadata"]["site_ids"]
        made.append(answer.json()["id"])
    for example in schemas["WebhookPatch"]["examples"]:  # events in jwplayer's names
        changed = await api.call("PATCH", f"/v2/webhooks/{made[0]}/", json=example)
        assert changed.status_code == 200, changed.text
