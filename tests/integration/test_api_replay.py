"""POST /v2/webhooks/{id}/replay/: a dry run counts, a replay queues; filters, the cap and
the roles answer as documented. (Receipt end to end: tests/integration/test_delivery_latest.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from harness import SITE_ID, Api, assert_error

from hookcast.domain.models import Role
from hookcast.services import deliveries as delivery_service

SINCE = "2000-01-01T00:00:00Z"


async def _discarded(api: Api, media: list[str], **metadata: Any) -> str:
    """A webhook whose deliveries of `media` (one media_available each) are discarded."""
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID], enabled=False, **metadata)
    for media_id in media:
        event = {"event": "media_available", "site_id": SITE_ID, "media_id": media_id}
        published = await api.call("POST", "/v2/events/", json=event)
        assert published.status_code in (200, 201, 202), published.text
    path = f"/v2/webhooks/{hook['id']}/"
    assert (await api.call("POST", f"{path}held/discard/")).status_code == 200
    enabled = await api.call("PATCH", path, json={"metadata": {"enabled": True}})
    assert enabled.status_code == 200, enabled.text
    return path


async def _replay(api: Api, path: str, **body: Any) -> Any:
    return await api.call("POST", f"{path}replay/", json={"since": SINCE, **body})


async def test_a_dry_run_counts_and_a_replay_queues_them_again(api: Api) -> None:
    path = await _discarded(api, ["MEDIA001", "MEDIA002", "MEDIA003"])

    dry = await _replay(api, path, dry_run=True)
    one = await _replay(api, path, dry_run=True, resource_id="MEDIA002")
    none = await _replay(api, path, dry_run=True, event="media_deleted")
    later = await _replay(api, path, dry_run=True, until="2000-01-02T00:00:00Z")

    assert dry.status_code == 202, dry.text
    assert [r.json() for r in (dry, one, none, later)] == [
        {"would_replay": 3},
        {"would_replay": 1},
        {"would_replay": 0},
        {"would_replay": 0},
    ]
    replayed = await _replay(api, path)
    assert replayed.json() == {"replayed": 3}
    log = (await api.call("GET", f"{path}deliveries/")).json()
    assert sorted(d["status"] for d in log["deliveries"]) == ["pending"] * 3


async def test_more_than_the_cap_is_a_clear_400(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    path = await _discarded(api, ["MEDIA001", "MEDIA002"])
    monkeypatch.setattr(delivery_service, "MAX_REPLAY", 1)

    for body in ({"dry_run": True}, {}):
        description = assert_error(await _replay(api, path, **body), 400, "invalid_body")
        assert "2 deliveries match, more than the 1 one replay may resend" in description
    narrowed = await _replay(api, path, resource_id="MEDIA001")
    assert narrowed.json() == {"replayed": 1}


async def test_wrong_choices_are_clear_400s_and_viewers_may_not_replay(api: Api) -> None:
    path = await _discarded(api, ["MEDIA001"])

    for body, says in (
        ({"event": "media_gone"}, "unknown event 'media_gone' for the jwplayer format"),
        ({"until": "1999-01-01T00:00:00Z"}, "until must be later than since"),
        ({"since": "yesterday"}, "since must be an ISO 8601 date or time such as 2024-08-27, "),
    ):
        response = await api.call("POST", f"{path}replay/", json={"since": SINCE, **body})
        assert says in assert_error(response, 400, "invalid_body"), body
    missing = await api.call("POST", f"{path}replay/", json={})
    assert missing.status_code == 400
    viewer = await api.call(
        "POST", f"{path}replay/", json={"since": SINCE}, key=await api.key(Role.VIEWER)
    )
    assert viewer.status_code == 403
    editor = await api.call(
        "POST", f"{path}replay/", json={"since": SINCE}, key=await api.key(Role.EDITOR)
    )
    assert editor.json() == {"replayed": 1}


async def test_a_dry_run_counts_for_a_flowplayer_webhook_awaiting_its_secret(api: Api) -> None:
    # A dry run sends nothing: it counts what a replay would send once the secret is set.
    # The replay itself waits for the secret, as a retry or a release of held ones does.
    flowplayer = {"format": "flowplayer", "events": ["VIDEO_READY"]}
    path = await _discarded(api, ["MEDIA001", "MEDIA002"], **flowplayer)

    dry = await _replay(api, path, dry_run=True)

    assert dry.status_code == 202, dry.text
    assert dry.json() == {"would_replay": 2}
    refused = assert_error(await _replay(api, path), 409, "conflict")
    assert "Flowplayer organization secret, and none is set" in refused
