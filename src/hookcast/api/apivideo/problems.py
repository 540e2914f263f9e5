"""Errors in api.video's problem shape: `{"type", "title", "name", "status"}`, plus
`problems` (one `{"type", "title", "name"}` per field) when several fields are wrong.

The `type` URIs are api.video's own where its reference documents the case, so a client
that branches on them keeps working; statuses api.video does not document (403, 409, 413,
503, 500) get `about:blank`, as RFC 9457 says for a problem with no type of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hookcast.api.errors import Refused, counting
from hookcast.domain.errors import (
    Conflict,
    Forbidden,
    HookcastError,
    NotFound,
    Unauthorized,
    Unavailable,
)

__all__ = ["NO_TYPE", "Problem", "ProblemError", "from_hookcast", "install", "problem_response"]

_log = logging.getLogger("hookcast.api.apivideo")
_DOCS = "https://docs.api.video/reference/"
NO_TYPE = "about:blank"

# HookCast's field names where api.video's differ.
_FIELD_NAMES: Mapping[str, str] = {"webhook_url": "url", "webhook_id": "webhookId"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request. `type` is a slug of api.video's reference (or a whole
    URI such as `about:blank`); `name` is the field or parameter at fault, or ""."""

    type: str
    title: str
    name: str = ""

    def uri(self) -> str:
        return self.type if ":" in self.type else _DOCS + self.type

    def as_json(self) -> dict[str, str]:
        return {"type": self.uri(), "title": self.title, "name": self.name}


class ProblemError(Exception):
    """Raised by the api.video routes to answer `status` with these problems."""

    def __init__(
        self,
        status: int,
        problems: Sequence[Problem],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(problems[0].title)
        self.status = status
        self.problems = tuple(problems)
        self.headers = dict(headers or {})


def problem_response(
    status: int, problems: Sequence[Problem], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The first problem is the answer's own; `problems` lists them all when several."""
    body: dict[str, Any] = {**problems[0].as_json(), "status": status}
    if len(problems) > 1:
        body["problems"] = [problem.as_json() for problem in problems]
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def from_hookcast(exc: HookcastError) -> ProblemError:
    """A service's error as api.video would answer it."""
    name = _FIELD_NAMES.get(exc.field or "", exc.field or "")
    if isinstance(exc, Unauthorized):
        return ProblemError(401, [Problem("authentication-invalid-api-key", exc.description)])
    if isinstance(exc, NotFound):
        title = "The requested resource was not found."
        return ProblemError(404, [Problem("resource-not-found", title, name or "webhookId")])
    if isinstance(exc, Unavailable):
        return ProblemError(503, [Problem(NO_TYPE, exc.description)], headers={"Retry-After": "5"})
    status = 403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, Conflict) else 400
    kind = "invalid-attribute" if status == 400 else NO_TYPE
    return ProblemError(status, [Problem(kind, exc.description, name)])


def _from_http(exc: HTTPException) -> ProblemError:
    headers = dict(exc.headers or {})
    if exc.status_code == 429:
        # api.video's clients read the wait from X-RateLimit-Retry-After.
        headers.setdefault("X-RateLimit-Retry-After", headers.get("Retry-After", "1"))
        return ProblemError(
            429, [Problem("too-many-requests", "Too many requests.")], headers=headers
        )
    if exc.status_code in (404, 405):
        problem = Problem("unrecognized-request-url", "Unrecognized request URL.")
        return ProblemError(exc.status_code, [problem], headers=headers)
    return ProblemError(exc.status_code, [Problem(NO_TYPE, str(exc.detail))], headers=headers)


def _from_validation(exc: RequestValidationError) -> ProblemError:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return ProblemError(400, [Problem("invalid-attribute", "The request body is not JSON.")])
    return ProblemError(400, [_describe(error) for error in errors] or [_invalid_body()])


def _describe(error: Mapping[str, Any]) -> Problem:
    where, *path = [str(part) for part in error.get("loc", ())] or ["body"]
    name = _FIELD_NAMES.get(path[0], path[0]) if path else ""
    if where == "query":
        return Problem("request-invalid-query-parameter", "A query parameter is invalid.", name)
    if error.get("type") == "missing":
        return Problem("attribute-required", "This attribute is required.", name)
    return Problem("invalid-attribute", _invalid_title(str(error.get("type", ""))), name)


_INVALID_TITLES: Mapping[str, str] = {
    "list_type": "This attribute must be an array.",
    "string_type": "This attribute must be a string.",
    "string_too_long": "This attribute is too long.",
    "too_long": "This attribute has too many items.",
}


def _invalid_title(kind: str) -> str:
    return _INVALID_TITLES.get(kind, "An attribute is invalid.")


def _invalid_body() -> Problem:
    return Problem("invalid-attribute", "An attribute is invalid.")


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.problems, exc.headers)


async def _hookcast(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HookcastError)
    return await _problem(request, from_hookcast(exc))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return await _problem(request, _from_http(exc))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await _problem(request, _from_validation(exc))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # Never a traceback to the client; the log has it for the operator.
    _log.exception("unexpected error", exc_info=exc)
    problem = Problem(NO_TYPE, "An unexpected error occurred; it was logged.")
    return problem_response(500, [problem])


def install(app: FastAPI, *, refused: Refused) -> None:
    """Every error the api.video app answers leaves it in the problem shape, counted with
    `refused`."""
    app.add_exception_handler(ProblemError, counting(_problem, refused))
    app.add_exception_handler(HookcastError, counting(_hookcast, refused))
    app.add_exception_handler(RequestValidationError, counting(_validation, refused))
    app.add_exception_handler(HTTPException, counting(_http, refused))
    app.add_exception_handler(Exception, counting(_unexpected, refused))
