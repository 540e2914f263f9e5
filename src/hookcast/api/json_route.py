"""The FastAPI routes parse request bodies with orjson, as the publish endpoint does.

Python's json module, FastAPI's default, accepts JSON that HookCast can neither store nor
send: a lone surrogate such as `"\\ud800"` (no UTF-8 encoder takes it), integers past 64
bits and nesting to Python's recursion limit. orjson refuses each as invalid JSON, so every
route answers them with the same 400 `invalid_json`, before any of it reaches a service.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["OrjsonRoute"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_UNREAD = object()


class _OrjsonRequest(Request):
    _parsed: Any = _UNREAD

    async def json(self) -> Any:
        # orjson.JSONDecodeError is a json.JSONDecodeError: FastAPI answers it as invalid
        # JSON, as it did the standard library's.
        if self._parsed is _UNREAD:
            self._parsed = orjson.loads(await self.body())
        return self._parsed


class OrjsonRoute(APIRoute):
    """An APIRoute whose handler reads the JSON body with orjson (`route_class=`)."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await handle(_OrjsonRequest(request.scope, request.receive))

        return handler
