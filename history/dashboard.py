"""What the history reports say across releases, per backend: the clause x release matrix, the passed clauses of
each area per release, the first release passing each clause, the regressions between consecutive releases, and
the newest release's badge. Pure data, read from reports/history/; `render` turns it into pages."""

from dataclasses import dataclass, field
from pathlib import Path

from dataflow_conformance.report.badges import badge
from packaging.version import Version

from . import index as release_index
from . import store


@dataclass(frozen=True)
class Regression:
    backend: str
    clause: str
    before: str  # the release that passed it
    after: str  # the next release with a report, which fails it
    tests: tuple[tuple[str, str], ...]  # (test id, its failure's cause) of the failing release
    intermittent: tuple[str, ...] = ()  # those of its tests the published package's expectations call intermittent


@dataclass
class BackendHistory:
    name: str
    versions: list[str]  # releases with a report on this backend, oldest first
    clauses: list[str]  # every clause any of those reports judged
    cells: dict[str, dict[str, str]]  # clause -> version -> outcome ("" where the report has none)
    areas: dict[str, list[int]]  # area -> passed clauses per version (as `versions`)
    first_pass: dict[str, str]  # clause -> the oldest release that passed it
    regressions: list[Regression]
    badge: dict
    not_run: dict[str, str] = field(default_factory=dict)  # version -> why it has no report on this backend


@dataclass
class History:
    backends: list[BackendHistory]
    releases: list[dict]  # releases.json's rows, oldest first, each with its version
    runs: list[dict]


def load_reports(root: Path) -> dict[str, dict[str, dict]]:
    """backend -> version -> report, from reports/history/<version>/<backend>.json.gz."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted(root.glob(f"*/*{store.SUFFIX}")):
        report = store.read(path)
        version = report.get("history", {}).get("release") or path.parent.name
        found.setdefault(path.name.removesuffix(store.SUFFIX), {})[version] = report
    return found


def outcome(report: dict, clause: str, backend: str) -> str:
    return report.get("clauses", {}).get(clause, {}).get("results", {}).get(backend, "")


def failing_tests(report: dict, clause: str, backend: str) -> tuple[tuple[str, str], ...]:
    """(test, cause) of each test of `clause` that failed on `backend`: the report's root cause of the failure
    (its error and where it was raised) when it has one, else the failure's message."""
    return tuple(
        (t["test"], cause(t))
        for t in report.get("tests", [])
        if clause in t.get("clauses", ()) and t.get("backend") in (backend, "any") and t.get("outcome") == "failed"
    )


def cause(test: dict) -> str:
    found = test.get("cause") or {}
    if found.get("error"):
        return found["error"][:300] + (f" (at {found['where']})" if found.get("where") else "")
    message = test.get("message") or ""
    return message.splitlines()[0][:300] if message else ""


def intermittent_tests() -> set[tuple[str, str]]:
    """(backend, test id) of the tests the bundled expectations file of the published package lists as failing in
    some runs and passing in others: a regression shown by one of them alone may be chance."""
    from dataflow_conformance.report.expectations import load, locate

    tables = load(locate("dataflow")).tables
    return {
        (backend, test) for backend, entries in tables.items() for test, entry in entries.items() if entry.intermittent
    }


def regressions(backend: str, reports: dict[str, dict], versions: list[str]) -> list[Regression]:
    """Pass -> fail between consecutive releases that have a report. A clause the later report does not judge (removed
    from the contract, or not run) is no regression: only an outcome of `failed` is."""
    known = intermittent_tests()
    found = []
    for before, after in zip(versions, versions[1:], strict=False):
        for clause in sorted(reports[before].get("clauses", {})):
            if (
                outcome(reports[before], clause, backend) == "passed"
                and outcome(reports[after], clause, backend) == "failed"
            ):
                tests = failing_tests(reports[after], clause, backend)
                flaky = tuple(test for test, _ in tests if (backend, test) in known or ("any", test) in known)
                found.append(Regression(backend, clause, before, after, tests, flaky))
    return found


def backend_history(name: str, reports: dict[str, dict], rows: dict[str, dict]) -> BackendHistory:
    versions = sorted(reports, key=Version)
    clauses = sorted({c for r in reports.values() for c in r.get("clauses", {})})
    cells = {c: {v: outcome(reports[v], c, name) for v in versions} for c in clauses}
    areas: dict[str, list[int]] = {}
    for clause in clauses:
        area = clause.rsplit("-", 1)[0]
        areas.setdefault(area, [0] * len(versions))
        for i, v in enumerate(versions):
            areas[area][i] += cells[clause][v] == "passed"
    first = {}
    for clause in clauses:
        passing = [v for v in versions if cells[clause][v] == "passed"]
        if passing:
            first[clause] = passing[0]
    newest = versions[-1] if versions else None
    shield = (
        badge(reports[newest], name) if newest else {"schemaVersion": 1, "message": "no report", "color": "lightgrey"}
    )
    shield["label"] = f"kailash-dataflow {newest} on {name}" if newest else f"kailash-dataflow on {name}"
    not_run = {
        v: entry.get("reason", "")
        for v, row in rows.items()
        for b, entry in row.get("backends", {}).items()
        if b == name and not entry.get("ran") and v not in reports
    }
    return BackendHistory(name, versions, clauses, cells, dict(sorted(areas.items())), first,
                          regressions(name, reports, versions), shield, not_run)  # fmt: skip


def build(root: Path) -> History:
    reports = load_reports(root)
    data = release_index.load(root)
    rows = data["releases"]
    order = ["sqlite", "postgresql", "mysql"]
    names = sorted(
        set(reports) | {b for r in rows.values() for b in r.get("backends", {})},
        key=lambda n: (n not in order, order.index(n) if n in order else 0, n),
    )
    return History(
        [backend_history(n, reports.get(n, {}), rows) for n in names],
        [{"version": v, **rows[v]} for v in sorted(rows, key=Version)],
        data.get("runs", []),
    )
