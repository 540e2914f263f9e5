"""The HTTP ceilings' tools: wrk posting one signed delivery as fast as it can, and an nginx
that answers 204 and logs each request's arrival (so its count can be checked)."""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
from pathlib import Path

from benchmarks.arrivals import LOG_FORMAT
from benchmarks.config import BenchFailure
from benchmarks.payloads import delivery_body, signed_headers
from benchmarks.procs import HOST


def wrk(url: str, work: Path, seconds: float) -> dict[str, float]:
    """Requests sent and their rate; a non-2xx answer fails the run."""
    body = delivery_body("wrk", 1)
    headers = signed_headers("", body, "wrk-1")
    script = work / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    script.write_text("\n".join(lines) + "\n", encoding="ascii")
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    requests = int(_found(r"(\d+) requests in", out))
    rate = float(_found(r"Requests/sec:\s+([\d.]+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise BenchFailure(f"wrk saw {non2xx.group(1)} non-2xx answers from {url}")
    return {"requests": requests, "rate": rate}


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise BenchFailure(f"wrk's output has no {pattern!r}:\n{text}")
    return match.group(1)


def nginx_config(work: Path, port: int, *, name: str = "nginx") -> Path:
    """The configuration of an nginx (1 worker, 204 to everything) under work/<name>; its
    access log has a line per request (arrivals.LOG_FORMAT)."""
    prefix = work / name
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{_user()}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    map $http_x_hookcast_signature $signed {{ "" 0; default 1; }}
    log_format arrivals '{LOG_FORMAT}';
    access_log {prefix}/logs/access.log arrivals buffer=256k flush=250ms;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen {HOST}:{port};
        location / {{ return 204; }}
    }}
}}
""",
        encoding="ascii",
    )
    return conf


def _user() -> str:
    """Started by root, nginx runs its worker as `nobody`, which cannot reopen the logs in
    the work directory (0700): the worker runs as the user that started it instead."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name};\n"


def line_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
