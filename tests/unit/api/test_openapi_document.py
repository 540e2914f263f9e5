"""/openapi.json says enough to call the API without reading the code: every field of every
request and response model and every parameter is described, and the choices and ranges the
services enforce are stated (enums, minimum/maximum) where a client generator or "Try it out"
reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import MagicMock

from hookcast.api.app import create_app
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.formats import FORMATS

DOCUMENT = create_app(MagicMock(), max_body_bytes=1).openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def _properties(where: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of `schema`, also those of objects nested inline in it."""
    for name, part in schema.get("properties", {}).items():
        yield f"{where}.{name}", part
        yield from _properties(f"{where}.{name}", part)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _properties(where, schema[key])
    for variant in schema.get("anyOf", []):
        yield from _properties(where, variant)


def _field(model: str, name: str) -> dict[str, Any]:
    field: dict[str, Any] = SCHEMAS[model]["properties"][name]
    return field


def _variant(field: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        part for part in field.get("anyOf", [field]) if part.get("type") == kind
    ]
    (only,) = found
    return only


def test_every_field_of_every_model_is_described() -> None:
    offenders = [
        where
        for model, schema in SCHEMAS.items()
        for where, part in _properties(model, schema)
        if not str(part.get("description", "")).strip()
    ]
    assert offenders == [], f"fields without a description: {', '.join(offenders)}"


def test_every_parameter_of_every_operation_is_described() -> None:
    offenders = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if not str(parameter.get("description", "")).strip()
    ]
    assert offenders == [], f"parameters without a description: {', '.join(offenders)}"


def test_the_choices_the_services_check_are_stated_as_enums() -> None:
    for model in ("WebhookMetadataCreate", "WebhookMetadataPatch", "WebhookMetadataOut"):
        events = set(_variant(_field(model, "events"), "array")["items"]["enum"])
        assert set(EVENT_TYPES) - {"webhook_test"} <= events, model
        assert {"*", "ALL", "video.encoding.quality.completed", "VIDEO_READY"} <= events
        assert _variant(_field(model, "format"), "string")["enum"] == list(FORMATS)
        assert _variant(_field(model, "signing"), "string")["enum"] == ["hmac", "ed25519"]
        assert set(_variant(_field(model, "ordering"), "string")["enum"]) == {"none", "resource"}
        presets = _variant(_field(model, "retry_policy"), "string")["enum"]
        assert presets == ["standard", "quick"], model
    roles = ["admin", "editor", "publisher", "viewer"]
    assert _field("ApiKeyMetadata", "role")["enum"] == roles
    assert _field("ApiKeyMetadataOut", "role")["enum"] == roles
    assert _field("PortalLinkIn", "role")["enum"] == ["editor", "viewer"]
    assert "media_available" in _field("PublishedEvent", "event")["enum"]
    assert "media_available" in _field("EventTypeOut", "name")["enum"]


def test_the_ranges_the_services_check_are_stated_as_minimum_and_maximum() -> None:
    for model in ("WebhookMetadataCreate", "WebhookMetadataPatch", "WebhookMetadataOut"):
        timeout = _variant(_field(model, "timeout_seconds"), "integer")
        assert (timeout["minimum"], timeout["maximum"]) == (1, 30), model
    for model in ("WebhookMetadataCreate", "WebhookMetadataPatch"):
        delays = _variant(_field(model, "retry_policy"), "array")
        assert (delays["minItems"], delays["maxItems"]) == (1, 10)
        assert (delays["items"]["minimum"], delays["items"]["maximum"]) == (1, 7 * 24 * 3600)
        ages = _variant(_field(model, "max_age_seconds"), "object")["additionalProperties"]
        assert (ages["minimum"], ages["maximum"]) == (1, 7 * 24 * 3600)
        for name in ("events", "site_ids"):
            listed = _variant(_field(model, name), "array")
            assert (listed["minItems"], listed["maxItems"]) == (1, 1000), (model, name)
    batch = _field("PublishedBatch", "events")
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)


def test_site_ids_say_that_a_star_is_every_property_and_reads_back_as_one() -> None:
    assert '["*"]' in _field("WebhookMetadataCreate", "site_ids")["description"]
    shown = _field("WebhookMetadataOut", "site_ids")["description"]
    assert "including those created later" in shown
    assert 'shows ["*"]' in shown


def test_every_operation_is_in_a_described_group_named_as_a_heading() -> None:
    """/docs and /redoc list operations under their tags: each one is declared with what it
    is for (ReDoc left an empty section under a bare name) and reads as a heading, "API keys"
    and "Event types", not "api keys"."""
    declared = {tag["name"]: tag.get("description", "") for tag in DOCUMENT["tags"]}
    used = {
        tag
        for operations in DOCUMENT["paths"].values()
        for operation in operations.values()
        for tag in operation.get("tags", [])
    }
    assert used == set(declared)
    assert all(description.strip() for description in declared.values())
    assert [name for name in declared if not name[0].isupper()] == []
    untagged = [
        f"{method.upper()} {path}"
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if not operation.get("tags")
    ]
    assert untagged == []
