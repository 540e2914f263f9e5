"""Logging set-up, done once by the CLI's composition root: text for people, or one JSON
object per line (`HOOKCAST_LOG_FORMAT=json`) for log pipelines.

Structured values travel as `extra={"fields": {...}}`; the JSON formatter puts them at the
top level of the line, the text formatter leaves them to the message.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

__all__ = ["JsonFormatter", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's fields, and the
    traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(
    *, level: str = "INFO", fmt: Literal["text", "json"] = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Routes every logger (uvicorn's too, when it is started with log_config=None) to one
    handler on stderr. Replaces the handler an earlier call installed. Returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "_hookcast", False)]:
        root.removeHandler(previous)
    handler._hookcast = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
