"""The api.video management API's bodies, field for field as its official clients send and
read them (camelCase, except the OAuth-style token answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccessToken",
    "AuthenticatePayload",
    "Pagination",
    "PaginationLink",
    "RefreshTokenPayload",
    "Webhook",
    "WebhooksCreationPayload",
    "WebhooksListResponse",
]


class AuthenticatePayload(BaseModel):
    apiKey: str = Field(max_length=256)  # noqa: N815 - api.video's field name


class RefreshTokenPayload(BaseModel):
    refreshToken: str = Field(max_length=4096)  # noqa: N815 - api.video's field name


class AccessToken(BaseModel):
    token_type: str = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int
    access_token: str
    refresh_token: str


class WebhooksCreationPayload(BaseModel):
    # api.video ignores fields it does not know; so does HookCast here.
    model_config = ConfigDict(extra="ignore")

    events: list[str] = Field(max_length=100)
    url: str = Field(max_length=2048)


class Webhook(BaseModel):
    webhookId: str  # noqa: N815
    createdAt: str  # noqa: N815 - RFC 3339 with an offset, as api.video writes it
    events: list[str]
    url: str
    # Left out (not null) when the caller may not read it: see webhooks.py.
    signatureSecret: str | None = None  # noqa: N815


class PaginationLink(BaseModel):
    rel: str
    uri: str


class Pagination(BaseModel):
    currentPage: int  # noqa: N815
    pageSize: int  # noqa: N815
    pagesTotal: int  # noqa: N815
    itemsTotal: int  # noqa: N815
    currentPageItems: int  # noqa: N815
    links: list[PaginationLink]


class WebhooksListResponse(BaseModel):
    data: list[Webhook]
    pagination: Pagination
