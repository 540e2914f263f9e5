"""Whether to trace, and the tracer when so (docs/operations.md, "Traces").

Deciding reads only the environment: OpenTelemetry is imported (hookcast/tracing/otel.py)
only once tracing is on, so a process that does not trace never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hookcast.ports import Tracer

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from hookcast.tracing.otel import SpanCounter

__all__ = ["open_tracer", "traces_endpoint"]

_TRACES_PATH = "/v1/traces"


def traces_endpoint(configured: str, environ: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP URL spans are exported to, or None: tracing is off.

    `configured` is HOOKCAST_OTEL_EXPORTER_OTLP_ENDPOINT, a collector's base URL as
    OTEL_EXPORTER_OTLP_ENDPOINT is (the traces path is appended); without it the standard
    variables decide, as the OpenTelemetry specification says: the traces-only URL as it is,
    else the base URL. OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none switch it off.
    """
    if _flag(environ, "OTEL_SDK_DISABLED") == "true":
        return None
    if _flag(environ, "OTEL_TRACES_EXPORTER") == "none":
        return None
    if configured.strip():
        return _with_traces_path(configured)
    exact = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if exact:
        return exact
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return _with_traces_path(base) if base else None


def open_tracer(
    configured: str,
    environ: Mapping[str, str],
    *,
    trust_traceparent: bool = False,
    counter: SpanCounter | None = None,
) -> Tracer | None:
    """The process's tracer, exporting over OTLP/HTTP, or None when tracing is off;
    `trust_traceparent` (HOOKCAST_OTEL_TRUST_TRACEPARENT): publishers' traces are continued,
    their sampling decisions followed (hookcast/tracing/otel.py); `counter` is told what
    became of the spans: exported, lost by the exporter, or dropped before it."""
    endpoint = traces_endpoint(configured, environ)
    if endpoint is None:
        return None
    from hookcast.tracing.otel import QUEUE_SIZE, OtelTracer  # only now: see the docstring

    return OtelTracer.exporting(
        endpoint,
        trust_traceparent=trust_traceparent,
        counter=counter,
        queue_size=_int(environ, "OTEL_BSP_MAX_QUEUE_SIZE", QUEUE_SIZE),
    )


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    """An OTEL_* number as the SDK reads it: its default when unset or not a number."""
    try:
        return int(environ.get(name, default))
    except ValueError:
        return default


def _flag(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip().lower()


def _with_traces_path(base: str) -> str:
    return base.strip().rstrip("/") + _TRACES_PATH
