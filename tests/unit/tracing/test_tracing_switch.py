"""Whether HookCast traces: HOOKCAST_OTEL_EXPORTER_OTLP_ENDPOINT or the standard OTEL_*
variables turn it on; nothing set, it is off and OpenTelemetry's SDK is never imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hookcast.tracing import open_tracer, traces_endpoint

COLLECTOR = "http://collector:4318"


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        ("", {}, None),
        (COLLECTOR, {}, f"{COLLECTOR}/v1/traces"),
        (f"{COLLECTOR}/", {}, f"{COLLECTOR}/v1/traces"),
        ("", {"OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR}, f"{COLLECTOR}/v1/traces"),
        # The traces-only URL is used as it is (the OpenTelemetry specification).
        ("", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{COLLECTOR}/t"}, f"{COLLECTOR}/t"),
        (
            "",
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{COLLECTOR}/t",
            },
            f"{COLLECTOR}/t",
        ),
        # HookCast's own variable wins over the standard ones.
        (COLLECTOR, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"}, f"{COLLECTOR}/v1/traces"),
        # The standard switches turn it off whatever the endpoints say.
        (COLLECTOR, {"OTEL_SDK_DISABLED": "true"}, None),
        (COLLECTOR, {"OTEL_SDK_DISABLED": "TRUE"}, None),
        (COLLECTOR, {"OTEL_TRACES_EXPORTER": "none"}, None),
        (COLLECTOR, {"OTEL_SDK_DISABLED": "false"}, f"{COLLECTOR}/v1/traces"),
        ("  ", {"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, None),
    ],
)
def test_the_traces_endpoint(
    configured: str, environ: dict[str, str], expected: str | None
) -> None:
    assert traces_endpoint(configured, environ) == expected


def test_off_is_no_tracer() -> None:
    assert open_tracer("", {}) is None


def test_an_untraced_process_never_imports_the_sdk_exporter_or_protobuf() -> None:
    # A fresh interpreter: this one may have imported them for other tests.
    program = """
import asyncio, sys, tempfile
from hookcast.cli.runtime import Runtime
from hookcast.config import Settings
from hookcast.store import migrate

async def main():
    url = f"sqlite:///{tempfile.mkdtemp()}/t.db"
    migrate(url)
    runtime = await Runtime.open(Settings(database_url=url, secret_key="k" * 32))
    runtime.app(with_worker=True)
    runtime.worker()
    assert runtime.tracer is None
    await runtime.close()

asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith(
    ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto", "google.protobuf")))
print(loaded)
"""
    environ = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environ, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
