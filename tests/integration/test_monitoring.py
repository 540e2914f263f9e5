"""The ready-made monitoring in deploy/: the Prometheus alerting rules pass `promtool`'s
check and their unit tests, and every metric the rules and the Grafana dashboard query is one
HookCast exports, with the labels they group by."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from delivery_harness import Deployment, require_sqlite
from ops_support import observed_worker
from prometheus_client.parser import text_string_to_metric_families
from receivers import answer, closed_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "hookcast-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests"
DASHBOARD = DEPLOY / "grafana" / "hookcast-dashboard.json"

_METRIC = re.compile(r"\bhookcast_[a-z_]+\b")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
# Labels Prometheus adds to every series it scrapes, and the histogram buckets' own.
_SCRAPE_LABELS = {"instance", "job", "le"}


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found is not None, "promtool is missing: `make prometheus` installs it (Debian)"
    return found


def test_the_rules_pass_promtool_check() -> None:
    checked = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_fire_as_their_unit_tests_say() -> None:
    files = sorted(str(path) for path in RULE_TESTS.glob("*.yml"))
    assert files, "no promtool test files"
    tested = subprocess.run(
        [_promtool(), "test", "rules", *files], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_dashboard_panel_queries_the_chosen_prometheus() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert "datasource" in variables
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.fixture
async def exported(database_url: str) -> dict[str, set[str]]:
    """Every sample name of /metrics with its label names, once a publish was delivered to
    one endpoint and failed at another (so the labelled series exist)."""
    require_sqlite(database_url)  # the figures are the same on PostgreSQL (contract tests)
    async with Deployment.open(database_url) as hookcast:
        ok = await hookcast.hook_for(await hookcast.receiver(answer(200)))
        dead = await hookcast.create_webhook(
            f"http://127.0.0.1:{closed_port()}/hook", retry_policy=[0.1]
        )
        await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
        observed_worker(hookcast)
        await hookcast.wait_for_status(ok["id"], "succeeded", 1)
        await hookcast.wait_for_status(dead["id"], "failed", 1)
        response = await hookcast.api.get("/metrics")
        assert response.status_code == 200
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _dashboard_queries() -> Iterator[tuple[str, str]]:
    dashboard: dict[str, Any] = orjson.loads(DASHBOARD.read_bytes())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"dashboard panel {panel['title']!r}", target["expr"]


def _rule_queries() -> Iterator[tuple[str, str]]:
    # The rules file is YAML; its `expr:` values are on one line or a `|` block below it.
    lines = RULES.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("expr:"):
            block = [line.split("expr:", 1)[1]]
            indent = len(line) - len(line.lstrip())
            for follow in lines[index + 1 :]:
                if len(follow) - len(follow.lstrip()) <= indent:
                    break
                block.append(follow)
            yield f"rule line {index + 1}", " ".join(block)


def test_every_query_names_an_exported_metric_and_its_labels(
    exported: dict[str, set[str]],
) -> None:
    queries = [*_dashboard_queries(), *_rule_queries()]
    assert len(queries) > 20
    for where, expr in queries:
        metrics = _METRIC.findall(expr)
        assert metrics, f"{where} queries no HookCast metric: {expr}"
        missing = [name for name in metrics if name not in exported]
        assert not missing, f"{where} queries {missing}, which /metrics does not export"
        labels = set().union(*(exported[name] for name in metrics)) | _SCRAPE_LABELS
        for grouping in _GROUPING.findall(expr):
            unknown = {label.strip() for label in grouping.split(",")} - labels
            assert not unknown, f"{where} groups by {unknown}, which {metrics} do not have"

    # What docs/operations.md says to alert on, each with a rule.
    rules = " ".join(expr for _where, expr in _rule_queries())
    for metric in (
        "hookcast_oldest_due_delivery_age_seconds",
        "hookcast_webhook_attempts_total",
        "hookcast_worker_heartbeat_age_seconds",
        "hookcast_workers_alive",
        "hookcast_deliveries_held",
        "hookcast_database_writable",
        "hookcast_api_refused_total",
    ):
        assert metric in rules
