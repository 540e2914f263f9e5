"""README.md's path, then docs/sdk.md's examples, run as a newcomer runs them: in order, on a
fresh database, one shell's variables carried from command to command, `make run` and
`hookcast listen` as the processes left running in their own terminals, and every output
the pages show (serve's start, each `# ->` line, what the listener prints) checked.

What differs from a person's run: the ports (free loopback ones in place of 8000 and 9000
in every command and shown line), `make run` (its last two commands, `hookcast migrate` and
`hookcast serve`, from the venv that runs the tests, which is first on PATH, so
`. .venv/bin/activate` is skipped), and Ctrl+C before a new `hookcast listen` (SIGINT).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from harness import free_port

from support.waiting import wait_until
from support.walkthrough import Block, Step, first_missing, runnable_blocks, unboxed

REPO = Path(__file__).resolve().parents[2]
STEP_SECONDS = 60  # one command, on a loaded 2-core machine
SHOWN_SECONDS = 30  # for a delivery to reach the listener and be printed
# The shell's own variables (and the runner's `status`), which are not the walkthrough's.
_SHELL_VARIABLES = {"_", "SHLVL", "PWD", "OLDPWD", "BASH_EXECUTION_STRING", "status"}
_MAKE_RUN = re.compile(r"^(?P<assignments>(?:\w+=\S+\s+)*)make run\s*(?:#.*)?$")
# A terminal's Ctrl+C stops `hookcast listen`, but a suite started with SIGINT ignored (a
# background job of a non-interactive shell) passes that on to every child, and neither
# bash nor Python can then take it back: each Ctrl+C below waited out STEP_SECONDS and a
# SIGKILL (measured: still running 15 s after SIGINT; 1.4 s to exit with it at its
# default). The listener gets SIGINT at its default, as in the terminal it stands for.
_AS_IN_A_TERMINAL = [
    sys.executable,
    "-I",
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp('bash', ['bash', '-c', sys.argv[1]])",
]


class Walkthrough:
    """One terminal's shell state plus the server and the listener left running."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.page = ""
        self.ports = {"8000": str(free_port()), "9000": str(free_port())}
        venv_bin = str(Path(sys.executable).parent)
        base = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCAST_")}
        self.env = base | {
            "PATH": f"{venv_bin}:{base.get('PATH', '')}",
            "COLUMNS": "80",
            # curl, httpx and the CLI straight to loopback, whatever proxy the machine names
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.listener: subprocess.Popen[bytes] | None = None
        self._listened = 0  # the listener's output lines already matched
        self._runs = 0

    # --- a page's blocks ---------------------------------------------------------------

    def follow(self, page: str, blocks: list[Block]) -> None:
        """Runs the page's blocks in order, checking each shown output as it comes."""
        self.page = page
        for block in blocks:
            if block.kind == "run":
                for step in block.steps:
                    self.run(step)
            elif block.kind == "serve output":
                self.check_serve_output(block)
            elif block.kind == "listen output":
                self.check_listen_output(block)
            else:
                self.run_python(block)

    def run(self, step: Step) -> None:
        command = self.localised(step.command)
        make_run = _MAKE_RUN.match(command)
        if command.strip() == ". .venv/bin/activate":
            return  # the test's venv is first on PATH already
        if make_run is not None:
            assignments = shlex.split(make_run.group("assignments"))
            self.start_server(step, dict(word.split("=", 1) for word in assignments))
        elif command.startswith("hookcast listen"):
            self.start_listener(step, command)
        else:
            self.run_in_shell(step, command)

    # --- processes ------------------------------------------------------------------------

    def start_server(self, step: Step, assignments: Mapping[str, str]) -> None:
        """What `make run` ends with: hookcast migrate, then hookcast serve (left running)."""
        env = self.env | dict(assignments)
        migrated = subprocess.run(
            ["hookcast", "migrate"],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=STEP_SECONDS,
            check=False,
        )
        assert migrated.returncode == 0, self.where(step, migrated.stderr)
        serve = ["hookcast", "serve", "--port", self.ports["8000"]]
        with (self.cwd / "serve.out").open("wb") as out, (self.cwd / "serve.err").open("wb") as err:
            self.server = subprocess.Popen(serve, env=env, cwd=self.cwd, stdout=out, stderr=err)
        url = f"http://127.0.0.1:{self.ports['8000']}/healthz"
        wait_until(
            lambda: self._answers(url),
            timeout=STEP_SECONDS,
            message=lambda: self.where(step, "serve never answered /healthz", self.serve_log()),
        )

    def _answers(self, url: str) -> bool:
        assert self.server is not None
        if self.server.poll() is not None:
            pytest.fail(f"hookcast serve exited with {self.server.returncode}:\n{self.serve_log()}")
        try:
            return httpx.get(url, timeout=2, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    def start_listener(self, step: Step, command: str) -> None:
        """A new `hookcast listen`, after Ctrl+C to the one before, as in terminal 3."""
        self.stop_listener()
        self._listened = 0
        with (self.cwd / "listen.out").open("wb") as out:
            self.listener = subprocess.Popen(
                [*_AS_IN_A_TERMINAL, f"exec {command}"],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: "Listening on" in self.listened() or self.listener_exited(),
            timeout=STEP_SECONDS,
            message=lambda: self.where(step, self.listened()),
        )
        assert not self.listener_exited(), self.where(step, self.listened())

    def listener_exited(self) -> bool:
        return self.listener is not None and self.listener.poll() is not None

    def stop_listener(self) -> None:
        if self.listener is None or self.listener.poll() is not None:
            return
        self.listener.send_signal(signal.SIGINT)
        try:
            self.listener.wait(timeout=STEP_SECONDS)
        except subprocess.TimeoutExpired:
            self.listener.kill()
            self.listener.wait(timeout=5)

    def stop(self) -> None:
        self.stop_listener()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=STEP_SECONDS)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)

    # --- commands and scripts -------------------------------------------------------------

    def run_in_shell(self, step: Step, command: str) -> None:
        """The command in bash with the variables so far (every assignment exported, so
        the next command has it); then the variables it leaves, and its output checked."""
        self._runs += 1
        state = self.cwd / f".env-{self._runs}"
        script = f"set -a -o pipefail\n{command}\nstatus=$?\nenv -0 > {state}\nexit $status\n"
        done = subprocess.run(
            ["bash", "-c", script],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=STEP_SECONDS,
            check=False,
        )
        said = done.stdout + done.stderr
        assert done.returncode == 0, self.where(step, f"exit status {done.returncode}", said)
        self.env = self._variables(state.read_bytes())
        missing = first_missing([self.localised(e) for e in step.expected], said.splitlines())
        assert missing is None, self.where(step, f"never printed: {missing}", said)

    def _variables(self, dumped: bytes) -> dict[str, str]:
        pairs = (entry.split("=", 1) for entry in dumped.decode().split("\0") if "=" in entry)
        return {name: value for name, value in pairs if name not in _SHELL_VARIABLES}

    def run_python(self, block: Block) -> None:
        """The script as written, from this directory, with the shell's variables."""
        self._runs += 1
        script = self.cwd / f"example_{self._runs}.py"
        script.write_text(self.localised(block.text))
        done = subprocess.run(
            [sys.executable, str(script)],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=STEP_SECONDS,
            check=False,
        )
        step = Step(block.text, (), block.line)
        assert done.returncode == 0, self.where(step, done.stdout + done.stderr)
        missing = first_missing(block.expected(), done.stdout.splitlines())
        assert missing is None, self.where(step, f"never printed: {missing}", done.stdout)

    # --- what the running processes printed --------------------------------------------------

    def check_serve_output(self, block: Block) -> None:
        shown = (self.cwd / "serve.out").read_text().splitlines()
        expected = [self.localised(line) for line in block.expected()]
        missing = first_missing(expected, shown)
        assert missing is None, self.where(Step("", (), block.line), missing, "\n".join(shown))
        assert "alembic" not in self.serve_log().lower(), self.serve_log()

    def check_listen_output(self, block: Block) -> None:
        """The block's lines, in order, among what the listener printed since the last
        check: waited for, since a delivery arrives a moment after the command."""
        expected = block.expected()

        def shown() -> bool:
            lines = [unboxed(line) for line in self.listened().splitlines()]
            found = first_missing(expected, lines[self._listened :]) is None
            if found:
                self._listened = _after_last(expected, lines, self._listened)
            return found

        wait_until(
            shown,
            timeout=SHOWN_SECONDS,
            message=lambda: self.where(
                Step("", (), block.line), "listen never printed it", self.listened()
            ),
        )

    def listened(self) -> str:
        path = self.cwd / "listen.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def serve_log(self) -> str:
        return "\n".join(
            (self.cwd / name).read_text()
            for name in ("serve.out", "serve.err")
            if (self.cwd / name).exists()
        )

    # --- helpers -------------------------------------------------------------------------------

    def localised(self, text: str) -> str:
        """The text with this run's ports in place of 8000 (serve) and 9000 (listen)."""
        for documented, port in self.ports.items():
            text = re.sub(rf"(?<=:){documented}\b|(?<=--port ){documented}\b", port, text)
        return text

    def where(self, step: Step, *details: str) -> str:
        shown = "\n".join(detail for detail in details if detail)
        return f"{self.page} line {step.line}: {step.command}\n{shown}"


def _after_last(expected: tuple[str, ...], lines: list[str], start: int) -> int:
    """The index after the line the last expected line matched, so the next check of the
    listener's output begins there."""
    for end in range(start, len(lines) + 1):
        if first_missing(expected, lines[start:end]) is None:
            return end
    return len(lines)


@contextlib.contextmanager
def walkthrough(cwd: Path) -> Iterator[Walkthrough]:
    walk = Walkthrough(cwd)
    try:
        yield walk
    finally:
        walk.stop()


def page_blocks(name: str) -> list[Block]:
    blocks = runnable_blocks((REPO / name).read_text(encoding="utf-8"))
    assert blocks, f"{name} marks no runnable block"
    return blocks


@pytest.mark.timeout(600)
def test_the_readme_then_the_sdk_page_run_as_written_on_a_fresh_database(
    tmp_path: Path,
) -> None:
    readme, sdk = page_blocks("README.md"), page_blocks("docs/sdk.md")
    with walkthrough(tmp_path) as walk:
        walk.follow("README.md", readme)
        walk.follow("docs/sdk.md", sdk)
        assert walk.server is not None
        assert walk.server.poll() is None, walk.serve_log()
        assert not walk.listener_exited(), walk.listened()
    ran = [step.command for block in readme + sdk for step in block.steps]
    ran += [block.text for block in sdk if block.kind == "python"]
    for text in ran:  # nothing reached a real 8000 or 9000 (someone's running HookCast)
        left = re.findall(r":(?:8000|9000)\b|--port (?:8000|9000)\b", walk.localised(text))
        assert left == [], text
    assert "Traceback" not in walk.serve_log(), walk.serve_log()
