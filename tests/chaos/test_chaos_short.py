"""`make test`'s slice of `make chaos`: every chaos scenario once, with small counts.

Each run publishes known events while its fault strikes (kill -9, PostgreSQL stopped,
SQLite locked, a full disk, hostile receivers, rolling SIGTERMs) and fails if any accepted
event did not reach every webhook it matches, or if publishing ever answered a 500, a
traceback, or a 503 without the API's error format and Retry-After. docs/reliability.md
says what each one proves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos.postgres import Postgres, postgres
from chaos.runner import run_scenario
from chaos.scenarios import SCENARIOS, SHORT, Scenario


@pytest.fixture(scope="module")
def chaos_postgres() -> Iterator[Postgres | None]:
    """A server of the module's own, driven with pg_ctl (one scenario stops and starts it)."""
    with postgres() as server:
        yield server


@pytest.mark.timeout(150)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_nothing_accepted_is_lost(
    scenario: Scenario, chaos_postgres: Postgres | None
) -> None:
    result = await run_scenario(scenario, profile=SHORT, seed=7, repeat=0, pg=chaos_postgres)

    if result["status"] == "skipped":
        pytest.skip(result["reason"])
    assert result["status"] == "pass", result
    assert result["accepted"] > 0, "nothing was accepted: the run proved nothing"
    assert result["missing_pairs"] == 0
    assert result["delivered_pairs"] == result["expected_pairs"]
