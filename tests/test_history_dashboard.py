"""Self-tests of the history dashboard (history/dashboard.py, history/render.py) on reports cut from a real one
(reports/dataflow/conformance-report.json): a pass that turns into a fail between consecutive releases is a
regression with its test and cause, a clause that left the contract is not, the first passing release and the
areas' counts are right, and the page, its Markdown twin and the badges say so."""

import copy
import json
from pathlib import Path

import pytest

from history import index, store
from history.dashboard import build
from history.render import write

ROOT = Path(__file__).resolve().parent.parent
REAL = json.loads((ROOT / "reports" / "dataflow" / "conformance-report.json").read_text(encoding="utf-8"))
CLAUSES = ("CRUD-001", "CRUD-002", "QUERY-001")


def report(version: str, outcomes: dict[str, str]) -> dict:
    """The real report cut down to `outcomes`' clauses on SQLite, with their results and tests set."""
    data = copy.deepcopy(REAL)
    data["clauses"] = {c: {**REAL["clauses"][c], "results": {"sqlite": o}} for c, o in outcomes.items()}
    tests = []
    for clause, outcome in outcomes.items():
        message = "AssertionError: the record read back differs" if outcome == "failed" else ""
        tests.append({"test": f"test_{clause.lower()}[sqlite-local]", "clauses": [clause], "backend": "sqlite",
                      "path": "local", "outcome": outcome, "message": message})  # fmt: skip
    data["tests"] = tests
    data["backends"] = [{"name": "sqlite", "source": "embedded", "server_version": "3.40.1"}]
    data["history"] = {"release": version}
    return data


@pytest.fixture
def history_root(tmp_path):
    root = tmp_path / "history"
    versions = {
        "2.0.0": {"CRUD-001": "passed", "CRUD-002": "failed", "QUERY-001": "passed"},
        "2.1.0": {"CRUD-001": "failed", "CRUD-002": "passed"},  # QUERY-001 left the contract: no regression
        "2.10.0": {"CRUD-001": "passed", "CRUD-002": "passed", "QUERY-001": "failed"},  # after 2.1.0 by version
    }
    for version, outcomes in versions.items():
        (root / version).mkdir(parents=True)
        store.write(root / version / "sqlite.json.gz", report(version, outcomes), {})
    rows = {v: {"uploaded": "2026-04-01T00:00:00+00:00", "environment": "ready", "reason": "", "kailash": "2.6.0",
                "backends": {"sqlite": {"ran": True, "passed": 1, "failed": 1}}} for v in versions}  # fmt: skip
    rows["0.1.0"] = {"uploaded": "2025-07-17T00:00:00+00:00", "environment": "not importable", "kailash": "0.8.1",
                     "reason": "ModuleNotFoundError: No module named 'psutil'",
                     "kit_conflicts": ["kailash <3,>=2.2 (the release has 0.8.1)"],
                     "backends": {"sqlite": {"ran": False, "reason": "not importable"}}}  # fmt: skip
    index.save(root, {"package": "kailash-dataflow", "releases": rows, "runs": []})
    return root


def test_regressions_are_pass_to_fail_between_consecutive_releases(history_root):
    sqlite = build(history_root).backends[0]
    assert sqlite.versions == ["2.0.0", "2.1.0", "2.10.0"]
    found = [(r.clause, r.before, r.after) for r in sqlite.regressions]
    # QUERY-001 passed in 2.0.0 and is absent from 2.1.0 (removed from the contract): not a regression; its
    # failure in 2.10.0 follows a release without it, so it is no pass -> fail either.
    assert found == [("CRUD-001", "2.0.0", "2.1.0")]
    assert sqlite.regressions[0].tests == (
        ("test_crud-001[sqlite-local]", "AssertionError: the record read back differs"),
    )


def test_first_passing_release_areas_and_badge(history_root):
    sqlite = build(history_root).backends[0]
    assert sqlite.first_pass == {"CRUD-001": "2.0.0", "CRUD-002": "2.1.0", "QUERY-001": "2.0.0"}
    assert sqlite.areas == {"CRUD": [1, 1, 2], "QUERY": [1, 0, 0]}
    assert sqlite.badge["label"] == "kailash-dataflow 2.10.0 on sqlite"
    assert sqlite.badge["message"] == "2/3 clauses"
    assert sqlite.not_run == {"0.1.0": "not importable"}


def test_the_page_the_markdown_and_the_badges_say_the_same(history_root):
    written = write(history_root)
    html = (history_root / "index.html").read_text(encoding="utf-8")
    markdown = (history_root / "dashboard.md").read_text(encoding="utf-8")
    badge = json.loads((history_root / "badges" / "sqlite.json").read_text(encoding="utf-8"))
    assert {p.name for p in written} == {"index.html", "dashboard.md", "sqlite.svg", "sqlite.json"}
    assert "![passed clauses per area over releases on sqlite](plots/sqlite.svg)" in markdown
    assert badge == {"schemaVersion": 1, "label": "kailash-dataflow 2.10.0 on sqlite", "message": "2/3 clauses",
                     "color": "red"}  # fmt: skip
    for text in (html, markdown):
        assert "CRUD-001" in text and "test_crud-001[sqlite-local]" in text
        assert "No module named &#39;psutil&#39;" in text or "No module named 'psutil'" in text
        assert (
            "kailash &lt;3,&gt;=2.2 (the release has 0.8.1)" in text
            or "kailash <3,>=2.2 (the release has 0.8.1)" in text
        )
    assert "| CRUD-001 | 2.0.0 | 2.1.0 |" in markdown
    assert html.count("<polyline") == 2  # one line per area
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere


def test_intermittent_tests_come_from_the_published_packages_expectations():
    from dataflow_conformance.report.expectations import load, locate

    from history.dashboard import intermittent_tests

    found = intermittent_tests()
    tables = load(locate("dataflow")).tables
    assert found and all(tables[backend][test].intermittent for backend, test in found)
