# HookCast: `make run` installs and starts the service on SQLite; `make test` installs and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint typecheck unit clean bench bench-smoke bench-deps browser chaos

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/hookcast migrate
	$(BIN)/hookcast serve

lint: setup
	$(BIN)/ruff check src tests chaos benchmarks
	$(BIN)/ruff format --check src tests chaos benchmarks
	$(BIN)/lint-imports

# pyproject.toml's files in one run, then each sub-folder's conftest.py in its own (they
# share the module name `conftest`, which one mypy run cannot hold twice).
typecheck: setup
	$(BIN)/mypy
	for conftest in tests/*/conftest.py; do $(BIN)/mypy "$$conftest" || exit 1; done

# The browser tests drive Debian's Chromium through Playwright (which never downloads a
# browser of its own); install it when missing (root on CI).
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

test: setup browser lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Benchmarks (docs/benchmarks.md). `make bench` installs nginx, wrk and redis-server from
# Debian when missing (needs root) and the `bench` extra, then runs the full suite (~20 min);
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--deliveries 100000 --runs 5".
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || NEED=1; \
	command -v wrk >/dev/null 2>&1 || NEED=1; \
	command -v redis-server >/dev/null 2>&1 || NEED=1; \
	if [ -n "$$NEED" ]; then \
		apt-get install -y nginx wrk redis-server || \
		(apt-get update && apt-get install -y nginx wrk redis-server); \
	fi

bench: setup bench-deps $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The smoke run CI keeps working: tiny counts, < 1 minute, needs nothing beyond `make setup`
# (Celery, nginx and wrk parts are skipped where those are absent).
bench-smoke: setup
	$(BIN)/python -m benchmarks --smoke


# Chaos (docs/reliability.md): kill -9, PostgreSQL restarts, SQLite locks, a full disk,
# hostile receivers and rolling restarts under load, each repeated; fails if any accepted
# event is lost. ~25 min; CHAOS_ARGS passes options, e.g. CHAOS_ARGS="--repeat 5 --seed 3".
# `make test` runs the short version (tests/chaos/test_chaos_short.py).
chaos: setup
	$(BIN)/python -m chaos $(CHAOS_ARGS)
