"""The webhook form: typed text in, service metadata out, problems in words."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

from hookcast.dashboard.forms import WebhookForm, tag_condition
from support import factories as make


def _form(**fields: str | list[str]) -> WebhookForm:
    """A form with a name and a URL typed in, and `fields`."""
    fields = {"name": "CMS", "webhook_url": "https://cms.example.com/hook", **fields}
    items: list[tuple[str, str | UploadFile]] = []
    for name, value in fields.items():
        items += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return WebhookForm.from_form(FormData(items))


def test_the_has_tag_rule_becomes_a_contains_condition() -> None:
    metadata, errors = _form(events=["*"], site_ids=["s"], tag="sports").to_metadata()
    assert errors == {}
    assert metadata["conditions"] == {"data.tags": {"$contains": "sports"}}


def test_a_tag_and_advanced_json_are_both_required() -> None:
    form = _form(events=["*"], site_ids=["s"], tag="sports", conditions='{"data.q": "720p"}')
    metadata, _ = form.to_metadata()
    assert metadata["conditions"] == {"$and": [{"data.q": "720p"}, tag_condition("sports")]}


def test_all_events_wins_over_single_ones_and_custom_delays_are_numbers() -> None:
    form = _form(
        events=["*", "media_created"],
        site_ids=["s"],
        retry_policy="custom",
        retry_delays="10, 60,1.5",
        timeout_seconds="5",
    )
    metadata, errors = form.to_metadata()
    assert errors == {}
    assert metadata["events"] == ["*"]
    assert metadata["retry_policy"] == [10, 60, 1.5]
    assert metadata["timeout_seconds"] == 5
    assert metadata["enabled"] is False  # an unticked box is not sent by browsers


def test_what_a_form_alone_can_tell_is_reported_per_field() -> None:
    _, errors = _form(
        conditions="{", retry_policy="custom", retry_delays="soon", timeout_seconds="ten"
    ).to_metadata()
    assert set(errors) == {"events", "site_ids", "conditions", "retry_policy", "timeout_seconds"}


def test_an_empty_form_names_every_missing_field_in_the_order_shown() -> None:
    _, errors = _form(name=" ", webhook_url="").to_metadata()
    assert list(errors) == ["name", "webhook_url", "site_ids", "events"]


def test_a_webhook_fills_the_form_back_in() -> None:
    hook = make.webhook("acct", conditions=tag_condition("news"), timeout_seconds=7)
    form = WebhookForm.from_webhook(hook)
    assert (form.tag, form.conditions, form.timeout_seconds) == ("news", "", "7")
    other = WebhookForm.from_webhook(make.webhook("acct", conditions={"data.q": 1}))
    assert other.tag == ""
    assert '"data.q": 1' in other.conditions


def test_all_properties_wins_over_single_ones_and_is_shown_again_when_editing() -> None:
    metadata, errors = _form(events=["*"], site_ids=["s", "*"]).to_metadata()
    assert errors == {}
    assert metadata["site_ids"] == ["*"]
    every = make.webhook("acct0001", all_sites=True)
    assert WebhookForm.from_webhook(every).site_ids == ["*"]
