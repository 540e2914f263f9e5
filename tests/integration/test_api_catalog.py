"""/v2/event_types/: the catalog of DESIGN.md, with id fields, descriptions and examples."""

from __future__ import annotations

from datetime import datetime

from harness import Api, assert_error

from hookcast.domain.models import Role

MEDIA = ("media_id",)
# DESIGN.md, "Event catalog": every event and its id fields.
CATALOG: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "media_created",
            "media_updated",
            "media_deleted",
            "media_reuploaded",
            "media_available",
            "conversions_complete",
            "media_published",
            "media_unpublished",
            "media_restored",
            "media_failed",
            "master_ready",
            "master_failed",
            "rendition_ready",
        ),
        MEDIA,
    ),
    "thumbnail_created": ("thumbnail_id", "media_id"),
    "thumbnail_deleted": ("thumbnail_id", "media_id"),
    "track_created": ("track_id", "media_id"),
    "track_deleted": ("track_id", "media_id"),
    **dict.fromkeys(
        (
            "channel_created",
            "channel_active",
            "channel_idle",
            "channel_updated",
            "channel_deleted",
            "channel_enabled",
            "channel_disabled",
            "channel_recording_ready",
        ),
        ("channel_id",),
    ),
    "webhook_test": (),
}
ENVELOPE = {"event", "event_id", "webhook_id", "site_id", "event_time"}


async def test_every_catalog_event_is_listed_with_an_example(api: Api) -> None:
    response = await api.call("GET", "/v2/event_types/", key=await api.key(Role.VIEWER))

    assert response.status_code == 200
    listed = {item["name"]: item for item in response.json()["event_types"]}
    assert set(CATALOG) <= set(listed)
    for name, id_fields in CATALOG.items():
        item = listed[name]
        assert set(item["id_fields"]) == set(id_fields), name
        assert isinstance(item["description"], str), name
        assert len(item["description"]) > 10, name
        example = item["example"]
        assert set(example) >= ENVELOPE | set(id_fields), name
        assert example["event"] == name
        assert datetime.fromisoformat(example["event_time"]).tzinfo is not None
        for id_field in id_fields:
            assert isinstance(example[id_field], str), (name, id_field)
            assert example[id_field]


async def test_event_data_the_design_promises(api: Api) -> None:
    rendition = (await api.call("GET", "/v2/event_types/rendition_ready/")).json()
    recording = (await api.call("GET", "/v2/event_types/channel_recording_ready")).json()

    assert rendition["example"]["data"]["encoding"] in ("hls", "mp4")
    assert rendition["example"]["data"]["quality"] in (
        "240p",
        "360p",
        "480p",
        "720p",
        "1080p",
        "1440p",
        "2160p",
    )
    assert isinstance(recording["example"]["data"]["media_id"], str)


async def test_unknown_event_type_is_404(api: Api) -> None:
    assert_error(await api.call("GET", "/v2/event_types/media_exploded/"), 404)
    assert_error(await api.call("GET", "/v2/event_types/", key=None), 401)
