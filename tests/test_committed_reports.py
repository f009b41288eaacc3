"""Committed reports are never stale: each one records the kit version and the contract's fingerprint that made
it (report/provenance.py), and this test fails when they differ from the kit's, naming the `nox -s ...` session
that regenerates the report.

Twins made by the same run are judged through the report they render (a conformance report's Markdown page and
badges through its JSON; plots through their page). A dated series (`<date>-security.md`) is judged by its newest
report: the older ones are the record of their day."""

import re
from pathlib import Path

import pytest
from dataflow_conformance.report.provenance import staleness

ROOT = Path(__file__).resolve().parent.parent

# committed report (glob) -> the session that regenerates it
REPORTS = {
    "reports/dataflow/conformance-report.json": "nox -s reports",
    "reports/dataflow_reference/conformance-report.json": "nox -s reports",
    "reports/history/*/*.json.gz": "nox -s history (keeps current reports; reruns the stale ones)",
    "reports/history/dashboard.md": "nox -s dashboard",
    "reports/history/index.html": "nox -s dashboard",
    "reports/upstream-docs/*/docs-report.json": "nox -s upstream_docs -- PATH (a kailash-py checkout)",
    "reports/upstream-docs/*/docs-report.md": "nox -s upstream_docs -- PATH (a kailash-py checkout)",
    "reports/upstream-docs/*/docs-report.html": "nox -s upstream_docs -- PATH (a kailash-py checkout)",
    "security/reports/*-security.md": "nox -s security",
    "security/reports/*-security.html": "nox -s security",
    "migration/reports/migration.md": "nox -s migration",
    "loadtests/reports/*-sqlite.md": "nox -s loadtests",
    "loadtests/reports/*-postgresql.md": "nox -s loadtests",
    "loadtests/reports/*-mysql.md": "nox -s loadtests",
    "loadtests/reports/*-sqlite.html": "nox -s loadtests",
    "loadtests/reports/*-postgresql.html": "nox -s loadtests",
    "loadtests/reports/*-mysql.html": "nox -s loadtests",
    "docs/benchmarks/bulk.md": "nox -s bench",
    "docs/benchmarks/overhead.md": "nox -s bench",
    "docs/benchmarks/lifecycle.md": "nox -s lifecycle",
}
# made by the same run as a report above, and judged through it
TWINS = [
    "reports/*/conformance-report.md",
    "reports/*/badges/*.json",
    "reports/history/badges/*.json",
    "reports/history/plots/*.svg",
    "reports/history/releases.json",  # the history run's index: its reports carry the provenance
    "loadtests/reports/*.png",
    "docs/benchmarks/README.md",
]
# where reports are committed: every file there is a report above or a twin
REPORT_DIRS = ["reports", "security/reports", "migration/reports", "loadtests/reports", "docs/benchmarks"]
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}-")


def newest_of_series(paths: list[Path]) -> list[Path]:
    """Of reports named `<date>-<rest>`, the newest of each <rest>; others as they are."""
    newest: dict[tuple, Path] = {}
    for path in sorted(paths):  # dates sort as text
        key = (path.parent, DATED.sub("", path.name)) if DATED.match(path.name) else (path,)
        newest[key] = path
    return sorted(newest.values())


def committed() -> list[tuple[Path, str]]:
    found = []
    for pattern, session in REPORTS.items():
        for path in newest_of_series(sorted(ROOT.glob(pattern))):
            found.append((path, session))
    return found


@pytest.mark.parametrize(
    ("path", "session"), committed(), ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else ""
)
def test_a_committed_report_is_current(path, session):
    why = staleness(path)
    assert not why, f"{path.relative_to(ROOT)} is stale: {why}; regenerate it with `{session}`"


def test_every_file_where_reports_live_is_a_known_report_or_twin():
    known = [*REPORTS, *TWINS]
    unknown = [
        path.relative_to(ROOT).as_posix()
        for folder in REPORT_DIRS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and not any(path.relative_to(ROOT).match(p) for p in known)
    ]
    assert not unknown, f"reports no test knows (add them to REPORTS or TWINS in {Path(__file__).name}): {unknown}"


def test_a_stale_report_is_named_with_its_session(tmp_path):
    """The check itself: a report of another kit version, and a page without provenance, are stale."""
    from dataflow_conformance.report.provenance import current, stamp

    report = tmp_path / "report.json"
    report.write_text(
        '{"kit": {"version": "0.0.1"}, "contract": ' + __import__("json").dumps(current()["contract"]) + "}"
    )
    assert staleness(report) == f"kit 0.0.1 (now {current()['kit']['version']})"
    page = tmp_path / "page.md"
    page.write_text("# a report\n")
    assert staleness(page) == "it records no kit version and no contract fingerprint"
    page.write_text(stamp({"kailash": "2.65.0"}) + "\n\n# a report\n")
    assert staleness(page) == ""
