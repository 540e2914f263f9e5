"""Liveness and readiness for orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hookcast.api.deps import ServicesDep
from hookcast.api.models import HealthOut, NotReady
from hookcast.api.operations import Operations
from hookcast.services import Services

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process answers")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    summary="The database answers and, when this process delivers, its worker makes progress",
    response_model=HealthOut,  # documentation: the route answers with a JSONResponse itself
    responses={503: {"model": NotReady, "description": "Not ready; `reason` says why"}},
)
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    reason = await _database_problem(services) or _worker_problem(request)
    if reason is not None:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok"})


async def _database_problem(services: Services) -> str | None:
    try:
        await services.store.list_accounts()
    except Exception as exc:  # any failure means not ready; the reason helps the operator
        return f"the database does not answer ({type(exc).__name__})"
    return None


def _worker_problem(request: Request) -> str | None:
    operations: Operations | None = getattr(request.app.state, "operations", None)
    if operations is None or operations.heartbeat is None:
        return None  # no worker in this process (serve --no-worker): the database is enough
    return operations.heartbeat.stale_reason()
