"""metadata.format through /v2/webhooks/: chosen at create, names in the format, fixed after."""

from __future__ import annotations

import re

from harness import SITE_ID, Api, assert_error

API_VIDEO_SECRET = re.compile(r"^sig_sec_[A-Za-z0-9]{22}$")


async def test_an_apivideo_webhook_subscribes_and_shows_api_video_names(api: Api) -> None:
    await api.site(SITE_ID)
    events = ["video.encoding.quality.completed", "live-stream.broadcast.started"]
    created = await api.webhook([SITE_ID], format="apivideo", events=events)

    assert created["metadata"]["format"] == "apivideo"
    assert created["metadata"]["signing"] == "hmac"
    assert created["metadata"]["events"] == events
    assert API_VIDEO_SECRET.match(created["secret"])
    # its own defaults: 3 retries 3 s apart
    assert created["metadata"]["retry_policy"] == [3.0, 3.0, 3.0]
    got = (await api.call("GET", f"/v2/webhooks/{created['id']}/")).json()
    assert got["metadata"]["events"] == events
    # fan-out matches catalog names: the list filter takes them, whatever the format
    listed = await api.call("GET", "/v2/webhooks/", params={"events": "rendition_ready"})
    assert [hook["id"] for hook in listed.json()["webhooks"]] == [created["id"]]
    await api.webhook([SITE_ID])  # a jwplayer one beside it
    by_format = await api.call("GET", "/v2/webhooks/", params={"format": "apivideo"})
    assert [hook["id"] for hook in by_format.json()["webhooks"]] == [created["id"]]
    unknown = await api.call("GET", "/v2/webhooks/", params={"format": "vimeo"})
    assert "apivideo" in assert_error(unknown, 400)


async def test_filtering_on_an_event_lists_the_webhooks_that_would_receive_it(api: Api) -> None:
    await api.site(SITE_ID)
    named = await api.webhook([SITE_ID], events=["media_available"])
    every = await api.webhook([SITE_ID], events=["*"])
    # api.video has no name for media_available: its "*" does not bring it.
    every_apivideo = await api.webhook([SITE_ID], format="apivideo", events=["*"])
    on_call = await api.webhook([SITE_ID], events=["webhook_failing"])

    async def ids(**params: str) -> set[str]:
        response = await api.call("GET", "/v2/webhooks/", params=params)
        assert response.status_code == 200, response.text
        return {hook["id"] for hook in response.json()["webhooks"]}

    assert await ids(events="media_available") == {named["id"], every["id"]}
    assert await ids(events="rendition_ready") == {every["id"], every_apivideo["id"]}
    # "*" leaves out HookCast's own events: only the webhooks naming them get them.
    assert await ids(events="webhook_failing") == {on_call["id"]}
    assert await ids(events="*") == {every["id"], every_apivideo["id"]}
    assert await ids(events="video.encoding.quality.completed", format="apivideo") == {
        every_apivideo["id"]
    }


async def test_a_webhook_without_a_format_is_jwplayer(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID])
    assert created["metadata"]["format"] == "jwplayer"
    assert created["metadata"]["events"] == ["media_available"]
    assert created["metadata"]["retry_policy"] == "standard"
    assert created["secret"].startswith("whsec_")


async def test_names_of_another_format_are_refused_with_the_formats_names(api: Api) -> None:
    await api.site(SITE_ID)
    response = await api.call(
        "POST",
        "/v2/webhooks/",
        json={
            "metadata": {
                "name": "x",
                "webhook_url": "https://receiver.example/hook",
                "events": ["media_available"],
                "site_ids": [SITE_ID],
                "format": "apivideo",
            }
        },
    )
    described = assert_error(response, 400)
    assert "media_available" in described
    assert "video.encoding.quality.completed" in described


async def test_an_unknown_format_is_refused_with_the_known_ones(api: Api) -> None:
    await api.site(SITE_ID)
    response = await api.call(
        "POST",
        "/v2/webhooks/",
        json={
            "metadata": {
                "name": "x",
                "webhook_url": "https://receiver.example/hook",
                "events": ["media_available"],
                "site_ids": [SITE_ID],
                "format": "vimeo",
            }
        },
    )
    described = assert_error(response, 400)
    for name in ("jwplayer", "apivideo", "flowplayer", "mediamanager", "standard"):
        assert name in described


async def test_the_format_cannot_change_but_may_be_repeated(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], format="mediamanager", events=["media.created"])
    path = f"/v2/webhooks/{created['id']}/"

    changed = await api.call("PATCH", path, json={"metadata": {"format": "standard"}})
    assert "cannot be changed" in assert_error(changed, 400)
    same = await api.call(
        "PATCH", path, json={"metadata": {"format": "mediamanager", "name": "renamed"}}
    )
    assert same.status_code == 200, same.text
    assert same.json()["metadata"]["events"] == ["media.created"]


async def test_one_media_manager_name_may_stand_for_several_catalog_events(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], format="mediamanager", events=["media.created"])
    # A new livestream is a media.created too (Media Manager's docs).
    for catalog_event in ("media_created", "channel_created"):
        listed = await api.call("GET", "/v2/webhooks/", params={"events": catalog_event})
        assert [hook["id"] for hook in listed.json()["webhooks"]] == [created["id"]]


async def test_flowplayer_spells_every_event_all(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook([SITE_ID], format="flowplayer", events=["ALL"])
    assert created["metadata"]["events"] == ["ALL"]
    renamed = await api.call(
        "PATCH", f"/v2/webhooks/{created['id']}/", json={"metadata": {"name": "renamed"}}
    )
    assert renamed.json()["metadata"]["events"] == ["ALL"]


async def test_the_catalog_names_every_event_in_every_format_or_says_it_is_not_delivered(
    api: Api,
) -> None:
    rendition = (await api.call("GET", "/v2/event_types/rendition_ready/")).json()
    assert set(rendition["formats"]) == {
        "jwplayer",
        "apivideo",
        "flowplayer",
        "mediamanager",
        "standard",
    }
    apivideo = rendition["formats"]["apivideo"]
    assert apivideo["name"] == "video.encoding.quality.completed"
    assert apivideo["example"]["type"] == "video.encoding.quality.completed"
    assert rendition["formats"]["flowplayer"] is None  # not delivered in this format
    assert rendition["formats"]["jwplayer"]["example"] == rendition["example"]

    listed = (await api.call("GET", "/v2/event_types/")).json()["event_types"]
    ready = next(item for item in listed if item["name"] == "media_available")
    assert ready["formats"]["flowplayer"]["name"] == "VIDEO_READY"
    assert ready["formats"]["standard"]["example"]["type"] == "media.available"


async def test_the_events_other_platforms_added_to_the_catalog_can_be_published(api: Api) -> None:
    await api.site(SITE_ID)
    events = [
        {"event": "caption_generated", "track_id": "caption1", "media_id": "viMedia1"},
        {"event": "summary_generated", "summary_id": "summary1", "media_id": "viMedia1"},
        {"event": "channel_error", "channel_id": "liStream"},
        {"event": "livesource_connected", "livesource_id": "Ls4Vb9Kd"},
    ]
    events = [{**event, "site_id": SITE_ID} for event in events]
    published = await api.call("POST", "/v2/events/", json={"events": events})
    assert published.status_code == 202, published.text
    listed = (await api.call("GET", "/v2/events/", params={"page_length": 10})).json()
    by_type = {item["event"]: item for item in listed["events"]}
    assert by_type["livesource_connected"]["livesource_id"] == "Ls4Vb9Kd"
    assert by_type["summary_generated"]["summary_id"] == "summary1"


async def test_rotating_keeps_the_old_secret_only_where_a_header_can_carry_it(api: Api) -> None:
    await api.site(SITE_ID)
    apivideo = await api.webhook([SITE_ID], format="apivideo", events=["*"])
    standard = await api.webhook([SITE_ID], format="standard", events=["*"])

    single = await api.call("POST", f"/v2/webhooks/{apivideo['id']}/secret/rotate/")
    both = await api.call("POST", f"/v2/webhooks/{standard['id']}/secret/rotate/")

    assert single.json()["secret"].startswith("sig_sec_")
    assert single.json()["previous_secret"] is None  # X-Api-Video-Signature carries one
    assert both.json()["previous_secret"] == standard["secret"]
    assert both.json()["previous_secret_expires"] is not None
