"""Collect results per clause and backend; print the summary table; write the JSON report."""

import datetime as dt
import json
import platform
import re
from collections import Counter, defaultdict
from pathlib import Path

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
# The backend of a test that applies only to backends this run does not have (a FAULT test in a
# SQLite-only run): it says nothing about the implementation, so no clause is judged by it.
NOT_APPLICABLE = "n/a"


class ConformanceReport:
    """A pytest plugin object living on the controller process (xdist forwards worker reports)."""

    def __init__(self, implementation, backends, clauses, packages, capabilities=()):
        self.implementation = implementation
        self.capabilities = list(capabilities)
        self.backends = backends
        self.clauses = clauses
        self.packages = packages
        self.tests: dict[str, dict] = {}

    # -- collecting --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties).get("dfc")
        if props is None:
            return
        # Keyed by the suite-relative id: node ids depend on where pytest was started from.
        test_id = props.get("suite_id", report.nodeid)
        entry = self.tests.setdefault(test_id, {"test": test_id, **props, "outcome": None, "message": ""})
        outcome = _outcome(report)
        if outcome is None:
            return
        # A teardown error after a pass still counts; the first failure's message is kept.
        if (
            entry["outcome"] in (None, "passed")
            or outcome in ("failed", "error")
            and entry["outcome"] not in ("failed", "error")
        ):
            entry["outcome"] = outcome
            entry["message"] = _message(report)
        entry["duration"] = round(entry.get("duration", 0) + report.duration, 4)

    # -- results -----------------------------------------------------------------------------

    def clause_results(self) -> dict[str, dict[str, str]]:
        """clause -> backend -> worst outcome of its tests on that backend."""
        results: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for test in self.applicable():
            for clause in test["clauses"]:
                backends = [b.name for b in self.backends] if test["backend"] == "any" else [test["backend"]]
                for backend in backends:
                    results[clause][backend].append(test["outcome"])
        return {clause: {b: _worst(outs) for b, outs in per.items()} for clause, per in results.items()}

    def applicable(self) -> list[dict]:
        return [test for test in self.tests.values() if test["backend"] != NOT_APPLICABLE]

    def verdict(self, results) -> str:
        must_ok, should_ok = True, True
        for clause_id, per_backend in results.items():
            clause = self.clauses[clause_id]
            ok = all(outcome == "passed" for outcome in per_backend.values())
            if clause.level == "MUST":
                must_ok &= ok
            else:
                should_ok &= ok or all(o == "skipped" for o in per_backend.values())
        if not must_ok:
            return "failure"
        return "success" if should_ok else "partial"

    def as_dict(self) -> dict:
        results = self.clause_results()
        ran = set(results)
        return {
            "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "implementation": {
                "module": self.implementation.module_name,
                "distribution": self.implementation.distribution,
                "version": self.implementation.version,
                "capabilities": self.capabilities,
            },
            "backends": [
                {"name": b.name, "source": b.source, "server_version": b.server_version} for b in self.backends
            ],
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "packages": self.packages,
            },
            "verdict": self.verdict(results),
            "complete": ran == set(self.clauses),
            "clauses_not_run": sorted(set(self.clauses) - ran),
            "clauses": {
                clause_id: {
                    "level": self.clauses[clause_id].level,
                    "area": self.clauses[clause_id].area,
                    "text": self.clauses[clause_id].text,
                    "results": results[clause_id],
                }
                for clause_id in sorted(ran)
            },
            "paths": dict(path_summary(self.applicable())),
            "tests": sorted(self.tests.values(), key=lambda t: t["test"]),
        }

    # -- output ------------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if not self.tests:
            return
        data = self.as_dict()
        path = Path(config.option.conformance_report)
        path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
        if config.option.conformance_markdown:
            from .markdown import render

            Path(config.option.conformance_markdown).write_text(render(data), encoding="utf-8")
        write = terminalreporter.write_line
        terminalreporter.section("DataFlow conformance")
        impl = data["implementation"]
        claimed = ", ".join(impl["capabilities"]) or "none"
        write(f"implementation: {impl['module']} {impl['version']} (extended capabilities claimed: {claimed})")
        for b in data["backends"]:
            write(f"backend: {b['name']} ({b['source']}) {b['server_version']}")
        for line in summary_table(self.applicable(), [b.name for b in self.backends]):
            write(line)
        write("access paths: " + ", ".join(f"{path} {counts}" for path, counts in path_summary(self.applicable())))
        counts = Counter(self.clause_outcome(r) for r in data["clauses"].values())
        write(
            f"clauses: {counts['passed']} passed, {counts['failed']} failed, {counts['xfailed']} xfailed, "
            f"{counts['skipped']} skipped, {len(data['clauses_not_run'])} not run"
        )
        elsewhere = [t for t in self.tests.values() if t["backend"] == NOT_APPLICABLE]
        if elsewhere:
            only = sorted({c for t in elsewhere for c in t["clauses"]} - set(data["clauses"]))
            write(
                f"not run here: {len(elsewhere)} tests need a server backend this run does not have"
                + (f" (clauses {', '.join(only)})" if only else "")
            )
        verdict = data["verdict"] + ("" if data["complete"] else " (partial run: not every clause ran)")
        write(f"verdict: {verdict}", bold=True, red=data["verdict"] == "failure", green=data["verdict"] == "success")
        write(f"report: {path}")

    @staticmethod
    def clause_outcome(entry) -> str:
        outcome = _worst(list(entry["results"].values()))
        return "failed" if outcome in ("error", "xpassed") else outcome


def summary_table(tests, backend_names) -> list[str]:
    """Area x backend: passed/failed/skipped/xfailed counts of tests."""
    cells: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for test in tests:
        area = sorted({c.split("-")[0] for c in test["clauses"]}) or ["?"]
        columns = backend_names if test["backend"] == "any" else [test["backend"]]
        for column in columns:
            for a in area:
                cells[a][column][test["outcome"] or "error"] += 1
    header = ["area", *backend_names]
    rows = [header]
    for area in sorted(cells):
        row = [area]
        for backend in backend_names:
            c = cells[area][backend]
            failed = c["failed"] + c["error"] + c["xpassed"]
            row.append(f"{c['passed']}/{failed}/{c['skipped']}/{c['xfailed']}" if c else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("(cells: passed/failed/skipped/xfailed tests)")
    return lines


def path_summary(tests) -> list[tuple[str, str]]:
    """Per access path (local, async, express, express_sync; "-" for tests without one): passed/total."""
    totals: dict[str, Counter] = defaultdict(Counter)
    for test in tests:
        totals[test["path"]][test["outcome"] == "passed"] += 1
    return [(path, f"{c[True]}/{c[True] + c[False]}") for path, c in sorted(totals.items())]


def _outcome(report) -> str | None:
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        if report.passed:
            return "xpassed" if xfail else "passed"
        return "failed"
    if report.failed:
        return "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return None


_QUALIFIED = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*: )")  # "package.module.Error: " -> "Error: "


def _message(report) -> str:
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)  # "Type: message", whatever the --tb style
    if crash is not None and crash.message:
        return _QUALIFIED.sub(r"\1", crash.message.strip().splitlines()[0])[:300]
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    return (lines[0][1:].strip() if lines else text.strip().splitlines()[-1] if text.strip() else "")[:300]


_SEVERITY = ["error", "failed", "xpassed", "xfailed", "skipped", "passed"]


def _worst(outcomes) -> str:
    present = [o or "error" for o in outcomes]
    return min(present, key=_SEVERITY.index) if present else "skipped"
