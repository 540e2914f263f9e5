"""Response shapes: what presenters.py returns, described for the OpenAPI document.

presenters.py stays the one place that shapes output; routes return its dicts and FastAPI
validates them against these models. So each model lists exactly the keys its presenter
writes, with the same nullability: no field here has a default, except the optional ones of
`EventOut` (present only for some event types), and that route serializes with
`exclude_unset`, so a model never adds a key. Only the create responses have a `secret`.

Times are ISO 8601 strings as presenters format them ("2024-08-27T00:15:45+00:00"), kept as
strings so the bytes on the wire do not change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Time = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        examples=["2024-08-27T00:15:45+00:00"],
    ),
]
# A preset's name, or the custom delays in seconds. Ints stay ints (5, not 5.0).
RetryPolicyOut = Annotated[
    str | list[int | float],
    Field(description='"standard", "quick", or the custom list of retry delays in seconds'),
]
Role = Literal["admin", "editor", "publisher", "viewer"]
DeliveryStatus = Literal["pending", "paused", "succeeded", "failed"]


class _Out(BaseModel):
    """Unknown keys are dropped (pydantic's default): a GET model without `secret` can never
    pass one through. tests/integration/test_api_models.py checks nothing else is dropped."""


# --- errors -----------------------------------------------------------------------------------


class ErrorItem(_Out):
    code: str = Field(examples=["not_found"])
    description: str


class ErrorBody(_Out):
    errors: list[ErrorItem] = Field(min_length=1)


_ERROR_DESCRIPTIONS = {
    400: "Invalid request: bad JSON, a wrong type or a value the rules refuse",
    401: "Missing or unknown API key (with `WWW-Authenticate: Bearer`)",
    403: "The API key's role may not do this",
    404: "No such resource in this account",
    409: "Conflicts with an existing resource",
    413: "The request body is larger than the configured limit",
    415: "The request body is not JSON",
    429: "Too many requests for this API key (with `Retry-After`)",
    503: "The database is unavailable (with `Retry-After`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the error body."""
    return {
        status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


# Every /v2 route authenticates (401), is rate limited (429) and reads the database (503).
AUTHENTICATED = (401, 429, 503)
# POST and PATCH bodies pass the request rules first: size (413) and JSON only (415).
WITH_BODY = (400, 413, 415)
# Writes may also answer 409: the store turns any constraint violation into a Conflict.


# --- webhooks ---------------------------------------------------------------------------------


class WebhookMetadataOut(_Out):
    name: str
    description: str
    webhook_url: str
    events: list[str] = Field(description='Event names, or ["*"] for every event')
    site_ids: list[str]
    enabled: bool
    disabled_reason: str | None
    conditions: dict[str, Any] | None
    retry_policy: RetryPolicyOut
    timeout_seconds: int
    last_success: Time | None
    failing_since: Time | None


class WebhookOut(_Out):
    """A webhook as GET shows it: never its secret."""

    id: str
    created: Time
    last_modified: Time
    metadata: WebhookMetadataOut
    relationships: dict[str, Any] = Field(description="Always empty (JW Player's shape)")
    schema_: None = Field(alias="schema", description="Always null (JW Player's shape)")
    type: Literal["webhook"]


class WebhookCreated(WebhookOut):
    """The create response: the only one that carries the signing secret."""

    secret: str


class WebhookList(_Out):
    page: int
    page_length: int
    total: int
    webhooks: list[WebhookOut]


class SecretOut(_Out):
    id: str
    secret: str
    previous_secret: str | None = Field(description="Still signs until previous_secret_expires")
    previous_secret_expires: Time | None


# --- sites ------------------------------------------------------------------------------------


class SiteMetadataOut(_Out):
    name: str


class SiteOut(_Out):
    id: str
    created: Time
    last_modified: Time
    metadata: SiteMetadataOut
    relationships: dict[str, Any] = Field(description="Always empty (JW Player's shape)")
    schema_: None = Field(alias="schema", description="Always null (JW Player's shape)")
    type: Literal["site"]


class SiteList(_Out):
    page: int
    page_length: int
    total: int
    sites: list[SiteOut]


# --- API keys ---------------------------------------------------------------------------------


class ApiKeyMetadataOut(_Out):
    name: str
    role: Role


class ApiKeyOut(_Out):
    """An API key as listed: never its secret."""

    id: str
    created: Time
    metadata: ApiKeyMetadataOut
    type: Literal["api_key"]


class ApiKeyCreated(ApiKeyOut):
    """The create response: the only time the key's secret is shown."""

    secret: str


class ApiKeyList(_Out):
    api_keys: list[ApiKeyOut]
    total: int


# --- the event catalog ------------------------------------------------------------------------


class EventTypeOut(_Out):
    name: str
    group: str = Field(examples=["media"])
    id_fields: list[str] = Field(description="The resource ids its events require, primary first")
    description: str
    example: dict[str, Any] = Field(description="An example delivery body")


class EventTypeList(_Out):
    event_types: list[EventTypeOut]
    total: int


# --- events -----------------------------------------------------------------------------------


class PublishResult(_Out):
    event_ids: list[str] = Field(description="In the order published, one per event")


def _present_only(description: str) -> Any:
    # Not nullable and not required: the key is there for the event types that have it.
    return Field(default=None, description=description, json_schema_extra=_no_default)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class EventOut(_Out):
    """A stored event with how its deliveries ended. Its resource id fields depend on the
    event type (see /v2/event_types/): the four known ones are listed, any other is kept."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    event: str
    site_id: str
    # In this order so each event type's ids keep their catalog order (primary first).
    thumbnail_id: str = _present_only("thumbnail_created, thumbnail_deleted")
    track_id: str = _present_only("track_created, track_deleted")
    media_id: str = _present_only("media_* events, thumbnail and track events")
    channel_id: str = _present_only("channel_* events")
    event_time: Time
    created: Time
    data: dict[str, Any] = _present_only("The published data, when there was any")
    deliveries: dict[str, int] = Field(description="Deliveries by status, e.g. {'succeeded': 2}")


class EventList(_Out):
    page: int
    page_length: int
    total: int
    events: list[EventOut]


# --- deliveries -------------------------------------------------------------------------------


class AttemptOut(_Out):
    number: int
    started_at: Time
    request_headers: dict[str, str] = Field(description="As sent, with signatures redacted")
    status_code: int | None
    latency_ms: float
    response_body: str = Field(description="The first 4 KiB")
    error: str | None


class DeliveryOut(_Out):
    id: str
    webhook_id: str
    event_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Time | None = Field(description="Only while pending")
    last_status_code: int | None
    created: Time
    completed_at: Time | None
    attempt_log: list[AttemptOut]


class DeliveryList(_Out):
    page: int
    page_length: int
    total: int
    deliveries: list[DeliveryOut]


class TestSent(_Out):
    event_id: str
    delivery_id: str


class Recovered(_Out):
    recovered: int = Field(description="How many failed deliveries were queued again")


# --- operations -------------------------------------------------------------------------------


class HealthOut(_Out):
    status: Literal["ok"]


class NotReady(_Out):
    status: Literal["unavailable"]
    reason: str
