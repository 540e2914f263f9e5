"""The FastAPI routes parse request bodies with orjson, as the publish endpoint does.

Python's json module, FastAPI's default, accepts JSON that HookCast can neither store nor
send: a lone surrogate such as `"\\ud800"` (no UTF-8 encoder takes it), integers past 64
bits and nesting to Python's recursion limit. orjson refuses each as invalid JSON, so every
route answers them with the same 400 `invalid_json`, before any of it reaches a service.

It answers it after the route's dependencies, as a body that fails its model is: FastAPI
parses the JSON before it authenticates, so a stranger's broken JSON got a 400 where any
other request of theirs gets a 401, and a caller's skipped the rate limit and api.video's
rate-limit headers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

__all__ = ["OrjsonRoute"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The body of a request whose JSON is invalid: a value no body model takes, so FastAPI
# raises its validation error after the dependencies. A body typed Any (or object) would
# take it and reach the route: OrjsonRoute refuses to be built with such a body.
_UNREAD = object()


class _OrjsonRequest(Request):
    _parsed: Any = _UNREAD
    not_json: RequestValidationError | None = None

    async def json(self) -> Any:
        if self._parsed is _UNREAD:
            try:
                self._parsed = orjson.loads(await self.body())
            except orjson.JSONDecodeError as exc:
                # Raised here, FastAPI would answer it before solving the dependencies
                # (authentication, the rate limit). A value no body model takes instead:
                # its validation error, after them, is answered as this one.
                self.not_json = _invalid_json(exc)
                self._parsed = _UNREAD
                return _UNREAD
        return self._parsed


class OrjsonRoute(APIRoute):
    """An APIRoute whose handler reads the JSON body with orjson (`route_class=`). Its body,
    if it takes one, must be typed so that validation refuses the invalid-JSON sentinel
    (a TypeError at build time otherwise)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None:
            _refuses_unread(self.body_field.field_info.annotation, path)

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            parsing = _OrjsonRequest(request.scope, request.receive)
            try:
                return await handle(parsing)
            except RequestValidationError:
                if parsing.not_json is not None:
                    raise parsing.not_json from None
                raise

        return handler


def _refuses_unread(annotation: Any, path: str) -> None:
    """Raises TypeError unless a body typed `annotation` refuses the invalid-JSON sentinel:
    one typed Any would take it, and the route would fail with a 500 on invalid JSON."""
    try:
        TypeAdapter(annotation).validate_python(_UNREAD)
    except ValidationError:
        return
    raise TypeError(
        f"the route {path} takes a body typed {annotation!r}, which accepts any value: "
        "invalid JSON would reach it as a placeholder (give the body a model or a JSON type)"
    )


def _invalid_json(exc: orjson.JSONDecodeError) -> RequestValidationError:
    """The error FastAPI raises for a body that is not JSON (errors.py and api.video's
    problems.py answer its `json_invalid`)."""
    error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
    return RequestValidationError([{**error, "input": {}, "ctx": {"error": exc.msg}}])
