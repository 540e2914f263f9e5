"""The SDK reads every answer shape the API declares, field by field, name and type.

The API's response models (api/models.py; the portal's in api/routes/portal.py) are the one
declaration of each JSON answer, and the OpenAPI document derives from them. The SDK keeps
its own frozen dataclasses (sdk/types.py) so that it imports without FastAPI or pydantic;
this test is what keeps the two one shape. For every request the SDK makes, it finds the
operation that answers it in the OpenAPI document, builds an answer from that operation's
schema with every field set (distinct values, each union's variants, then every nullable
field null; each one valid for the response model), reads it with the SDK's parser for that
request, and checks that each wire field reaches the SDK value under its name, with the same
value and a type its annotation admits; then that no SDK field is left without a wire field.
A field added to a model fails here until the SDK's types and parsers carry it, and so does
one added to the SDK alone.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any, Required
from unittest.mock import MagicMock

import pytest
from pydantic import BaseModel

from hookcast.api import models
from hookcast.api.app import create_app
from hookcast.api.routes import portal
from hookcast.api.schemas import WebhookMetadataCreate, WebhookMetadataPatch
from hookcast.sdk import _core
from hookcast.sdk.types import Page, WebhookChanges, WebhookFields, WebhookSecret

# One request per SDK operation (every function of _core that returns a Call).
CALLS: dict[str, _core.Call[Any]] = {
    "create_site": _core.create_site("n", None),
    "list_sites": _core.list_sites(1, 10),
    "get_site": _core.get_site("s"),
    "rename_site": _core.rename_site("s", "n"),
    "delete_site": _core.delete_site("s"),
    "create_api_key": _core.create_api_key("viewer", "n"),
    "list_api_keys": _core.list_api_keys(),
    "revoke_api_key": _core.revoke_api_key("k"),
    "create_webhook": _core.create_webhook(
        {"name": "n", "webhook_url": "u", "events": ["*"], "site_ids": []}
    ),
    "list_webhooks": _core.list_webhooks(
        page=1, page_length=10, sort="created:dsc", events=None, site_id=None
    ),
    "get_webhook": _core.get_webhook("w"),
    "update_webhook": _core.update_webhook("w", {"enabled": False}),
    "delete_webhook": _core.delete_webhook("w"),
    "get_webhook_secret": _core.get_webhook_secret("w"),
    "rotate_webhook_secret": _core.rotate_webhook_secret("w"),
    "get_flowplayer_secret": _core.get_flowplayer_secret(),
    "set_flowplayer_secret": _core.set_flowplayer_secret("s" * 16),
    "rotate_flowplayer_secret": _core.rotate_flowplayer_secret(),
    "get_contact_email": _core.get_contact_email(),
    "set_contact_email": _core.set_contact_email("oncall@example.com"),
    "test_webhook": _core.test_webhook("w"),
    "create_portal_link": _core.create_portal_link("editor", "24h", None),
    "get_portal_settings": _core.get_portal_settings(),
    "set_portal_settings": _core.set_portal_settings(
        name=None, logo=None, accent_colour=None, frame_ancestors=None
    ),
    "recover_webhook": _core.recover_webhook("w", "2024-08-27T00:00:00+00:00"),
    "replay_webhook": _core.replay_webhook("w", "2024-08-27T00:00:00+00:00"),
    "deliver_held": _core.deliver_held("w"),
    "discard_held": _core.discard_held("w"),
    "list_deliveries": _core.list_deliveries("w", page=1, page_length=10, status=None, event=None),
    "get_delivery": _core.get_delivery("d"),
    "retry_delivery": _core.retry_delivery("d"),
    "publish": _core.publish({"event": "media_created"}),
    "list_events": _core.list_events(
        page=1, page_length=10, event=None, site_id=None, resource_id=None
    ),
    "list_event_types": _core.list_event_types(),
}
# API routes with a JSON answer that the SDK does not call.
NOT_IN_SDK = {
    ("GET", "/v2/event_types/{name}/"),
    # The JWK Set is for receivers' JOSE libraries; a Python receiver pins metadata.public_key.
    ("GET", "/v2/webhooks/jwks.json/"),
}

# JW Player's fixed keys ({}, null, the resource's name): the SDK's types do not repeat them.
NOT_CARRIED = {"relationships", "schema", "type"}
# Wire keys the SDK names otherwise.
RENAMED: dict[type, dict[str, str]] = {WebhookSecret: {"id": "webhook_id"}}
# An event's resource ids are flat on the wire (JW Player's shape), gathered in one mapping.
GATHERED = {"EventRecord": "resource_ids"}

# The response models by name, wherever a route declares them.
MODELS = {
    name: value
    for module in (models, portal)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel)
}
DOCUMENT = create_app(MagicMock(), max_body_bytes=1).openapi()
OPERATIONS = {
    (method.upper(), path): operation
    for path, operations in DOCUMENT["paths"].items()
    if path.startswith("/v2/")
    for method, operation in operations.items()
}


def _operation(call: _core.Call[Any]) -> tuple[str, str]:
    """The document's (method, path template) that answers `call`."""
    (found,) = [
        (method, path)
        for method, path in OPERATIONS
        if method == call.method and re.fullmatch(re.sub(r"{\w+}", "[^/]+", path), call.path)
    ]
    return found


def _answer_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the operation's success answer; None when it has no body (204)."""
    (status,) = [status for status in operation["responses"] if status.startswith("2")]
    content = operation["responses"][status].get("content")
    return None if content is None else content["application/json"]["schema"]


# --- answers built from the document ----------------------------------------------------------


def _answers(schema: dict[str, Any]) -> Iterator[tuple[str, Any, set[str]]]:
    """Each variant of an answer, with the times in it; each model of a route that answers
    one of several (replay: replayed, or would_replay for a dry run)."""
    for one in schema.get("anyOf", [schema]):
        model: type[BaseModel] = MODELS[one["$ref"].rsplit("/", 1)[-1]]
        for variant in ("first", "last", "null"):
            sampler = _Sampler(DOCUMENT["components"]["schemas"], variant)
            answer = sampler.sample(one)
            model.model_validate(answer)  # a valid answer of that route
            yield variant, answer, sampler.times


@dataclasses.dataclass
class _Sampler:
    """A JSON value for a JSON schema: distinct scalars, one item per list and mapping."""

    defs: dict[str, Any]
    variant: str  # which of a union's types: "first", "last", or null where it may be
    numbers: Iterator[int] = dataclasses.field(default_factory=lambda: count(1))
    times: set[str] = dataclasses.field(default_factory=set)  # the date-time strings made

    def sample(self, schema: dict[str, Any]) -> Any:
        if "$ref" in schema:
            return self.sample(self.defs[schema["$ref"].rsplit("/", 1)[-1]])
        if "allOf" in schema:  # older pydantic: a described model field is allOf: [$ref]
            (only,) = schema["allOf"]
            return self.sample(only)
        if "anyOf" in schema:
            options = [o for o in schema["anyOf"] if o.get("type") != "null"]
            if self.variant == "null" and len(options) < len(schema["anyOf"]):
                return None
            return self.sample(options[-1 if self.variant == "last" else 0])
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][next(self.numbers) % len(schema["enum"])]
        return self._typed(schema)

    def _typed(self, schema: dict[str, Any]) -> Any:
        kind, n = schema.get("type"), next(self.numbers)
        if kind == "object" and "properties" in schema:
            return {name: self.sample(part) for name, part in schema["properties"].items()}
        if kind == "object":
            values = schema.get("additionalProperties", {})
            return {f"key{n}": self.sample(values if isinstance(values, dict) else {})}
        if kind == "array":
            return [self.sample(schema.get("items", {}))]
        if kind == "string" and schema.get("format") == "date-time":
            time = (datetime(2024, 8, 27, tzinfo=UTC) + timedelta(seconds=n)).isoformat()
            self.times.add(time)
            return time
        samples = {"integer": n, "number": n + 0.25, "boolean": n % 2 == 0, "null": None}
        return samples.get(kind, f"text{n}")  # type: ignore[arg-type]


# --- what the SDK made of them ----------------------------------------------------------------


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_as_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _as_json(item) for key, item in value.items()}
    return value


def _admits(value: Any, hint: Any) -> bool:
    """Whether `value` is of the type the SDK annotates (the shapes its types use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_admits(value, option) for option in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, tuple) and all(_admits(item, args[0]) for item in value)
    if origin is Mapping or hint is Mapping:
        return isinstance(value, Mapping)
    if hint is float:
        return isinstance(value, float)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


class _Reading:
    """Compares what the SDK read with the answer it read, and notes each SDK field filled."""

    def __init__(self) -> None:
        self.filled: dict[type, set[str]] = {}
        self.times: set[str] = set()  # the answer's date-time strings: datetimes in the SDK

    def result(self, answer: Any, value: Any, where: str) -> None:
        if isinstance(value, Page):
            position = (value.page, value.page_length, value.total)
            assert position == (answer["page"], answer["page_length"], answer["total"]), where
            (items,) = set(answer) - {"page", "page_length", "total"}
            self.items(answer[items], value.items, where)
        elif isinstance(value, list):  # list_api_keys, list_event_types: the items alone
            (items,) = set(answer) - {"total"}
            self.items(answer[items], value, where)
        elif dataclasses.is_dataclass(value):
            self.resource(answer, value, where)
        else:  # recover_webhook, replay_webhook, deliver_held, discard_held: the one number
            (only,) = answer.values()
            assert value == only, where

    def items(self, answer: list[Any], values: Any, where: str) -> None:
        assert len(values) == len(answer), where
        for item, value in zip(answer, values, strict=True):
            self.resource(item, value, where)

    def resource(self, answer: dict[str, Any], value: Any, where: str) -> None:
        kind = type(value)
        flat = {k: v for k, v in answer.items() if k not in NOT_CARRIED | {"metadata"}}
        flat.update(answer.get("metadata", {}))
        names = {field.name for field in dataclasses.fields(kind)}
        hints = typing.get_type_hints(kind)
        filled = self.filled.setdefault(kind, set())
        for key, wire in flat.items():
            name = RENAMED.get(kind, {}).get(key, key)
            here = f"{where}: {kind.__name__}.{name} from {key!r}"
            if name not in names and kind.__name__ in GATHERED and key.endswith("_id"):
                name = GATHERED[kind.__name__]
                assert getattr(value, name)[key] == wire, here
            else:
                assert name in names, f"{here}: the SDK type has no such field"
                self.field(wire, getattr(value, name), hints[name], here)
            filled.add(name)

    def field(self, wire: Any, value: Any, hint: Any, here: str) -> None:
        assert _admits(value, hint), f"{here}: {value!r} is not {hint}"
        if isinstance(wire, str) and wire in self.times:
            assert isinstance(value, datetime), f"{here}: a time, not a datetime"
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            self.items(wire, value, here)  # a delivery's attempts
        elif dataclasses.is_dataclass(value):
            self.resource(wire, value, here)  # a webhook's last error
        else:
            # Same JSON: same value, and 5 stays 5 where the API sent 5 (not 5.0).
            assert json.dumps(_as_json(value)) == json.dumps(wire), here


# --- the tests --------------------------------------------------------------------------------


def test_every_sdk_operation_is_checked_and_every_answering_route_is_called() -> None:
    operations = {
        name
        for name, function in inspect.getmembers(_core, inspect.isfunction)
        if function.__module__ == _core.__name__
        and str(inspect.signature(function).return_annotation).startswith("Call[")
    }
    assert operations == set(CALLS)
    called = {_operation(call) for call in CALLS.values()}
    answering = {key for key, operation in OPERATIONS.items() if _answer_schema(operation)}
    assert answering - called == NOT_IN_SDK


def test_the_sdk_reads_every_field_of_every_answer() -> None:
    reading = _Reading()
    for name, call in CALLS.items():
        schema = _answer_schema(OPERATIONS[_operation(call)])
        if schema is None:  # 204: nothing to read
            assert call.parse(None) is None, name
            continue
        for variant, answer, times in _answers(schema):
            reading.times = times
            reading.result(answer, call.parse(answer), f"{name} ({variant})")
    for kind, filled in reading.filled.items():
        missing = {field.name for field in dataclasses.fields(kind)} - filled
        assert not missing, f"{kind.__name__} has fields no answer carries: {missing}"


@pytest.mark.parametrize(
    ("sdk", "api"),
    [(WebhookFields, WebhookMetadataCreate), (WebhookChanges, WebhookMetadataPatch)],
)
def test_the_sdk_sends_the_webhook_settings_the_api_takes(sdk: type, api: type[BaseModel]) -> None:
    hints = typing.get_type_hints(sdk, include_extras=True)  # both are total=False
    assert set(hints) == set(api.model_fields)
    required = {name for name, hint in hints.items() if typing.get_origin(hint) is Required}
    assert required == {name for name, field in api.model_fields.items() if field.is_required()}
