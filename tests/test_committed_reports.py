"""Committed reports that cannot go stale: each is made by this kit version and, when it judges clauses, for this
contract (report/provenance.py); a file generated from a report (a badge, a plot, a Markdown twin, a README
section) equals what its report makes now. A failure names the report and the `nox` session that makes it again.

The rule: a report that judges clauses (conformance, history, dashboard, upstream docs) is stale when the kit's
version or the contract's clause set changed; a measurement (load tests, benchmarks, lifecycle, security,
migration) only when the kit's version changed. Of a dated series (load tests, security) the newest report of each
kind is judged; older ones stay as a record. A file under a report folder that no rule below knows fails, so a new
kind of report cannot slip past."""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dataflow_conformance.backends.registry import BACKENDS as REGISTRY
from dataflow_conformance.docsrun import summary
from dataflow_conformance.report import badges, markdown, matrix
from dataflow_conformance.report.provenance import staleness

from history import render as dashboard
from history import store

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ["reports", "docs/benchmarks", "loadtests/reports", "security/reports", "migration/reports"]
IMPLEMENTATIONS = ["dataflow_reference", "dataflow"]  # the README's matrix, in its order (noxfile IMPLEMENTATIONS)
BACKENDS = list(REGISTRY)
DATED = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})-(?P<kind>[a-z]+)")


@dataclass(frozen=True)
class Report:
    path: Path
    session: str  # what makes it again
    judges_clauses: bool


def _conformance() -> list[Report]:
    return [
        Report(ROOT / "reports" / module / f"conformance-report.{ext}", "nox -s reports", True)
        for module in IMPLEMENTATIONS
        for ext in ("json", "md")
    ]


def _history() -> list[Report]:
    root = ROOT / "reports" / "history"
    reports = [Report(p, "nox -s history", True) for p in sorted(root.glob(f"*/*{store.SUFFIX}"))]
    return reports + [Report(root / name, "nox -s dashboard", True) for name in ("index.html", "dashboard.md")]


def _upstream_docs() -> list[Report]:
    session = "nox -s upstream_docs -- PATH (a checkout of terrene-foundation/kailash-py)"
    pages = sorted((ROOT / "reports" / "upstream-docs").glob("*/docs-report.*"))
    return [Report(p, session, True) for p in pages]


def _measurements() -> list[Report]:
    benchmarks = ROOT / "docs" / "benchmarks"
    made_by = {"overhead.md": "nox -s bench", "bulk.md": "nox -s bench", "lifecycle.md": "nox -s lifecycle",
               "profile.md": "nox -s profile"}  # fmt: skip
    reports = [Report(benchmarks / name, session, False) for name, session in made_by.items()]
    reports += [Report(ROOT / "migration" / "reports" / "migration.md", "nox -s migration", False)]
    for folder, session in (("loadtests/reports", "nox -s loadtests"), ("security/reports", "nox -s security")):
        reports += [Report(p, session, False) for p in _newest_of_each_kind(ROOT / folder)]
    return reports


def _newest_of_each_kind(folder: Path) -> list[Path]:
    """`<date>-<kind>.md` and `.html`: the newest date of each kind (a backend, or "security")."""
    newest: dict[str, str] = {}
    for path in folder.glob("*.md"):
        found = DATED.fullmatch(path.stem)
        if found:
            newest[found["kind"]] = max(newest.get(found["kind"], ""), found["date"])
    return [folder / f"{date}-{kind}.{ext}" for kind, date in sorted(newest.items()) for ext in ("md", "html")]


REPORTS = _conformance() + _history() + _upstream_docs() + _measurements()


def _name(report: Report) -> str:
    return report.path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("report", REPORTS, ids=_name)
def test_a_committed_report_is_made_by_this_kit(report):
    assert report.path.exists(), f"{_name(report)} is missing: make it with `{report.session}`"
    why = staleness(report.path, judges_clauses=report.judges_clauses)
    assert not why, f"{_name(report)} is stale ({why}): make it again with `{report.session}` and commit it"


def _conformance_report(module: str) -> dict:
    return json.loads((ROOT / "reports" / module / "conformance-report.json").read_text(encoding="utf-8"))


def _generated() -> dict[Path, tuple[str, str]]:
    """Each file made from a committed report: its path -> (the text its report makes now, the session)."""
    made = {}
    reports = [_conformance_report(module) for module in IMPLEMENTATIONS]
    for module, report in zip(IMPLEMENTATIONS, reports, strict=True):
        folder = ROOT / "reports" / module
        made[folder / "conformance-report.md"] = (markdown.render(report), "nox -s reports")
        for backend in (b["name"] for b in report["backends"]):
            text = json.dumps(badges.badge(report, backend), indent=1) + "\n"
            made[folder / "badges" / f"{module}-{backend}.json"] = (text, "nox -s reports")
    sources = [f"reports/{module}/conformance-report.json" for module in IMPLEMENTATIONS]
    page = "docs/support-matrix.md"
    made[ROOT / page] = (matrix.render_page(reports, sources, page), "nox -s reports")
    for path, text in dashboard.files(ROOT / "reports" / "history").items():
        made[path] = (text, "nox -s dashboard")
    return made


GENERATED = _generated()


@pytest.mark.parametrize("path", list(GENERATED), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_file_made_from_a_report_equals_what_the_report_makes_now(path):
    text, session = GENERATED[path]
    name = path.relative_to(ROOT).as_posix()
    assert path.exists(), f"{name} is missing: make it with `{session}`"
    assert path.read_text(encoding="utf-8") == text, f"{name} differs from what its report makes: run `{session}`"


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def test_the_readme_matrix_is_generated_from_the_committed_reports():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = matrix.render([_conformance_report(module) for module in IMPLEMENTATIONS])
    assert _between(readme, matrix.START, matrix.END) == table, "README's support matrix: run `nox -s reports`"


def test_the_readme_docs_summary_is_generated_from_the_committed_reports():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # in the order `nox -s upstream_docs` gives them: SQLite, then the servers
    paths = sorted(
        (ROOT / "reports" / "upstream-docs").glob("*/docs-report.json"), key=lambda p: BACKENDS.index(p.parent.name)
    )
    text = summary.render(paths, relative_to=ROOT)
    assert _between(readme, summary.START, summary.END) == text, (
        "README's upstream-docs summary: run `nox -s upstream_docs -- PATH`"
    )


def test_every_history_report_has_its_row_and_every_row_its_report():
    root = ROOT / "reports" / "history"
    rows = json.loads((root / "releases.json").read_text(encoding="utf-8"))["releases"]
    listed = {entry["report"] for row in rows.values() for entry in row["backends"].values() if entry.get("ran")}
    on_disk = {p.relative_to(root).as_posix() for p in root.glob(f"*/*{store.SUFFIX}")}
    assert listed == on_disk, "reports/history/releases.json and the reports beside it disagree: run `nox -s history`"


def _known() -> set[Path]:
    known = {r.path for r in REPORTS} | set(GENERATED) | {ROOT / "reports" / "history" / "releases.json"}
    known.add(ROOT / "docs" / "benchmarks" / "README.md")  # the benchmarks' index page, written by hand
    for folder in ("loadtests/reports", "security/reports"):  # a dated series: older reports and plots stay
        known |= {p for p in (ROOT / folder).iterdir() if DATED.match(p.name)}
    return known


def _committed(folders: list[str]) -> set[Path]:
    """The files git tracks under `folders` (a run's leftovers beside them, such as JUnit files, are not reports)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT, capture_output=True, check=True)
    return {ROOT / name for name in listed.stdout.decode("utf-8").split("\0") if name}


def test_no_file_under_a_report_folder_is_unknown():
    known = _known()
    found = _committed(FOLDERS)
    unknown = sorted(p.relative_to(ROOT).as_posix() for p in found - known)
    assert not unknown, (
        f"files under the report folders that no rule of tests/test_committed_reports.py judges: {unknown}; "
        "give each kind of report its rule there (which session makes it, whether it judges clauses)"
    )
