"""`hookcast listen` as a real process receiving real deliveries from a real `hookcast serve`
(triggered with `hookcast trigger`): it verifies and prints them, refuses a wrong secret,
and answers with the failures it was asked to rehearse."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from harness import free_port, hookcast_bin
from tools_harness import SITE_ID, LiveServer, live_server
from typer.testing import CliRunner

from hookcast.cli import app
from hookcast.domain.ids import new_webhook_secret
from hookcast.sdk.types import Delivery
from support.waiting import wait_until

DEADLINE = 15.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("listen")) as running:
        yield running


@dataclass
class Listener:
    process: subprocess.Popen[bytes]
    url: str
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str) -> str:
        def shown() -> str | None:
            output = self.output()
            if text in output:
                return output
            if self.process.poll() is not None:
                pytest.fail(f"listen exited with {self.process.returncode}:\n{output}")
            return None

        return wait_until(
            shown,
            timeout=DEADLINE,
            message=lambda: f"{text!r} never appeared in listen's output:\n{self.output()}",
        )


@contextlib.contextmanager
def listening(live: LiveServer, port: int, *args: str) -> Iterator[Listener]:
    """`hookcast listen` on loopback `port`; always terminated on the way out."""
    output_path = live.cwd / f"listen-{port}.out"
    with output_path.open("wb") as out:
        process = subprocess.Popen(
            [hookcast_bin(), "listen", "--port", str(port), *args],
            env=live.env(),
            cwd=live.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listener = Listener(process, f"http://127.0.0.1:{port}/hooks", output_path)
    try:
        listener.wait_for("Listening on")
        yield listener
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def trigger(live: LiveServer, *args: str) -> str:
    """`hookcast trigger` in-process (Typer's runner): only `listen` needs its own process."""
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key}
    result = CliRunner().invoke(app, ["trigger", *args], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def webhook_to(live: LiveServer, url: str) -> tuple[str, str]:
    with live.client() as client:
        hook = client.create_webhook(
            name="local", webhook_url=url, events=["*"], site_ids=[SITE_ID], retry_policy="quick"
        )
    assert hook.secret
    return hook.id, hook.secret


def logged(live: LiveServer, webhook_id: str, condition: Callable[[Delivery], bool]) -> Delivery:
    def found() -> Delivery | None:
        with live.client() as client:
            matching = [d for d in client.list_deliveries(webhook_id) if condition(d)]
        return matching[0] if matching else None

    return wait_until(found, timeout=DEADLINE, interval=0.2, message="no such delivery in the log")


def test_listen_verifies_and_prints_real_deliveries(live: LiveServer) -> None:
    port = free_port()
    hook_id, secret = webhook_to(live, f"http://127.0.0.1:{port}/hooks")
    with listening(live, port, "--secret", secret) as listener:
        event_id = trigger(live, "media_available", "--media-id", "Listen01")
        output = listener.wait_for(event_id)
        # The listener prints before it answers, and the outcome is recorded after the
        # answer: it keeps listening until the log has it (stopped sooner, it never answers).
        delivery = logged(live, hook_id, lambda d: d.event_id == event_id and d.attempts >= 1)
    shown = output[output.index("media_available") :]
    assert "media_id=Listen01" in shown
    assert "JWT \u2713" in shown
    assert "Standard \u2713" in shown
    assert "hex \u2713" in shown
    assert '"title": "Match highlights"' in shown  # the body, pretty-printed
    assert (delivery.status, delivery.last_status_code) == ("succeeded", 200)
    _delete(live, hook_id)


def test_a_wrong_secret_shows_and_is_refused_with_401(live: LiveServer) -> None:
    port = free_port()
    hook_id, _secret = webhook_to(live, f"http://127.0.0.1:{port}/hooks")
    with listening(live, port, "--secret", new_webhook_secret()) as listener:
        event_id = trigger(live, "channel_active", "--channel-id", "Chan0Wrg")
        output = listener.wait_for("answered 401")
        delivery = logged(live, hook_id, lambda d: d.event_id == event_id and d.attempts >= 1)
    assert "JWT \u2717" in output
    assert "does not match" in output  # what failed, in the verifier's words
    assert delivery.last_status_code == 401
    # `webhooks list` says it is failing, and why, without opening the log.
    env = {"HOOKCAST_URL": live.url, "HOOKCAST_API_KEY": live.admin_key, "COLUMNS": "200"}
    listed = CliRunner().invoke(app, ["webhooks", "list"], env=env)
    row = listed.stdout[listed.stdout.index(hook_id) :]
    assert "failing since" in row
    assert "HTTP 401: refused: bad signature" in row
    assert "next retry" in row
    _delete(live, hook_id)


def test_rehearsed_failures_reach_the_delivery_log(live: LiveServer) -> None:
    port = free_port()
    hook_id, secret = webhook_to(live, f"http://127.0.0.1:{port}/hooks")
    args = ("--secret", secret, "--fail-rate", "1", "--fail-status", "503", "--delay", "300ms")
    with listening(live, port, *args) as listener:
        event_id = trigger(live, "media_created", "--media-id", "Flaky001")
        listener.wait_for("answered 503")
        delivery = logged(
            live, hook_id, lambda d: d.event_id == event_id and d.last_status_code == 503
        )
    assert delivery.attempt_log[0].latency_ms >= 250  # the delay was honoured
    # What the delivery log shows as its last answer: a failure asked for, not "HTTP 503 ok".
    assert delivery.attempt_log[0].response_body == (
        "answered 503 on purpose (hookcast listen --fail-rate)"
    )
    _delete(live, hook_id)


def test_without_a_secret_it_still_prints_and_says_it_did_not_check(live: LiveServer) -> None:
    port = free_port()
    hook_id, _secret = webhook_to(live, f"http://127.0.0.1:{port}/hooks")
    with listening(live, port, "--status", "204") as listener:
        trigger(live, "track_created")
        output = listener.wait_for("answered 204")
    assert "not checked" in output
    assert "track_id=VHsQNYq9" in output
    _delete(live, hook_id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delay", "90s"], "error: --delay: a delay of at most 60s, please (got 90s)"),
        (["--fail-rate", "1.5"], "error: --fail-rate must be between 0 and 1 (got 1.5)"),
        (["--status", "42"], "error: --status must be an HTTP status between 100 and 599"),
    ],
)
def test_out_of_bounds_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["listen", *args])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["listen", "--port", str(port)])
    assert result.exit_code == 1
    # most often a listener from before, still running: what to do about it
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use (stop what is on "
        "it, or listen on another --port and point the webhook there)"
    )


def test_port_0_says_the_port_it_took(live: LiveServer) -> None:
    with listening(live, 0, "--status", "204") as listener:
        said = re.search(r"Listening on (http://127\.0\.0\.1:(\d+)/) ", listener.output())
        assert said is not None, listener.output()
        assert int(said.group(2)) > 0
        answer = httpx.post(said.group(1), content=b"{}", trust_env=False)
    assert answer.status_code == 204


def _delete(live: LiveServer, hook_id: str) -> None:
    with live.client() as client:
        client.delete_webhook(hook_id)
