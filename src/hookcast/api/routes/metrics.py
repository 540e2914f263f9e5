"""/metrics: Prometheus text exposition (not part of the Management API's schema)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from starlette.exceptions import HTTPException

from hookcast.api.deps import ServicesDep
from hookcast.api.operations import Operations
from hookcast.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["Operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    operations: Operations = request.app.state.operations
    if operations.metrics_token and not _token_matches(authorization, operations.metrics_token):
        # Raised: the error handler answers it in the API's format, and counts it.
        raise HTTPException(401, "send 'Authorization: Bearer <HOOKCAST_METRICS_TOKEN>'")
    body = await operations.metrics.render(
        services.store, now=datetime.now(UTC), heartbeat=operations.heartbeat
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _token_matches(header: str | None, token: str) -> bool:
    scheme, _, value = (header or "").partition(" ")
    # Constant-time: the comparison must not tell a prober how much of the token matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
