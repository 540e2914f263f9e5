"""Fixtures every suite may use: a throwaway PostgreSQL, and one database per test on each
backend, so the same test runs against SQLite and PostgreSQL.

    database_url   "sqlite:///<tmp>/hookcast.db" or "postgresql://...", migrated, fresh per test
    store          an open SqlStore on database_url, closed after the test
    secret_key     the Fernet key `store` encrypts webhook secrets with
    postgres_url   (session) database name -> URL on the throwaway server (skips without one)
    background     (session) the programs of modules that define `background_job`, started
                   beside the suite as soon as it is collected (support/background.py)
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from benchmarks.lifeline import die_with_parent
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]  # no type hints

from hookcast.store import SqlStore, migrate, open_store
from support.background import Queue
from support.postgres import PostgresServer, postgres_server, run_sql

# Hypothesis' per-example deadline and its too-slow health check time the machine, not the
# code: `make test` runs two pytest workers, the lowest-versions run (niced) and the
# background programs on two cores, where an example waited 365 ms once (suitetime3) and
# generation was "too slow" under other sessions' load. The properties are checked as
# before, every example; only the clock is left out.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

_TEMPLATE = "hookcast_template"
_numbers = itertools.count(1)
_BACKGROUND = pytest.StashKey[Queue]()


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker ends with its controller: a controller ended by SIGTERM (a
    cancelled CI job, `timeout`) runs no `finally` and tells its workers nothing, and they
    went on, their PostgreSQL, `serve` and nginx with them. Everything the fixtures start
    ends with the process that started it (benchmarks/lifeline.py), so all of it goes."""
    if hasattr(config, "workerinput"):
        die_with_parent(signal.SIGTERM, parent=os.getppid())


# The modules that define `background_job`, by test id path: pytest-xdist's controller
# schedules from test ids alone (it imports no test module), and these must go to one
# worker together, with their one queue of programs (checked on collection below).
_BACKGROUND_MODULES = frozenset(
    {"tests/bench/test_bench_smoke.py", "tests/chaos/test_chaos_short.py"}
)


def _background_modules(items: list[pytest.Item]) -> dict[ModuleType, list[pytest.Item]]:
    waiting: dict[ModuleType, list[pytest.Item]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "background_job"):
            waiting.setdefault(module, []).append(item)
    return waiting


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect have chosen the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Queues the programs of the selected modules that define `background_job(items)`.

    They start now and those modules' tests move to the end, by when their programs are
    done. Under pytest-xdist every worker collects every test (in the same order), but only
    _BACKGROUND_WORKER starts the programs, and the scheduler (_BackgroundLastOnOneWorker)
    gives it those modules' tests after every other test has been sent out."""
    if config.option.collectonly:
        return
    waiting = _background_modules(items)
    if not waiting:
        return
    unlisted = {group[0].nodeid.split("::")[0] for group in waiting.values()} - _BACKGROUND_MODULES
    if unlisted:
        raise pytest.UsageError(
            f"add {sorted(unlisted)} to tests/conftest.py's _BACKGROUND_MODULES"
        )
    moved = {item for group in waiting.values() for item in group}
    items[:] = [item for item in items if item not in moved] + [
        item for item in items if item in moved
    ]
    queue = Queue([module.background_job(group) for module, group in waiting.items()])
    config.stash[_BACKGROUND] = queue
    workerinput = getattr(config, "workerinput", None)  # on a pytest-xdist worker
    if workerinput is None or workerinput["workerid"] == _BACKGROUND_WORKER:
        queue.start()


# The pytest-xdist worker that runs the background programs and their modules' tests.
_BACKGROUND_WORKER = "gw0"


class _BackgroundLastOnOneWorker(LoadScheduling):  # type: ignore[misc]  # an untyped base
    """pytest-xdist's `load` distribution (tests by index, in chunks, to whichever worker is
    free), except that the tests of _BACKGROUND_MODULES, which the workers order last
    (pytest_collection_modifyitems), go to _BACKGROUND_WORKER only, where their programs
    started at collection, and a worker that may not take them is shut down once only they
    are left. An earlier scheduler sent them first to whichever worker asked first: that
    worker then waited on the programs for 5-7 minutes (142 + 167 s under `-n 2`, 226 + 212
    s under `-n 3`, docs/benchmarks/suite-time.md), running nothing else."""

    _first_background: int | None = None  # index of the first test of _BACKGROUND_MODULES

    def schedule(self) -> None:
        if self.collection is None and self.node2collection:
            ids: list[str] = next(iter(self.node2collection.values()))
            ours = [i for i, nodeid in enumerate(ids) if _is_background(nodeid)]
            last = list(range(len(ids) - len(ours), len(ids)))
            assert ours == last, "background tests must end the collection"
            self._first_background = last[0] if last else None
        super().schedule()

    def check_schedule(self, node: object, duration: float = 0) -> None:
        if self.pending and not self._may_send(node, 1) and not node.shutting_down:  # type: ignore[attr-defined]
            node.shutdown()  # type: ignore[attr-defined]  # only the background tests are left
            return
        super().check_schedule(node, duration)

    def _send_tests(self, node: object, num: int) -> None:
        super()._send_tests(node, self._may_send(node, num))

    def _may_send(self, node: object, num: int) -> int:
        """How many of the next `num` pending tests `node` may be sent."""
        first = self._first_background
        if first is None or self._takes_background(node):
            return num
        return next((k for k, index in enumerate(self.pending[:num]) if index >= first), num)

    def _takes_background(self, node: object) -> bool:
        ids = {each.gateway.id for each in self.nodes}
        # If that worker crashed, pytest-xdist starts another under a new name: any may.
        return node.gateway.id == _BACKGROUND_WORKER or _BACKGROUND_WORKER not in ids  # type: ignore[attr-defined]


def _is_background(nodeid: str) -> bool:
    return nodeid.split("::")[0] in _BACKGROUND_MODULES


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(
    config: pytest.Config, log: object
) -> _BackgroundLastOnOneWorker | None:
    if config.getvalue("dist") != "load":
        return None  # loadgroup, loadfile, loadscope, worksteal: as asked
    return _BackgroundLastOnOneWorker(config, log)


_COLLECTED = pytest.StashKey[int]()
_FINISHED = pytest.StashKey[list[str]]()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    config: pytest.Config = node.config  # type: ignore[attr-defined]  # a WorkerController
    config.stash[_COLLECTED] = len(ids)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown" and hasattr(report, "node"):  # on the xdist controller
        # A list, not a set: schemathesis' tests share one id per API operation.
        report.node.config.stash.setdefault(_FINISHED, []).append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, fails the run if a collected test was never reported: runs of
    `-n 2` and `-n 3` reported 37 fewer tests than they collected and passed (the 38 tests
    of test_api_schema.py share one id, and a scheduler built on LoadGroupScheduling, which
    keys its work by test id, sent one of them)."""
    collected = session.config.stash.get(_COLLECTED, None)
    if collected is None:
        return
    finished = len(session.config.stash.get(_FINISHED, []))
    if finished < collected and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_sep("=", f"{collected - finished} collected tests never ran", red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    queue = config.stash.get(_BACKGROUND, None)
    if queue is not None:
        queue.stop()


@pytest.fixture(scope="session")
def background(request: pytest.FixtureRequest) -> Queue:
    """The programs started beside the suite; `result(name)` waits for one."""
    queue = request.config.stash[_BACKGROUND]
    # Started at collection already, except on a pytest-xdist worker that was not to run
    # them (another --dist than `load`, or the replacement of a crashed _BACKGROUND_WORKER).
    queue.start()
    return queue


@pytest.fixture(scope="session")
def _postgres() -> Iterator[PostgresServer | None]:
    with postgres_server(in_memory=True) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(_postgres: PostgresServer | None) -> Callable[[str], str]:
    """Builds a URL for a database on the session's PostgreSQL server."""
    if _postgres is None:
        missing = "PostgreSQL binaries (initdb, postgres) are not installed"
        if os.environ.get("CI"):  # on CI a silent skip would hide half the contract suite
            pytest.fail(missing)
        pytest.skip(missing)
    return _postgres.url


_empty_databases = itertools.count(1)


@pytest.fixture
def empty_postgres_url(postgres_url: Callable[[str], str]) -> Iterator[str]:
    """A database on the session's PostgreSQL server with nothing in it (not migrated: for
    tests of migrations and of the schema they leave), dropped after the test."""
    name = f"hookcast_empty_{next(_empty_databases)}"
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {name}")
    yield postgres_url(name)
    run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def _postgres_template(postgres_url: Callable[[str], str]) -> str:
    """A migrated database that every test's database is copied from (much faster than
    migrating each one)."""
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {_TEMPLATE}")
    migrate(postgres_url(_TEMPLATE))
    return _TEMPLATE


class _FreshDatabases:
    """Copies of the template, one per test, made one test ahead: the next test's copy is
    created, and the last test's dropped, on a background thread while a test runs, instead
    of between tests (each takes ~0.05-0.1 s, more on a loaded machine, for ~180 tests).
    One thread, so creates and drops run in the order they were asked for."""

    def __init__(self, postgres_url: Callable[[str], str], template: str) -> None:
        self._url = postgres_url
        self._template = template
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fresh-postgres")
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        """A database nobody has used, created from the template; returns its name."""
        ready = self._next or self._create()
        self._next = self._create()
        return ready.result()

    def drop(self, name: str) -> None:
        self._drops.append(self._thread.submit(self._sql, f"DROP DATABASE {name} WITH (FORCE)"))

    def close(self) -> None:
        if self._next is not None:
            self.drop(self._next.result())
        self._thread.shutdown(wait=True)
        for dropped in self._drops:
            dropped.result()  # a failed drop fails the session's teardown, as it did inline

    def _create(self) -> Future[str]:
        return self._thread.submit(self._copy, f"hookcast_test_{next(_numbers)}")

    def _copy(self, name: str) -> str:
        self._sql(f"CREATE DATABASE {name} TEMPLATE {self._template}")
        return name

    def _sql(self, statement: str) -> None:
        run_sql(self._url("postgres"), statement)


@pytest.fixture(scope="session")
def _postgres_databases(
    postgres_url: Callable[[str], str], _postgres_template: str
) -> Iterator[_FreshDatabases]:
    databases = _FreshDatabases(postgres_url, _postgres_template)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "hookcast.db"
    migrate(f"sqlite:///{path}")
    return path


def _fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    postgres_url: Callable[[str], str] = request.getfixturevalue("postgres_url")
    databases: _FreshDatabases = request.getfixturevalue("_postgres_databases")
    name = databases.take()
    yield postgres_url(name)
    databases.drop(name)


def _fresh_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "hookcast.db"
    # migrate() closed every connection, so the WAL is checkpointed into the main file.
    shutil.copyfile(template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database (one "Default" account) on each backend."""
    if request.param == "postgres":
        yield from _fresh_postgres(request)
    else:
        yield from _fresh_sqlite(request, tmp_path)


@pytest.fixture
def secret_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
async def store(database_url: str, secret_key: bytes) -> AsyncIterator[SqlStore]:
    opened = await open_store(database_url, secret_key=secret_key)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def postgres_database(
    postgres_url: Callable[[str], str], _postgres_databases: _FreshDatabases
) -> Iterator[str]:
    """A freshly migrated PostgreSQL database of its own, for tests of PostgreSQL alone
    (partitions, plans); they carry `pytest.mark.postgres`."""
    name = _postgres_databases.take()
    yield postgres_url(name)
    _postgres_databases.drop(name)


@pytest.fixture
async def pg_store(postgres_database: str, secret_key: bytes) -> AsyncIterator[SqlStore]:
    opened = await open_store(postgres_database, secret_key=secret_key)
    try:
        yield opened
    finally:
        await opened.close()
