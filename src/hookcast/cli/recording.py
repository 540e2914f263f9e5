"""The SDK client the remote commands use: it also keeps the API's last answer as sent.

`--json` prints that answer, so scripts read the API's own shapes (`{"webhooks": [...]}`,
each webhook's settings under `metadata`), not a second schema made up by the CLI. The
answer is taken at the SDK's transport seam: the SDK still reads and checks every answer.
"""

from __future__ import annotations

import json
from typing import Any, Self

import httpx

from hookcast.sdk.client import Client

__all__ = ["RecordingClient"]


class _Recorder(httpx.BaseTransport):
    """httpx's own transport, keeping the body of the last answer."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.last_body = b""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        self.last_body = response.read()
        return response

    def close(self) -> None:
        self._inner.close()


class RecordingClient(Client):
    """A `Client` whose `last_answer()` is the JSON of the last answer it read."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._recorder = _Recorder()
        super().__init__(base_url, api_key, transport=self._recorder)

    def __enter__(self) -> Self:
        return self

    def last_answer(self) -> Any:
        """The last answer's JSON (the SDK has read it already, so it is JSON)."""
        return json.loads(self._recorder.last_body) if self._recorder.last_body else None
