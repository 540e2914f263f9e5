"""Every error leaves the API as `{"errors": [{"code", "description"}]}` with a fitting 4xx."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


INVALID_JSON = ("invalid_json", "the request body is not valid JSON")
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


async def _hookcast_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HookcastError)
    return error_response(*answer(exc))


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


def install(app: FastAPI) -> None:
    app.add_exception_handler(HookcastError, _hookcast_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
