"""Request shapes (JW Player v2: resources carry their settings in `metadata`).

These check JSON types only; the rules (known events, safe URLs, existing sites...) live in
`services`, so the dashboard and the CLI get the same answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hookcast.domain.errors import ValidationFailed


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


RetryPolicyIn = str | list[float]


class WebhookMetadataCreate(_Strict):
    name: str
    description: str | None = None
    webhook_url: str
    events: list[str]
    site_ids: list[str]
    enabled: bool = True
    conditions: dict[str, Any] | None = None
    retry_policy: RetryPolicyIn | None = Field(
        default=None, description='Default: the format\'s (jwplayer: "standard")'
    )
    timeout_seconds: int | None = Field(default=None, description="Default: the format's (10)")
    format: str = Field(
        default="jwplayer",
        description="jwplayer, apivideo, flowplayer, mediamanager or standard: the body, "
        "headers and event names (chosen here, fixed after)",
    )
    signing: str = Field(default="hmac", description="The signature scheme (fixed after)")


class WebhookMetadataPatch(_Strict):
    name: str | None = None
    description: str | None = None
    webhook_url: str | None = None
    events: list[str] | None = None
    site_ids: list[str] | None = None
    enabled: bool | None = None
    conditions: dict[str, Any] | None = None
    retry_policy: RetryPolicyIn | None = None
    timeout_seconds: int | None = None
    format: str | None = Field(default=None, description="Fixed: only its current value")
    signing: str | None = Field(default=None, description="Fixed: only its current value")


class WebhookCreate(_Strict):
    metadata: WebhookMetadataCreate


class WebhookPatch(_Strict):
    metadata: WebhookMetadataPatch


class SiteMetadata(_Strict):
    name: str


class SiteCreate(_Strict):
    id: str | None = Field(default=None, description="Optional 8-character id of your own")
    metadata: SiteMetadata


class SitePatch(_Strict):
    metadata: SiteMetadata


class ApiKeyMetadata(_Strict):
    name: str = ""
    role: str


class ApiKeyCreate(_Strict):
    metadata: ApiKeyMetadata


class Recover(_Strict):
    since: str = Field(description="ISO 8601 time: failed deliveries created since then")


NULLABLE_PATCH_FIELDS = frozenset({"conditions", "description"})


def patch_changes(patch: WebhookPatch) -> dict[str, Any]:
    """The fields a PATCH set. `null` clears conditions or description; elsewhere it is an
    error, since a webhook cannot exist without, say, a URL."""
    changes = patch.metadata.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in NULLABLE_PATCH_FIELDS:
            raise ValidationFailed(f"metadata.{name} cannot be null", field=name)
    return changes
