"""docs/support-matrix.md is generated from conformance reports, and is in step with the committed ones."""

import json
from pathlib import Path

import pytest
from dataflow_conformance.cli import main
from dataflow_conformance.report import matrix

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ["reports/dataflow_reference/conformance-report.json", "reports/dataflow/conformance-report.json"]


def report(module, verdict, results):
    """A conformance report holding only what the matrix reads: clause id -> {backend: outcome}."""
    return {
        "generated": "2026-01-01T00:00:00+00:00",
        "implementation": {"module": module, "version": "1.0"},
        "backends": [{"name": "sqlite", "server_version": "3.40.1"}, {"name": "mysql", "server_version": "10.11"}],
        "environment": {"python": "3.11.7"},
        "verdict": verdict,
        "clauses": {cid: {"area": cid.split("-")[0], "results": per} for cid, per in results.items()},
    }


GOOD = report(
    "good",
    "success",
    {
        "CRUD-001": {"sqlite": "passed", "mysql": "passed"},
        "CRUD-002": {"sqlite": "passed", "mysql": "passed"},
        "TXN-001": {"sqlite": "passed"},
    },
)
BAD = report(
    "bad",
    "failure",
    {
        "CRUD-001": {"sqlite": "failed", "mysql": "passed"},
        "TXN-001": {"sqlite": "xfailed", "mysql": "passed"},
        "TXN-010": {"sqlite": "skipped", "mysql": "skipped"},
    },
)


def test_the_page_has_a_row_per_implementation_and_backend_and_a_column_per_area():
    page = matrix.render_page([GOOD, BAD], ["good.json", "bad.json"], "matrix.md")
    assert "| implementation | backend | CRUD | TXN |" in page
    assert "| `good` 1.0 | sqlite | 2/2 | 1/1 |" in page
    assert "| `good` 1.0 | mysql | 2/2 | - |" in page
    assert "| `bad` 1.0 | sqlite | 0/1 | 0/1 (1 skipped) |" in page
    assert "| `bad` 1.0 | mysql | 1/1 | 1/1 (1 skipped) |" in page
    assert "dataflow-conformance matrix good.json bad.json --page matrix.md" in page
    assert "- `bad.json`: `bad` 1.0, verdict **failure**" in page


def test_the_command_writes_the_page(tmp_path):
    paths = []
    for data in (GOOD, BAD):
        paths.append(tmp_path / f"{data['implementation']['module']}.json")
        paths[-1].write_text(json.dumps(data))
    assert main(["matrix", *map(str, paths), "--page", str(tmp_path / "page.md")]) == 0
    assert "| `bad` 1.0 | sqlite | 0/1 | 0/1 (1 skipped) |" in (tmp_path / "page.md").read_text()


def test_a_missing_report_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["matrix", str(tmp_path / "nope.json"), "--page", str(tmp_path / "page.md")])
    assert exit_info.value.code == 2 and "no such report" in capsys.readouterr().err


def test_the_committed_page_is_generated_from_the_committed_reports():
    reports = [json.loads((ROOT / path).read_text(encoding="utf-8")) for path in REPORTS]
    expected = matrix.render_page(reports, REPORTS, "docs/support-matrix.md")
    assert (ROOT / "docs" / "support-matrix.md").read_text(encoding="utf-8") == expected, (
        "run `dataflow-conformance matrix " + " ".join(REPORTS) + " --page docs/support-matrix.md`"
    )
