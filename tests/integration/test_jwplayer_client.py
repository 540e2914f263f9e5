"""JW Player's official Python client (PyPI `jwplatform`) manages HookCast webhooks, and the
webhooks it made deliver what JW Player's documented receiver accepts.

The client talks to a real `hookcast serve` on loopback. It only speaks HTTPS to port 443
(`http.client.HTTPSConnection(host, port=443)`), so the one change made to it is its
connection: a plain `HTTPConnection` to the test server, through which the client's own
requests (method, path, headers, JSON body) go unchanged.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from harness import serve_to_loopback
from jwplatform.client import JWPlatformClient
from jwplatform.errors import NotFoundError, UnauthorizedError
from receivers import Receiver

SITE = "1A23bCD4"  # the property of JW Player's create example (seed 000)
# Never called: only the delivery test publishes, to a receiver of its own.
ENDPOINT = "https://my-endpoint.com"
JW_EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")  # seed 001's examples


@dataclass(frozen=True)
class Served:
    url: str
    admin: str

    @contextlib.contextmanager
    def client(self, secret: str | None = None) -> Iterator[JWPlatformClient]:
        client = JWPlatformClient(self.admin if secret is None else secret)
        port = int(self.url.rsplit(":", 1)[1])
        # The only change: no TLS, and our port. The client keeps one connection open.
        client._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            yield client
        finally:
            client._connection.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": self.admin}
        answer = httpx.request(method, f"{self.url}{path}", headers=headers, **kwargs)
        assert answer.is_success, answer.text
        return answer

    def publish(self, event: dict[str, Any]) -> None:
        assert self.call("POST", "/v2/events/", json=event).status_code == 202


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("jwplatform")
    with serve_to_loopback(directory) as server:
        admin = server.admin_key()
        site = httpx.post(
            f"{server.url}/v2/sites/",
            json={"id": SITE, "metadata": {"name": "Main"}},
            headers={"Authorization": admin},
        )
        assert site.status_code == 201, site.text
        yield Served(server.url, admin)


def _create_body(url: str = ENDPOINT) -> dict[str, Any]:
    """JW Player's create example (seed 000), verbatim but for the URL."""
    return {
        "metadata": {
            "name": "Media Available Webhook",
            "description": "Webhook to notify me when media is ready to be published",
            "webhook_url": url,
            "events": ["media_available"],
            "site_ids": [SITE],
        }
    }


def test_the_client_creates_lists_gets_updates_and_deletes(served: Served) -> None:
    with served.client() as client:
        _create_list_get_update_delete(client)


def _create_list_get_update_delete(client: JWPlatformClient) -> None:
    created = client.WebhookClient.create(SITE, body=_create_body())
    made = created.json_body
    assert created.status == 201
    # The keys of JW Player's documented answer, with its values where they are the request's.
    assert {"created", "id", "last_modified", "metadata", "schema", "secret", "type"} <= set(made)
    assert (made["schema"], made["type"]) == (None, "webhook")
    assert made["created"] == made["last_modified"]
    assert {key: made["metadata"][key] for key in _create_body()["metadata"]} == (
        _create_body()["metadata"]
    )
    assert isinstance(made["secret"], str)
    assert made["secret"]
    hook_id = made["id"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}", hook_id)

    listed = client.WebhookClient.list(SITE, query_params={"page": 1, "page_length": 10})
    assert hook_id in [hook["id"] for hook in listed]
    assert (listed.json_body["page"], listed.json_body["page_length"]) == (1, 10)
    assert listed.json_body["total"] >= 1
    assert all("secret" not in hook for hook in listed)

    got = client.WebhookClient.get(SITE, webhook_id=hook_id).json_body
    assert got["id"] == hook_id
    assert "secret" not in got  # JW Player returns it only from the create call

    updated = client.WebhookClient.update(
        SITE, {"metadata": {"name": "Renamed"}}, webhook_id=hook_id
    ).json_body
    assert updated["metadata"]["name"] == "Renamed"
    assert updated["metadata"]["events"] == ["media_available"]

    deleted = client.WebhookClient.delete(SITE, webhook_id=hook_id)
    assert (deleted.status, deleted.body) == (204, None)
    with pytest.raises(NotFoundError) as missing:
        client.WebhookClient.get(SITE, webhook_id=hook_id)
    assert missing.value.errors
    assert {"code", "description"} <= set(missing.value.errors[0])


def test_the_clients_one_connection_still_answers_after_a_pause(served: Served) -> None:
    """The client sends every call on one kept-open connection and never reconnects when
    the server has closed it: a call after `serve` dropped the idle connection fails with
    RemoteDisconnected (as it did at uvicorn's 5 s). A script that pauses between two calls
    (an upload, a prompt) must find the connection still open."""
    with served.client() as client:
        assert client.WebhookClient.list(SITE).status == 200
        time.sleep(6)  # the idle time under test: longer than uvicorn's default keep-alive
        assert client.WebhookClient.list(SITE).status == 200


def test_a_wrong_secret_is_an_error_the_client_reads(served: Served) -> None:
    with served.client("not-a-key") as client, pytest.raises(UnauthorizedError) as refused:
        client.WebhookClient.list(SITE)
    assert refused.value.errors
    assert refused.value.errors[0]["code"]


def _verify_authenticity(jwt_token: str, webhook_secret: str, webhook_payload: Any) -> bool:
    """JW Player's documented receiver check (seed 000), unchanged."""
    jwt_payload = jwt.decode(jwt_token, webhook_secret, algorithms=["HS256"])
    return bool(jwt_payload == webhook_payload)


async def test_a_webhook_the_client_made_delivers_jw_players_body_and_token(
    served: Served,
) -> None:
    receiver = await Receiver().start()
    try:
        with served.client() as client:
            hook = client.WebhookClient.create(SITE, body=_create_body(receiver.url)).json_body
        # No event_time: HookCast stamps the publish time. Then a test ping, stamped "now".
        served.publish({"event": "media_available", "site_id": SITE, "media_id": "MNYaMSQl"})
        (published,) = await receiver.wait_for(1)
        served.call("POST", f"/v2/webhooks/{hook['id']}/test/")
        _, ping = await receiver.wait_for(2)
    finally:
        await receiver.close()

    for item in (published, ping):
        token = item.headers["Authorization"].split(" ")[1]
        assert _verify_authenticity(token, hook["secret"], json.loads(item.body))
        assert item.headers["Content-Type"] == "application/json"
        # Whole seconds and "+00:00", as in every one of JW Player's examples.
        assert JW_EVENT_TIME.match(item.payload["event_time"]), item.payload["event_time"]
    assert published.payload == {
        "event": "media_available",
        "event_id": published.payload["event_id"],
        "media_id": "MNYaMSQl",
        "webhook_id": hook["id"],
        "site_id": SITE,
        "event_time": published.payload["event_time"],
        "sequence": 1,
    }
    # Its keys come in JW Player's order: test_delivery_wire.py checks that.
    assert ping.payload["event"] == "webhook_test"
