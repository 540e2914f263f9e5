"""The lock files agree with pyproject.toml: every declared dependency is pinned within its
range (a dependency added without `make lock` fails here, not as an ImportError on a fresh
machine), and the lowest-versions lock pins each runtime dependency at its stated floor, so
`make test-lowest` tests the floors pyproject.toml claims."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def requirements(*extras: str) -> list[Requirement]:
    """The project's dependencies and those of `extras`, less references to itself."""
    lines = list(PROJECT["dependencies"])
    for extra in extras:
        lines += PROJECT["optional-dependencies"][extra]
    parsed = [Requirement(line) for line in lines]
    return [r for r in parsed if canonicalize_name(r.name) != PROJECT["name"]]


def pins(lock: str) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (REPO / "requirements" / lock).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = Version(match.group(2))
    return found


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("server.txt", ()),
        ("dev.txt", ("test", "dev")),
        ("bench.txt", ("test", "dev", "bench")),
        ("lowest.txt", ("test",)),
    ],
)
def test_every_declared_dependency_is_pinned_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    outside = {}
    for requirement in requirements(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            outside[str(requirement)] = str(version)
    assert outside == {}, f"requirements/{lock} is stale: run `make lock`"


def test_the_server_lock_is_the_dev_lock_without_the_tools() -> None:
    # `make run` installs server.txt and `make setup` dev.txt on top of it into one venv:
    # a version that differed would be reinstalled, and the server tested on another one.
    server, dev = pins("server.txt"), pins("dev.txt")
    assert {name: (version, dev.get(name)) for name, version in server.items()} == {
        name: (version, version) for name, version in server.items()
    }, "requirements/server.txt is stale: run `make lock`"
    tools = {canonicalize_name(r.name) for r in requirements("test", "dev")} - {
        canonicalize_name(r.name) for r in requirements()
    }
    assert tools, "the test and dev extras declare no tools"
    assert sorted(tools & server.keys()) == [], "a test or dev tool is in the server's lock"


def test_the_lowest_lock_pins_each_runtime_dependency_at_its_floor() -> None:
    pinned = pins("lowest.txt")
    floors = {
        r.name: Version(spec.version)
        for r in requirements()
        for spec in r.specifier
        if spec.operator == ">="
    }
    assert floors, "pyproject.toml states no floors"
    above = {
        name: str(pinned[canonicalize_name(name)])
        for name, floor in floors.items()
        if pinned[canonicalize_name(name)] != floor
    }
    assert above == {}, "state the lowest release that exists as the floor, or run `make lock`"
