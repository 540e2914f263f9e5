"""What the OpenAPI document states about values the services check: enums and ranges.

Request models declare these in the schema only (`json_schema_extra`), never as pydantic
constraints: the webhook service checks them and names the choices in its 400 (every valid
event, the formats...), in the API's own error format, as it does for the dashboard and the
CLI. Declared here once, from the same constants the rules use, so the document cannot
drift from them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pydantic.config import JsonDict

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.formats import FORMATS
from hookcast.domain.freshness import MAX_AGE_LIMIT
from hookcast.domain.models import ALL_SITES, Ordering, Role
from hookcast.domain.retry import MAX_CUSTOM_DELAY, MAX_CUSTOM_DELAYS, MIN_CUSTOM_DELAY

__all__ = [
    "EVENT_NAMES",
    "FORMAT_NAMES",
    "MAX_LIST_ITEMS",
    "ORDERINGS",
    "RETRY_PRESETS",
    "ROLES",
    "SIGNINGS",
    "TIMEOUT_RANGE",
    "enum",
    "event_list",
    "max_age_map",
    "number_range",
    "retry_policy",
    "retry_policy_out",
    "site_list",
]

# Every name a webhook may subscribe to, in any format (the catalog's are jwplayer's), and
# each format's "every event" (`*`, Flowplayer's `ALL`).
EVENT_NAMES: Final = sorted(
    {ALL_EVENTS}
    | {wire.all_events for wire in FORMATS.values()}
    | {name for wire in FORMATS.values() for name in wire.event_names()}
)
FORMAT_NAMES: Final = list(FORMATS)
SIGNINGS: Final = ["hmac", "ed25519"]
ORDERINGS: Final = [ordering.value for ordering in Ordering]
ROLES: Final = [role.value for role in Role]
RETRY_PRESETS: Final = ["standard", "quick"]
TIMEOUT_RANGE: Final = (1, 30)  # services/webhooks.py checks timeout_seconds against it
MAX_LIST_ITEMS: Final = 1000  # services/validation.string_list


def enum(values: list[str]) -> Callable[[JsonDict], None]:
    """`json_schema_extra` for a text field that takes one of `values` (or null, if the
    field is nullable: the choices go on its text variant)."""
    return lambda schema: _on_value(schema, {"enum": list[Any](values)})


def number_range(low: int, high: int) -> Callable[[JsonDict], None]:
    """`json_schema_extra` for a number between `low` and `high`, both included."""
    return lambda schema: _on_value(schema, {"minimum": low, "maximum": high})


def event_list(schema: JsonDict) -> None:
    """Event names: those of the webhook's format (GET /v2/event_types/ names them per
    format), or its "every event" alone."""
    _on_list(schema, {"type": "string", "enum": list[Any](EVENT_NAMES)})


def site_list(schema: JsonDict) -> None:
    """Property ids, or ["*"] alone."""
    _on_list(schema, {"type": "string", "examples": ["9KboGBFu", ALL_SITES]})


def retry_policy(schema: JsonDict) -> None:
    """A preset's name, or 1-MAX_CUSTOM_DELAYS delays in seconds."""
    delays: JsonDict = {
        "type": "array",
        "items": {"type": "number", "minimum": MIN_CUSTOM_DELAY, "maximum": MAX_CUSTOM_DELAY},
        "minItems": 1,
        "maxItems": MAX_CUSTOM_DELAYS,
    }
    variants: list[Any] = [{"type": "string", "enum": list[Any](RETRY_PRESETS)}, delays]
    if _nullable(schema):
        variants.append({"type": "null"})
    schema.pop("anyOf", None)
    schema["anyOf"] = variants


def retry_policy_out(schema: JsonDict) -> None:
    """A preset's name, or the custom delays in seconds (as the operator's bounds allowed)."""
    variants = schema.get("anyOf")
    for variant in variants if isinstance(variants, list) else []:
        if isinstance(variant, dict) and variant.get("type") == "string":
            variant["enum"] = list[Any](RETRY_PRESETS)


def max_age_map(schema: JsonDict) -> None:
    """Event name -> seconds, each at most a week."""
    limits: JsonDict = {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": MAX_AGE_LIMIT},
    }
    variants: list[Any] = [limits]
    if _nullable(schema):
        variants.append({"type": "null"})
    schema.pop("anyOf", None)
    schema.pop("type", None)
    schema.pop("additionalProperties", None)
    schema["anyOf"] = variants


def _on_list(schema: JsonDict, items: JsonDict) -> None:
    """Sets the items of a list field's schema, nullable (anyOf with null) or not."""
    listed: JsonDict = {"type": "array", "items": items, "minItems": 1, "maxItems": MAX_LIST_ITEMS}
    if _nullable(schema):
        schema.pop("anyOf", None)
        schema["anyOf"] = [listed, {"type": "null"}]
        return
    schema.update(listed)


def _on_value(schema: JsonDict, extra: JsonDict) -> None:
    """Adds `extra` to the schema of the field's value: each variant that is not null."""
    variants = schema.get("anyOf")
    if not isinstance(variants, list):
        schema.update(extra)
        return
    for variant in variants:
        if isinstance(variant, dict) and variant.get("type") != "null":
            variant.update(extra)


def _nullable(schema: JsonDict) -> bool:
    variants = schema.get("anyOf")
    return isinstance(variants, list) and {"type": "null"} in variants
