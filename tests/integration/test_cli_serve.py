"""`hookcast serve` as a real process: JW Player's own curl example works against it byte for
byte, the first start prints an admin key once, and SIGTERM stops it promptly."""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from harness import cli_env, serve

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_9728d0272fd5a02e.txt"
SEED_COMMAND = "curl -X POST https://api.jwplayer.com/v2/webhooks"
SEED_SITE = "1A23bCD4"


def seed_curl() -> list[str]:
    """The seed's curl command, split as a shell would, continuation lines included."""
    text = SEED.read_text()
    start = text.index(SEED_COMMAND)
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            break
    return shlex.split(" ".join(lines))


def retarget(command: list[str], base_url: str, secret: str) -> list[str]:
    """The same command with only the host and the API secret replaced."""
    changed = []
    for arg in command:
        if arg.startswith("https://api.jwplayer.com/"):
            path = urlsplit(arg).path
            arg = base_url + path
        elif arg.lower().startswith("authorization:"):
            arg = f"Authorization: {secret}"
        changed.append(arg)
    return changed


def admin_key(stdout: str) -> str:
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    assert lines, "serve printed no admin key on a new database"
    return lines[-1]


def test_seed_curl_creates_the_webhook_and_restart_prints_no_key(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "the curl binary is needed to replay the seed's example"
    command = seed_curl()
    assert command[0] == "curl"
    body = command[command.index("-d") + 1]
    assert body == (SEED.read_text().split("-d '", 1)[1].split("'\n", 1)[0])  # byte for byte
    env = cli_env(f"sqlite:///{tmp_path / 'hookcast.db'}")

    with serve(env, tmp_path) as server:
        secret = admin_key(server.stdout())
        site = httpx.post(
            f"{server.url}/v2/sites/",
            headers={"Authorization": secret},
            json={"id": SEED_SITE, "metadata": {"name": "Main"}},
            trust_env=False,
        )
        assert site.status_code == 201, site.text

        replay = retarget(command, server.url, secret)
        assert [arg for arg in replay if arg not in command] == [
            f"{server.url}/v2/webhooks",
            f"Authorization: {secret}",
        ]
        done = subprocess.run(
            [
                curl,
                "-sS",
                "--noproxy",
                "*",
                "--max-time",
                "20",
                "-w",
                "\n%{http_code}",
                *replay[1:],
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        response_text, status = done.stdout.rsplit("\n", 1)
        assert status == "201", response_text
        created = json.loads(response_text)
        exit_code = server.stop(timeout=10)
        assert exit_code is not None, "hookcast serve did not exit within 10 s of SIGTERM"
        assert exit_code in (0, -signal.SIGTERM), (exit_code, server.stderr())

    sent = json.loads(body)["metadata"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}", created["id"])
    for name in ("created", "last_modified"):
        assert datetime.fromisoformat(created[name]).utcoffset() is not None, created[name]
    for name in ("name", "description", "webhook_url", "events", "site_ids"):
        assert created["metadata"][name] == sent[name], name
    assert created["relationships"] == {}
    assert created["schema"] is None
    assert created["type"] == "webhook"
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"), validate=True)) >= 24

    with serve(env, tmp_path) as again:
        assert secret not in again.stdout()
        assert not re.search(r"hck_\S+", again.stdout()), again.stdout()
        listed = httpx.get(
            f"{again.url}/v2/webhooks", headers={"Authorization": secret}, trust_env=False
        )
        assert listed.status_code == 200
        assert [hook["id"] for hook in listed.json()["webhooks"]] == [created["id"]]
        assert again.stop(timeout=10) is not None


def test_https_from_a_trusted_proxy_gets_hsts_and_others_do_not(tmp_path: Path) -> None:
    # The proxy ends TLS and says so in X-Forwarded-Proto; only a proxy named in
    # HOOKCAST_FORWARDED_ALLOW_IPS is believed (uvicorn's default trusts loopback only).
    forwarded = {"X-Forwarded-Proto": "https"}
    database = f"sqlite:///{tmp_path / 'hookcast.db'}"
    for allowed, believed in (("192.0.2.10", False), ("192.0.2.10,127.0.0.1", True)):
        env = cli_env(database, HOOKCAST_FORWARDED_ALLOW_IPS=allowed)
        with serve(env, tmp_path) as server:
            answer = httpx.get(f"{server.url}/healthz", headers=forwarded, trust_env=False)
        assert ("Strict-Transport-Security" in answer.headers) is believed, allowed
