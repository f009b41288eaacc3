"""The pull-request-sized summary and the annotations of a gate, on the published package's committed report
(three backends, over two thousand tests that did not pass): within GitHub's limits, most damaging first."""

import json
from pathlib import Path

from dataflow_conformance.report import annotations, summary

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "reports/dataflow/conformance-report.json"
GITHUB_SUMMARY_LIMIT = 1024 * 1024  # GitHub drops a step summary above 1 MiB
GITHUB_ERRORS_PER_STEP = 10  # and shows at most 10 error annotations per step


def published() -> dict:
    return json.loads(PUBLISHED.read_text(encoding="utf-8"))


def test_the_published_packages_summary_fits_a_pull_request():
    report = published()
    assert {b["name"] for b in report["backends"]} == {"sqlite", "postgresql", "mysql"}
    text = summary.render(report, artifact="conformance-dataflow-sqlite+postgresql+mysql-py3.11")
    size = len(text.encode("utf-8"))
    assert size <= summary.DEFAULT_MAX_BYTES < GITHUB_SUMMARY_LIMIT, f"{size} bytes"
    assert "**Verdict:** failure" in text and "#### Top causes" in text and "#### Clauses not passing" in text
    assert "more clauses in the full report" in text or text.count("\n| ") < 200, "long lists are cut"


def test_a_summary_that_cannot_fit_is_cut_and_says_so():
    report = published()
    text = summary.render(report, max_bytes=8 * 1024)
    assert len(text.encode("utf-8")) <= 8 * 1024 and "in the full report" in text


def test_unexpected_failures_become_at_most_ten_annotations_most_damaging_first():
    report = published()
    failing = [t for t in report["tests"] if t["outcome"] in ("failed", "xfailed", "blocked")]
    report["gate"] = {**report["gate"], "unexpected": [t["test"] for t in failing]}  # as if nothing were listed
    lines = annotations.annotations(report)
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == GITHUB_ERRORS_PER_STEP and lines[-1].startswith("::notice::") and "more problems" in lines[-1]
    first_cause = report["causes"][0]
    assert any(clause in errors[0] for clause in first_cause["rule_clauses"]), "the first annotation is the top cause"
