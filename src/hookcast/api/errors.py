"""Every error leaves the API as `{"errors": [{"code", "description"}]}` with a fitting 4xx.

Each error answer is also counted (`Refused`, the metrics' `hookcast_api_refused_total`)
where it is made: here for the routes' errors, in middleware.py and publish_endpoint.py for
the answers made before routing. A request answered 2xx does no work for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hookcast.domain.errors import (
    Conflict,
    Forbidden,
    HookcastError,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

_log = logging.getLogger("hookcast.api")

_STATUS: Sequence[tuple[type[HookcastError], int]] = (
    (ValidationFailed, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)
_HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


INVALID_JSON = ("invalid_json", "the request body is not valid JSON")
# Counts one request answered with an error, by its status (metrics.Metrics.on_refused with
# the API named).
Refused = Callable[[int], None]
Handler = Callable[[Request, Exception], Awaitable[Response]]
_EXTRA_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "5"}}


def error_response(
    status: int, code: str, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"code": code, "description": description}]},
        status_code=status,
        headers=response_headers(status, headers),
    )


def response_headers(status: int, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """An error response's headers: `headers`, plus what its status calls for (a 401's
    WWW-Authenticate, a 503's Retry-After) unless `headers` sets them."""
    return {**_EXTRA_HEADERS.get(status, {}), **(headers or {})}


def error_body(code: str, description: str) -> bytes:
    return orjson.dumps({"errors": [{"code": code, "description": description}]})


def answer(exc: HookcastError | HTTPException) -> tuple[int, str, str, dict[str, str]]:
    """(status, code, description, headers) for an error a route raised; the headers are
    the exception's own (see response_headers for the rest)."""
    if isinstance(exc, HTTPException):  # Retry-After of a 429 travels in exc.headers
        code = _HTTP_CODES.get(exc.status_code, "error")
        status, description, headers = exc.status_code, str(exc.detail), exc.headers or {}
    else:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        code, description, headers = exc.code, exc.description, {}
    return status, code, description, dict(headers)


async def _hookcast_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HookcastError)
    status, code, description, headers = answer(exc)
    if _of_the_query(request, exc):
        code = "invalid_query"  # as FastAPI's own checks of the query say it (?page=0)
    return error_response(status, code, description, headers)


def _of_the_query(request: Request, exc: HookcastError) -> bool:
    """A GET's parameter the services refused (`?sort=`, `?status=`, `?since=`): they say
    invalid_body of every input they check, and a GET has no body."""
    return (
        type(exc) is ValidationFailed
        and request.method == "GET"
        and exc.field is not None
        and exc.field in request.query_params
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, *INVALID_JSON)
    return JSONResponse({"errors": [_describe(error) for error in errors]}, status_code=400)


def _describe(error: Any) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
    where = ".".join(location) or "body"
    return {
        "code": "invalid_"
        + (location[0] if location and location[0] in ("query", "path") else "body"),
        "description": f"{where}: {error.get('msg', 'invalid value')}",
    }


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(*answer(exc))


def unexpected(exc: BaseException) -> tuple[int, str, str]:
    """(status, code, description) for an error no route expected, logged with its traceback
    for the operator; the client never sees the traceback."""
    _log.exception("unexpected error", exc_info=exc)
    return 500, "internal_error", "an unexpected error occurred; it was logged"


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(*unexpected(exc))


# The request's scope names the exception a handler answered (the mounted app's scope is
# the parent's, updated in place). Not marked on the exception: some are raised again and
# again from one instance (api.video's bad credentials), and a mark left on it by the first
# request made every later one an unsent 500.
_ANSWERED = "hookcast.answered"


def counting(handler: Handler, refused: Refused) -> Handler:
    """`handler`, counting each answer it makes with `refused`, once per exception: an
    unexpected error in a mounted app (api.video's) is answered by its ServerErrorMiddleware,
    which then re-raises it, and the parent app's handler ran too: a second count (as
    management/500) and a second traceback, for an answer never sent."""

    async def answer_counted(request: Request, exc: Exception) -> Response:
        if request.scope.get(_ANSWERED) is exc:
            return Response(status_code=500)  # not sent: the client has its answer
        response = await handler(request, exc)
        refused(response.status_code)
        request.scope[_ANSWERED] = exc
        return response

    return answer_counted


def install(app: FastAPI, *, refused: Refused) -> None:
    """Answers every error in HookCast's format, counting each with `refused`."""
    app.add_exception_handler(HookcastError, counting(_hookcast_error, refused))
    app.add_exception_handler(RequestValidationError, counting(_validation_error, refused))
    app.add_exception_handler(HTTPException, counting(_http_error, refused))
    app.add_exception_handler(Exception, counting(_unexpected, refused))
