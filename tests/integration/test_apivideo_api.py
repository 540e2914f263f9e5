"""The api.video API's tokens and errors, in-process on SQLite and PostgreSQL.

The official clients (test_apivideo_clients.py) show the happy paths work unchanged; these
show what a client meets when something is wrong: each answer is api.video's problem
document, `{"type", "title", "name", "status"}` (+ `problems`), with api.video's status.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from harness import BASE_URL, SITE_ID, WEBHOOK_URL, Api

from hookcast.api import create_app
from hookcast.api.operations import Operations
from hookcast.domain.models import Role

KEY = b"k" * 32
MAX_BODY = 4096


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ApiVideo:
    http: httpx.AsyncClient
    clock: Clock
    api: Api

    async def tokens(self, api_key: str) -> dict[str, Any]:
        answer = await self.http.post("/apivideo/auth/api-key", json={"apiKey": api_key})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def webhooks(self, authorization: str | None, **params: Any) -> httpx.Response:
        headers = {} if authorization is None else {"Authorization": authorization}
        return await self.http.get("/apivideo/webhooks", headers=headers, params=params)


@contextlib.asynccontextmanager
async def open_apivideo(api: Api, *, rate_per_second: float) -> AsyncIterator[ApiVideo]:
    """The HookCast app on `api`'s services, with a clock the test moves, a known key and
    API keys allowed bursts of 20, refilled at `rate_per_second`."""
    clock = Clock()
    app = create_app(
        api.runtime.services,
        max_body_bytes=MAX_BODY,
        apivideo_key=KEY,
        clock=clock,
        operations=Operations(rate_limit_per_second=rate_per_second, rate_limit_burst=20),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield ApiVideo(http, clock, api)


@pytest.fixture
async def apivideo(api: Api) -> AsyncIterator[ApiVideo]:
    async with open_apivideo(api, rate_per_second=1) as opened:
        yield opened


def problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """The answer is api.video's problem document of `kind` (the slug ending its type)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert set(body) - {"problems"} == {"type", "title", "name", "status"}, body
    assert body["status"] == status
    assert body["type"].endswith("/" + kind) or body["type"] == kind, body
    assert body["title"]
    return body


def basic(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


async def test_an_access_token_lasts_an_hour_and_a_refresh_token_renews_it(
    apivideo: ApiVideo,
) -> None:
    issued = await apivideo.tokens(await apivideo.api.key(Role.VIEWER))
    assert set(issued) == {"token_type", "expires_in", "access_token", "refresh_token"}
    assert (issued["token_type"], issued["expires_in"]) == ("Bearer", 3600)
    bearer = f"Bearer {issued['access_token']}"
    assert (await apivideo.webhooks(bearer)).status_code == 200

    apivideo.clock.now += timedelta(seconds=3600)
    expired = problem(await apivideo.webhooks(bearer), 401, "authentication-invalid-access-token")
    assert "expired" in expired["title"]

    renewed = await apivideo.http.post(
        "/apivideo/auth/refresh", json={"refreshToken": issued["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["access_token"] != issued["access_token"]
    fresh = f"Bearer {renewed.json()['access_token']}"
    assert (await apivideo.webhooks(fresh)).status_code == 200


async def test_a_refresh_token_is_no_access_token_and_an_access_token_no_refresh_token(
    apivideo: ApiVideo,
) -> None:
    issued = await apivideo.tokens(await apivideo.api.key(Role.VIEWER))
    as_access = await apivideo.webhooks(f"Bearer {issued['refresh_token']}")
    problem(as_access, 401, "authentication-invalid-access-token")
    as_refresh = await apivideo.http.post(
        "/apivideo/auth/refresh", json={"refreshToken": issued["access_token"]}
    )
    problem(as_refresh, 400, "authentication-invalid-user-credentials")


async def test_tokens_signed_with_another_key_are_refused(apivideo: ApiVideo) -> None:
    # A server with another secret key: it does not take these tokens, while a server with
    # the same key (any other of the deployment) does.
    issued = await apivideo.tokens(await apivideo.api.key(Role.VIEWER))
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    services = apivideo.api.runtime.services
    for key, status in ((b"x" * 32, 401), (KEY, 200)):
        app = create_app(services, max_body_bytes=MAX_BODY, apivideo_key=key, clock=apivideo.clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
            answer = await other.get("/apivideo/webhooks", headers=bearer)
        assert answer.status_code == status, answer.text


async def test_basic_auth_and_a_bare_api_key_as_bearer_are_taken(apivideo: ApiVideo) -> None:
    viewer = await apivideo.api.key(Role.VIEWER)
    assert (await apivideo.webhooks(basic(viewer))).status_code == 200
    assert (await apivideo.webhooks(f"Bearer {viewer}")).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "kind"),
    [
        (None, "authentication-missing-authorization-header"),
        ("Digest abc", "authentication-invalid-authorization-header-value"),
        (basic("hck_wrong"), "authentication-invalid-api-key"),
        ("Basic !!!", "authentication-invalid-api-key"),
        ("Bearer hck_wrong", "authentication-invalid-api-key"),
        ("Bearer abc.def", "authentication-invalid-access-token"),
    ],
)
async def test_bad_credentials_are_a_401_problem(
    apivideo: ApiVideo, authorization: str | None, kind: str
) -> None:
    answer = await apivideo.webhooks(authorization)
    problem(answer, 401, kind)
    assert answer.headers["WWW-Authenticate"] == "Basic"


async def test_a_wrong_api_key_gets_api_videos_400(apivideo: ApiVideo) -> None:
    answer = await apivideo.http.post("/apivideo/auth/api-key", json={"apiKey": "hck_wrong"})
    body = problem(answer, 400, "authentication-invalid-user-credentials")
    assert body["title"] == "The user credentials were incorrect."


async def test_every_missing_field_is_a_problem(apivideo: ApiVideo) -> None:
    editor = basic(await apivideo.api.key(Role.EDITOR))
    answer = await apivideo.http.post(
        "/apivideo/webhooks", json={}, headers={"Authorization": editor}
    )
    body = problem(answer, 400, "attribute-required")
    assert [(p["name"], p["title"]) for p in body["problems"]] == [
        ("events", "This attribute is required."),
        ("url", "This attribute is required."),
    ]
    not_a_list = await apivideo.http.post(
        "/apivideo/webhooks",
        json={"events": "video.source.recorded", "url": "https://receiver.example.com/a"},
        headers={"Authorization": editor},
    )
    body = problem(not_a_list, 400, "invalid-attribute")
    assert (body["name"], body["title"]) == ("events", "This attribute must be an array.")
    assert "problems" not in body
    too_long = await apivideo.http.post(
        "/apivideo/webhooks",
        json={"events": ["video.source.recorded"], "url": "https://x.example/" + "a" * 2048},
        headers={"Authorization": editor},
    )
    body = problem(too_long, 400, "invalid-attribute")
    assert (body["name"], body["title"]) == ("url", "This attribute is too long.")


async def test_a_body_that_is_not_json_or_too_large_is_a_problem(apivideo: ApiVideo) -> None:
    headers = {"Authorization": basic(await apivideo.api.key(Role.EDITOR))}
    headers["Content-Type"] = "application/json"
    broken = await apivideo.http.post("/apivideo/webhooks", content=b"{", headers=headers)
    problem(broken, 400, "invalid-attribute")
    huge = await apivideo.http.post(
        "/apivideo/webhooks", content=b" " * (MAX_BODY + 1), headers=headers
    )
    problem(huge, 413, "about:blank")


async def test_a_body_that_is_not_json_is_answered_after_authentication(api: Api) -> None:
    """A stranger's broken JSON is a 401, not a 400 telling it about its body; a caller's is
    counted against its rate limit and carries the rate-limit headers, as every request
    of a caller does (the body used to be parsed first, skipping both)."""
    headers = {"Content-Type": "application/json"}
    async with open_apivideo(api, rate_per_second=0.001) as apivideo:
        stranger = await apivideo.http.post("/apivideo/webhooks", content=b"{", headers=headers)
        problem(stranger, 401, "authentication-missing-authorization-header")
        headers["Authorization"] = basic(await apivideo.api.key(Role.EDITOR))
        answers = [
            await apivideo.http.post("/apivideo/webhooks", content=b"{", headers=headers)
            for _ in range(21)
        ]
    problem(answers[0], 400, "invalid-attribute")
    assert _rate_headers(answers[0]) == ("20", "19", "0")
    problem(answers[-1], 429, "too-many-requests")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"currentPage": 0}, "currentPage"),
    ],
)
async def test_a_page_out_of_range_is_an_invalid_query_parameter(
    apivideo: ApiVideo, params: dict[str, int], name: str
) -> None:
    viewer = basic(await apivideo.api.key(Role.VIEWER))
    body = problem(
        await apivideo.webhooks(viewer, **params), 400, "request-invalid-query-parameter"
    )
    assert body["name"] == name


async def test_an_unknown_path_or_webhook_is_a_404_problem(apivideo: ApiVideo) -> None:
    viewer = {"Authorization": basic(await apivideo.api.key(Role.VIEWER))}
    unknown = await apivideo.http.get("/apivideo/videos", headers=viewer)
    problem(unknown, 404, "unrecognized-request-url")
    missing = await apivideo.http.get("/apivideo/webhooks/ABCDEFGH", headers=viewer)
    assert problem(missing, 404, "resource-not-found")["name"] == "webhookId"
    gone = await apivideo.http.delete("/apivideo/webhooks/ABCDEFGH", headers=viewer)
    problem(gone, 403, "about:blank")  # a viewer may not delete, whether or not it exists


async def test_too_many_requests_is_a_429_problem_with_the_wait(apivideo: ApiVideo) -> None:
    viewer = basic(await apivideo.api.key(Role.VIEWER))
    # A burst of 20 refilled at 1/s: 200 requests would have to take minutes not to hit it.
    for _ in range(200):
        answer = await apivideo.webhooks(viewer)
        if answer.status_code != 200:
            break
    problem(answer, 429, "too-many-requests")
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["X-RateLimit-Retry-After"] == answer.headers["Retry-After"]
    assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == (
        "20",
        "0",
    )


def _rate_headers(answer: httpx.Response) -> tuple[str, str, str] | None:
    if "X-RateLimit-Limit" not in answer.headers:
        return None
    names = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Retry-After")
    limit, remaining, retry_after = (answer.headers[name] for name in names)
    return limit, remaining, retry_after


async def test_every_answer_to_a_caller_carries_api_videos_rate_limit_headers(api: Api) -> None:
    # api.video: "The API provides the rate limit values in the response headers for any
    # API requests you make"; its Node client reads them from every ...WithResponseHeaders().
    # One token back every 1,000 s: no request of this test gets one back, however slow.
    async with open_apivideo(api, rate_per_second=0.001) as apivideo:
        await _four_requests_then_auth(apivideo)


async def _four_requests_then_auth(apivideo: ApiVideo) -> None:
    viewer_key = await apivideo.api.key(Role.VIEWER)
    viewer = basic(viewer_key)
    listed = await apivideo.webhooks(viewer)
    again = await apivideo.webhooks(viewer)
    missing = await apivideo.http.get(
        "/apivideo/webhooks/ABCDEFGH", headers={"Authorization": viewer}
    )
    refused = await apivideo.http.delete(
        "/apivideo/webhooks/ABCDEFGH", headers={"Authorization": viewer}
    )
    # A burst of 20: each request leaves one fewer.
    assert [_rate_headers(a) for a in (listed, again, missing, refused)] == [
        ("20", "19", "0"),
        ("20", "18", "0"),
        ("20", "17", "0"),
        ("20", "16", "0"),
    ]
    problem(missing, 404, "resource-not-found")
    problem(refused, 403, "about:blank")
    # /auth is not rate-limited on api.video, and says nothing of it; nor does a stranger.
    token = await apivideo.http.post("/apivideo/auth/api-key", json={"apiKey": viewer_key})
    assert _rate_headers(token) is None
    assert _rate_headers(await apivideo.webhooks(basic("hck_not-a-key"))) is None


@pytest.mark.parametrize("path", ["/apivideo/auth/api-key", "/apivideo/auth/refresh"])
async def test_getting_tokens_counts_against_the_keys_rate_limit(
    apivideo: ApiVideo, path: str
) -> None:
    """Tokens are what signing in is to the dashboard: each request for them reads the
    key's account and signs two tokens, so it takes from the key's bucket (and its
    account's), as a sign-in does. Uncounted, one key got 1,000 token pairs in one burst
    from a server limiting it to bursts of 200, all answered 200 (attack 19)."""
    key = await apivideo.api.key(Role.VIEWER)
    refresh = (await apivideo.tokens(key))["refresh_token"]
    body = {"apiKey": key} if path.endswith("api-key") else {"refreshToken": refresh}
    # A burst of 20 refilled at 1/s: 200 requests would have to take minutes not to hit it.
    for _ in range(200):
        answer = await apivideo.http.post(path, json=body)
        if answer.status_code != 200:
            break
    problem(answer, 429, "too-many-requests")
    # The bucket is the key's: its API requests wait too.
    problem(await apivideo.webhooks(basic(key)), 429, "too-many-requests")


async def test_an_empty_listing_has_one_empty_page(apivideo: ApiVideo) -> None:
    viewer = basic(await apivideo.api.key(Role.VIEWER))
    answer = await apivideo.webhooks(viewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data"] == []
    pagination = body["pagination"]
    assert {key: value for key, value in pagination.items() if key != "links"} == {
        "currentPage": 1,
        "pageSize": 25,
        "pagesTotal": 1,
        "itemsTotal": 0,
        "currentPageItems": 0,
    }
    assert [link["rel"] for link in pagination["links"]] == ["self", "first", "last"]
    assert (
        pagination["links"][0]["uri"] == f"{BASE_URL}/apivideo/webhooks?currentPage=1&pageSize=25"
    )


async def test_only_api_video_webhooks_are_seen_here(apivideo: ApiVideo) -> None:
    await apivideo.api.site(SITE_ID)
    jw = await apivideo.api.webhook([SITE_ID], events=["rendition_ready"])
    editor = {"Authorization": basic(await apivideo.api.key(Role.EDITOR))}
    made = await apivideo.http.post(
        "/apivideo/webhooks",
        json={"events": ["video.encoding.quality.completed"], "url": WEBHOOK_URL},
        headers=editor,
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert set(hook) == {"webhookId", "createdAt", "events", "url", "signatureSecret"}
    assert hook["createdAt"].endswith("+00:00")

    listed = await apivideo.webhooks(editor["Authorization"])
    assert [item["webhookId"] for item in listed.json()["data"]] == [hook["webhookId"]]
    assert "signatureSecret" not in listed.json()["data"][0]  # an editor's later read
    filtered = await apivideo.webhooks(
        editor["Authorization"], events="video.encoding.quality.completed"
    )
    assert [item["webhookId"] for item in filtered.json()["data"]] == [hook["webhookId"]]
    jw_path = f"/apivideo/webhooks/{jw['id']}"
    problem(await apivideo.http.get(jw_path, headers=editor), 404, "resource-not-found")
    problem(await apivideo.http.delete(jw_path, headers=editor), 404, "resource-not-found")
    assert (await apivideo.api.call("GET", f"/v2/webhooks/{jw['id']}/")).status_code == 200

    on_v2 = (await apivideo.api.call("GET", f"/v2/webhooks/{hook['webhookId']}/")).json()
    assert on_v2["metadata"]["format"] == "apivideo"
    assert on_v2["metadata"]["site_ids"] == ["*"]  # every property, those created later too
    assert on_v2["metadata"]["name"] == WEBHOOK_URL


async def test_an_unknown_event_is_a_problem_in_the_body_or_the_query(apivideo: ApiVideo) -> None:
    await apivideo.api.site(SITE_ID)
    editor = basic(await apivideo.api.key(Role.EDITOR))
    made = await apivideo.http.post(
        "/apivideo/webhooks",
        json={"events": ["media_available"], "url": WEBHOOK_URL},  # JW Player's name
        headers={"Authorization": editor},
    )
    body = problem(made, 400, "invalid-attribute")
    assert body["name"] == "events"
    assert "video.encoding.quality.completed" in body["title"]
    listed = await apivideo.webhooks(editor, events="media_available")
    assert problem(listed, 400, "request-invalid-query-parameter")["name"] == "events"


async def test_a_webhook_made_before_any_property_hears_the_first_one(
    apivideo: ApiVideo,
) -> None:
    editor = basic(await apivideo.api.key(Role.EDITOR))
    made = await apivideo.http.post(
        "/apivideo/webhooks",
        json={"events": ["video.source.recorded"], "url": WEBHOOK_URL},
        headers={"Authorization": editor},
    )
    assert made.status_code == 201, made.text
    first = await apivideo.api.site(SITE_ID)

    listed = await apivideo.api.call("GET", "/v2/webhooks/", params={"site_id": first})
    assert [hook["id"] for hook in listed.json()["webhooks"]] == [made.json()["webhookId"]]
