"""HookCast as a user installs it: `python -m build` makes a wheel that, installed into an empty
virtual environment outside the repository, migrates a database, serves the API and the
dashboard (templates, static files), and gives `hookcast.verify` to a receiver.

The wheel is built once, from a copy of the sources (so no build/ directory lands in the
repository), and installed with its declared dependencies only, at the versions of the lock
file: a dependency the code imports but pyproject.toml does not declare fails here. uv makes
the environment and installs from its cache, so a second run takes seconds."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "src" / "hookcast"
LOCK = REPO / "requirements" / "dev.txt"
READY_SECONDS = 45  # a loaded 2-core machine takes seconds just to import the stack


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path  # an empty working directory, outside the repository

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self) -> dict[str, str]:
        """This process's environment less anything that could lead back to the repository
        or change HookCast's settings."""
        kept = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("HOOKCAST_", "PYTHON", "VIRTUAL_ENV"))
        }
        return {**kept, "PYTHONUNBUFFERED": "1"}

    def run(self, args: Sequence[str], timeout: float = 60) -> str:
        done = subprocess.run(
            args,
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stderr[-4000:]}"
        return done.stdout


def _run(args: Sequence[str], timeout: float) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args[:4]} exited {done.returncode}:\n{done.stderr[-4000:]}"


def _copy_sources(target: Path) -> Path:
    """What the build reads (pyproject.toml, README.md, src/), without caches or the
    editable install's metadata."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "src", target / "src", ignore=ignore)
    return target


def _constraints(target: Path) -> Path:
    """The lock's pins without its hashes: constraints for the wheel's own dependencies."""
    pins = [
        line.split(" \\")[0]
        for line in LOCK.read_text(encoding="utf-8").splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    ]
    target.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO), "the environment must be outside the repo"
    source = _copy_sources(root / "source")
    dist = root / "dist"
    # uv makes build's isolated environment: setuptools from its cache, not a pip download.
    python = [sys.executable, "-m"]
    _run([*python, "build", "--wheel", "--installer", "uv", "-o", str(dist), str(source)], 300)
    (wheel,) = dist.glob("hookcast-*.whl")
    venv = root / "venv"
    _run([*python, "uv", "venv", "--quiet", "--python", sys.executable, str(venv)], 120)
    install = [*python, "uv", "pip", "install", "--quiet", "--python", str(venv / "bin/python")]
    _run([*install, "-c", str(_constraints(root / "constraints.txt")), str(wheel)], 300)
    home = root / "home"
    home.mkdir()
    return Installed(wheel, venv, home)


def test_wheel_holds_every_data_file_of_the_package(installed: Installed) -> None:
    """Templates, static files, Alembic's script template, py.typed: every file of the source
    package that is not Python is read at run time, so each must be in the wheel."""
    data_files = {
        "hookcast/" + path.relative_to(SOURCES).as_posix()
        for path in SOURCES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert data_files - names == set()
    assert {"hookcast/dashboard/templates/signin.html", "hookcast/py.typed"} <= names


def test_installed_package_is_the_wheel_and_verify_imports(installed: Installed) -> None:
    code = "import hookcast; hookcast.verify; print(hookcast.__file__)"
    location = Path(installed.run([installed.bin("python"), "-c", code]).strip())
    assert location.is_relative_to(installed.venv)


def test_installed_wheel_migrates_and_serves_api_and_dashboard(installed: Installed) -> None:
    migrated = installed.run([installed.bin("hookcast"), "migrate"])
    assert (installed.home / "hookcast.db").exists(), migrated
    with _serve(installed) as url:
        health = httpx.get(f"{url}/healthz", trust_env=False)
        assert health.status_code == 200
        signin = httpx.get(f"{url}/", trust_env=False)
        assert signin.status_code == 200
        assert 'name="api_key"' in signin.text
        style = httpx.get(f"{url}/static/app.css", trust_env=False)
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")
        assert style.content == (SOURCES / "dashboard" / "static" / "app.css").read_bytes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serve(installed: Installed) -> Iterator[str]:
    """`hookcast serve` on a free loopback port until /healthz answers; SIGTERM after."""
    port = _free_port()
    log = installed.home / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [installed.bin("hookcast"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=installed.home,
            env=installed.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"hookcast serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling the condition itself, bounded by the deadline
    pytest.fail(f"hookcast serve did not answer /healthz in {READY_SECONDS} s:\n{log.read_text()}")
