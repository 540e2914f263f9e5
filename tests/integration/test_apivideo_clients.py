"""api.video's official clients manage HookCast webhooks with nothing changed but their host.

The PyPI client (`apivideo`) and the npm client (`@api.video/nodejs-client`, run by the
machine's Node.js from tests/node, which `make node` installs) talk to a real `hookcast
serve` on loopback, mounted where a customer would point them: `<server>/apivideo`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import apivideo
import httpx
import pytest
from apivideo.apis import WebhooksApi
from apivideo.exceptions import ApiException, ForbiddenException, NotFoundException
from harness import serve_to_loopback

from support.waiting import wait_until

# Never called: no test but the delivery one publishes an event.
RECEIVER = "http://127.0.0.1:9/apivideo-receiver"
QUALITY = "video.encoding.quality.completed"
STARTED = "live-stream.broadcast.started"
NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@dataclass(frozen=True)
class Served:
    url: str
    admin: str
    editor: str
    viewer: str

    @property
    def apivideo(self) -> str:
        return f"{self.url}/apivideo"

    def v2(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": self.admin}
        return httpx.request(method, f"{self.url}{path}", headers=headers, **kwargs)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `hookcast serve` for the module, with a property and a key of each role."""
    directory = tmp_path_factory.mktemp("apivideo")
    with serve_to_loopback(directory) as server:
        admin = server.admin_key()
        partial = Served(server.url, admin, "", "")
        site = partial.v2("POST", "/v2/sites/", json={"metadata": {"name": "Main"}})
        assert site.status_code == 201, site.text
        yield Served(server.url, admin, _key(partial, "editor"), _key(partial, "viewer"))


@pytest.fixture(autouse=True)
def no_webhooks_left(served: Served) -> Iterator[None]:
    """Each test starts with no webhook: whatever one made is deleted after it."""
    yield
    for hook in served.v2("GET", "/v2/webhooks/", params={"page_length": 100}).json()["webhooks"]:
        served.v2("DELETE", f"/v2/webhooks/{hook['id']}/")


def _key(served: Served, role: str) -> str:
    made = served.v2("POST", "/v2/api_keys/", json={"metadata": {"name": role, "role": role}})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def _client(served: Served, key: str) -> apivideo.AuthenticatedApiClient:
    client = apivideo.AuthenticatedApiClient(key)
    client.configuration.host = served.apivideo  # the one change a customer makes
    client.connect()
    return client


def _problem(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    assert {"type", "title", "name", "status"} <= set(body), body
    assert body["status"] == error.status
    return body


def test_the_python_client_creates_lists_gets_and_deletes(served: Served) -> None:
    client = _client(served, served.editor)
    try:
        hooks = WebhooksApi(client)
        made = [
            hooks.create({"events": events, "url": f"{RECEIVER}/{n}"})
            for n, events in enumerate([[QUALITY], [QUALITY, STARTED], [STARTED], [QUALITY]])
        ]
        first = made[0]
        assert first.events == [QUALITY]
        assert first.url == f"{RECEIVER}/0"
        assert first.signature_secret.startswith("sig_sec_")
        assert first.created_at.tzinfo is not None

        ids = {hook.webhook_id for hook in made}
        page = hooks.list(events=QUALITY, current_page=2, page_size=2)
        quality = [made[0].webhook_id, made[1].webhook_id, made[3].webhook_id]
        assert [hook.webhook_id for hook in page.data] == quality[2:]
        assert page.pagination.items_total == 3
        assert page.pagination.pages_total == 2
        assert page.pagination.current_page == 2
        assert page.pagination.current_page_items == 1
        links = {link.rel: link.uri for link in page.pagination.links}
        assert set(links) == {"self", "first", "previous", "last"}
        assert links["previous"].startswith(served.apivideo + "/webhooks?")
        assert "currentPage=1" in links["previous"]
        assert "pageSize=2" in links["previous"]

        got = hooks.get(made[2].webhook_id)
        assert (got.webhook_id, got.events, got.url) == (made[2].webhook_id, [STARTED], made[2].url)
        assert hooks.delete(made[2].webhook_id) is None
        with pytest.raises(NotFoundException) as missing:
            hooks.get(made[2].webhook_id)
        assert _problem(missing.value)["name"] == "webhookId"

        listed = served.v2("GET", "/v2/webhooks/", params={"page_length": 100}).json()
        formats = {hook["id"]: hook["metadata"]["format"] for hook in listed["webhooks"]}
        assert ids - {made[2].webhook_id} <= set(formats)
        assert {formats[hook_id] for hook_id in ids - {made[2].webhook_id}} == {"apivideo"}
    finally:
        client.close()


def test_the_python_client_refreshes_its_token(served: Served) -> None:
    client = _client(served, served.viewer)
    try:
        before = client._access_token
        client.refresh_token()  # what its background thread does before the hour is up
        assert client._access_token != before
        assert WebhooksApi(client).list().pagination.current_page == 1
    finally:
        client.close()


def test_a_viewer_lists_and_gets_but_cannot_create(served: Served) -> None:
    editor, viewer = _client(served, served.editor), _client(served, served.viewer)
    try:
        made = WebhooksApi(editor).create({"events": [QUALITY], "url": RECEIVER})
        hooks = WebhooksApi(viewer)
        assert made.webhook_id in [hook.webhook_id for hook in hooks.list(page_size=100).data]
        got = hooks.get(made.webhook_id)
        assert got.url == RECEIVER
        assert "signature_secret" not in got  # secrets are read back by admin keys only
        with pytest.raises(ForbiddenException) as refused:
            hooks.create({"events": [QUALITY], "url": RECEIVER})
        assert _problem(refused.value)["status"] == 403
        with pytest.raises(ForbiddenException):
            hooks.delete(made.webhook_id)
    finally:
        editor.close()
        viewer.close()


def test_a_wrong_api_key_gets_no_token_and_basic_auth_a_401(served: Served) -> None:
    client = apivideo.AuthenticatedApiClient("hck_not-a-key")
    client.configuration.host = served.apivideo
    with pytest.raises(ApiException) as refused:
        client.connect()
    client.close()
    problem = _problem(refused.value)
    assert refused.value.status == 400
    assert problem["type"].endswith("/authentication-invalid-user-credentials")

    answer = httpx.get(f"{served.apivideo}/webhooks", auth=("hck_not-a-key", ""))
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/authentication-invalid-api-key")


def test_revoking_a_key_ends_its_tokens_at_once(served: Served) -> None:
    made = served.v2("POST", "/v2/api_keys/", json={"metadata": {"name": "r", "role": "viewer"}})
    key = made.json()
    client = _client(served, key["secret"])
    try:
        assert WebhooksApi(client).list().pagination.current_page == 1
        assert served.v2("DELETE", f"/v2/api_keys/{key['id']}/").status_code == 204
        with pytest.raises(ApiException) as refused:
            WebhooksApi(client).list()
        assert refused.value.status == 401
        assert _problem(refused.value)["type"].endswith("/authentication-invalid-access-token")
    finally:
        client.close()


def test_the_node_client_creates_lists_gets_and_deletes(served: Served) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the api.video Node client test: run `make node`"
    assert (NODE_DIR / "node_modules" / "@api.video").is_dir(), "run `make node` first"
    config = {
        "baseUri": served.apivideo,
        "apiKey": served.editor,
        "badKey": "hck_not-a-key",
        "url": RECEIVER,
        "events": [QUALITY, STARTED],
    }
    done = subprocess.run(
        [node, str(NODE_DIR / "apivideo_client.js"), json.dumps(config)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    a, b, c = out["created"]
    assert [hook["events"] for hook in out["created"]] == [[QUALITY], [QUALITY, STARTED], [STARTED]]
    assert a["url"] == f"{RECEIVER}/a"
    assert a["signatureSecret"].startswith("sig_sec_")
    assert [hook["webhookId"] for hook in out["page"]["data"]] == [b["webhookId"]]
    assert out["page"]["pagination"]["itemsTotal"] == 2
    assert out["page"]["pagination"]["currentPageItems"] == 1
    assert {a["webhookId"], b["webhookId"], c["webhookId"]} <= set(out["all"])
    # serve's defaults: bursts of 200 per key, refilled at 100 a second; a few were taken.
    rate = out["rateLimit"]
    assert (rate["limit"], rate["retryAfter"]) == ("200", "0")
    assert 150 < int(rate["remaining"]) < 200
    assert out["got"]["webhookId"] == a["webhookId"]
    assert out["got"]["createdAt"] == a["createdAt"]
    # What the client's delete() resolves to for a 204 with no body and no Content-Type
    # (it re-serializes the empty body it got).
    assert out["deleted"] == '""'
    assert out["gotDeleted"]["status"] == 404
    assert out["gotDeleted"]["problem"]["type"].endswith("/resource-not-found")
    assert out["token"] == {"tokenType": "Bearer", "expiresIn": 3600}
    assert out["stranger"]["status"] == 401
    assert out["stranger"]["problem"]["status"] == 401


class _Recorder(BaseHTTPRequestHandler):
    """A receiver on loopback that keeps every request and answers 202, as api.video's own
    receivers may."""

    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_webhook_the_client_made_delivers_what_api_videos_receiver_checks(
    served: Served, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    client = _client(served, served.admin)
    try:
        hooks = WebhooksApi(client)
        made = hooks.create({"events": [QUALITY], "url": url})
        site = served.v2("GET", "/v2/sites/").json()["sites"][0]["id"]
        event = {
            "event": "rendition_ready",
            "site_id": site,
            "media_id": "MNYaMSQl",
            "data": {"encoding": "hls", "quality": "720p"},
        }
        assert served.v2("POST", "/v2/events/", json=event).status_code == 202
        wait_until(lambda: bool(received), timeout=30, message="nothing was delivered")
        headers, body = received[0]
        # api.video's guide: read the webhook the header names, HMAC the raw body with its
        # signatureSecret, compare with the signature header.
        secret = hooks.get(headers["X-Api-Video-WebhookID"]).signature_secret
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, headers["X-Api-Video-Signature"])
        assert headers["X-Api-Video-WebhookID"] == made.webhook_id
        delivered = json.loads(body)
        assert delivered["type"] == QUALITY
        assert (delivered["videoId"], delivered["quality"]) == ("MNYaMSQl", "720p")
    finally:
        client.close()

    # Recorded within the worker's flush interval after the receiver answered (successes
    # alone may gather 250 ms: docs/delivery.md), not necessarily by the time it answered.
    def statuses() -> list[str]:
        log = served.v2("GET", f"/v2/webhooks/{made.webhook_id}/deliveries/").json()
        return [d["status"] for d in log["deliveries"]]

    wait_until(lambda: statuses() != ["pending"], timeout=10, message="never recorded")
    assert statuses() == ["succeeded"]
