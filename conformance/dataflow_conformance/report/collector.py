"""Collect results per clause and backend on the controller, then write the JSON report (and Markdown)
and the terminal summary."""

import datetime as dt
import json
import os
import platform
import shlex
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from .. import __version__
from ..backends.resolve import redacted
from ..contract.capabilities import CAPABILITIES
from ..contract.clauses import fingerprint
from . import causes
from .areas import blindness
from .gate import Gate, remove_fixed_command
from .tag import ARRANGED_PROPERTY, EVERY_BACKEND, EXPECTED_PROPERTY, FIGURES_PROPERTY, TestTag

# A test's outcome: pytest's, with two of the kit's own. "blocked": its arrange step failed because of
# another clause. "fixed": the expectations file lists it as failing and it passed (pytest's xpassed).
# "xfailed" is a failure the expectations file lists.
OUTCOMES = ("passed", "fixed", "failed", "error", "blocked", "skipped", "xfailed")
# A clause's result on a backend is its tests' worst outcome; a fixed test passed. A known failure
# outranks a block, as a failure does.
_SEVERITY = ["error", "failed", "xfailed", "blocked", "skipped", "passed"]
VERDICTS = ("success", "partial", "failure", "none")


class ConformanceReport:
    """A pytest plugin object living on the controller process (xdist forwards worker reports)."""

    def __init__(self, session, config):
        self.session = session
        self.config = config
        self.tests: dict[str, dict] = {}
        self.other_failures = 0  # failures of tests run beside the pack (not conformance tests)
        # The tag of every test seen, by node id: xdist reports a test whose worker crashed (a segfault in a
        # driver, os._exit) without its user_properties, and that test must still count as the pack's.
        self._tags: dict[str, TestTag] = {}
        self.exit_status: int | None = None  # the run's, set when the session ends (the gate's, or pytest's own)

    # -- collecting --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report):
        tag = TestTag.from_properties(report.user_properties) or self._tags.get(report.nodeid)
        if tag is None:  # a test that is not the pack's: its failure is the run's, whatever the gate says
            self.other_failures += report.failed
            return
        self._tags[report.nodeid] = tag
        entry = self.tests.setdefault(
            tag.suite_id,
            {
                "test": tag.suite_id,
                "suite_id": tag.suite_id,
                "clauses": list(tag.clauses),
                "backend": tag.backend,
                "path": tag.path,
                "applicable": tag.applicable,
                "outcome": None,
                "message": "",
            },
        )
        properties = dict(report.user_properties)
        for name, value in report.user_properties:
            if name == FIGURES_PROPERTY:
                entry["figures"] = {**entry.get("figures", {}), **json.loads(value)}
        if ARRANGED_PROPERTY in properties:  # added at teardown
            entry["arranged_with"] = properties[ARRANGED_PROPERTY].split()
        outcome = _outcome(report)
        if outcome is None:
            return
        # Blocked stays blocked when the expectations file lists the test: a release diff must tell a test
        # that got past its arrange step from one still stuck there.
        if outcome in ("failed", "error", "xfailed") and "blocked_by" in properties:
            outcome = "blocked"
        if EXPECTED_PROPERTY in properties:
            entry["expected"] = json.loads(properties[EXPECTED_PROPERTY])
            if outcome == "xpassed":  # listed as failing, passed: fixed, unless the entry allows a pass
                outcome = "passed" if "pass" in entry["expected"]["outcomes"] else "fixed"
        if "blocked_by" in properties:
            entry["blocked_by"] = properties["blocked_by"]
        if "cause_error" in properties and not entry.get("cause"):
            entry["cause"] = {name: properties.get(f"cause_{name}", "") for name in causes.FIELDS}
        # A teardown error after a pass still counts; the first failure's message is kept.
        worse = outcome in ("failed", "error", "blocked") and entry["outcome"] not in ("failed", "error", "blocked")
        if entry["outcome"] in (None, "passed", "fixed") or worse:
            entry["outcome"] = outcome
            entry["message"] = _message(report)
        entry["duration"] = round(entry.get("duration", 0) + report.duration, 4)

    # -- results -----------------------------------------------------------------------------

    def applicable(self) -> list[dict]:
        return [test for test in self.tests.values() if test["applicable"]]

    def clause_results(self) -> dict[str, dict[str, str]]:
        """clause -> backend -> worst outcome of its tests on that backend."""
        results: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        names = self.session.backend_names
        for test in self.applicable():
            for clause in test["clauses"]:
                for backend in names if test["backend"] == EVERY_BACKEND else [test["backend"]]:
                    results[clause][backend].append(test["outcome"])
        return {clause: {b: worst(outs) for b, outs in per.items()} for clause, per in results.items()}

    def gate(self) -> Gate:
        option = self.config.option
        return Gate.judge(
            list(self.tests.values()),
            stale=self.session.stale_expectations,
            allow_fixed=option.dataflow_allow_fixed,
            expectations=option.dataflow_expectations or "",
            others_failed=self.other_failures,
            report=option.dataflow_report,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        """The gate's exit status (report/gate.py) where pytest's own says the tests ran as they should."""
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = self.gate().status(self.verdict(self.clause_results()))
        self.exit_status = int(session.exitstatus)

    def verdict(self, results) -> str:
        judged = {c: per for c, per in results.items() if any(o != "skipped" for o in per.values())}
        if not judged:
            return "none"  # nothing was checked: never "success"
        must_ok, should_ok = True, True
        for clause_id, per_backend in results.items():
            ok = all(outcome == "passed" for outcome in per_backend.values())
            if self.session.clauses[clause_id].level == "MUST":
                must_ok &= ok
            else:
                should_ok &= ok or all(o == "skipped" for o in per_backend.values())
        if not must_ok:
            return "failure"
        return "success" if should_ok else "partial"

    def as_dict(self, exit_status: int | None = None) -> dict:
        """The report; `exit_status`: the run's, when pytest's own status (interrupted, usage error) overrides
        the gate's judgement."""
        results = self.clause_results()
        verdict = self.verdict(results)
        clauses = self.session.clauses
        not_run = set(clauses) - set(results)
        collected = {clause for test in self.tests.values() for clause in test["clauses"]}
        deselected = not_run - collected
        implementation = self.session.implementation
        claimed = sorted(self.session.capabilities)
        return {
            "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "kit": {"name": "dataflow-conformance", "version": __version__},
            "contract": {"clauses": len(clauses), "fingerprint": fingerprint(clauses)},
            "command": self.command(),
            "implementation": {
                "module": implementation.module_name,
                "distribution": implementation.distribution,
                "version": implementation.version,
                "capabilities": claimed,
            },
            "capabilities": {"claimed": claimed, "not_claimed": [c for c in CAPABILITIES if c not in claimed]},
            "backends": [
                {"name": b.name, "source": b.source, "server_version": b.server_version} for b in self.session.backends
            ],
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                # the machine's load when the report was written (1, 5, 15 minutes): timings read against it
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "packages": package_versions(),
            },
            "verdict": verdict,
            "gate": self.gate().as_dict(verdict, exit_status),
            "complete": not deselected and not self.session.tests_deselected,
            "clauses_not_run": sorted(not_run),
            "clauses_not_applicable": sorted(not_run - deselected),  # they need a backend the run lacks
            "clauses_deselected": sorted(deselected),  # -k, test paths: the run is partial
            "tests_deselected": self.session.tests_deselected,  # -k, -m: partial even when every clause ran
            "clauses": {
                clause_id: {
                    "level": clauses[clause_id].level,
                    "area": clauses[clause_id].area,
                    "text": clauses[clause_id].text,
                    "page": clauses[clause_id].page,
                    "capability": clauses[clause_id].capability,
                    "results": results[clause_id],
                }
                for clause_id in sorted(results)
            },
            "paths": dict(path_summary(self.applicable())),
            "areas": blindness(self.applicable()),
            "causes": causes.group(self.applicable(), {c: clause.level for c, clause in clauses.items()}),
            "tests": sorted(self.tests.values(), key=lambda t: t["test"]),
        }

    def command(self) -> str:
        """The command line that reproduces the run: as invoked, plus where server URLs came from."""
        params = self.config.invocation_params
        prefix = [
            f"{b.features.environment_variable}={redacted(b.server_url)}"
            for b in self.session.backends
            if b.source == "environment"
        ]
        return shlex.join([*prefix, "pytest", *params.args]) if prefix else shlex.join(["pytest", *params.args])

    # -- output ------------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        exit_status = self.exit_status if self.exit_status is not None else int(exitstatus)  # `exitstatus`: pytest's
        data = self.as_dict(exit_status)
        path = Path(config.option.dataflow_report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
        written = [path]
        if config.option.dataflow_markdown:
            from .markdown import render

            markdown = Path(config.option.dataflow_markdown)
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(render(data), encoding="utf-8")
            written.append(markdown)
        write = terminalreporter.write_line
        terminalreporter.section("DataFlow conformance")
        for line in summary_lines(data, self.tests.values()):
            write(line)
        verdict = data["verdict"] + ("" if data["complete"] else " (partial run: not every clause ran)")
        write(f"verdict: {verdict}", bold=True, red=data["verdict"] == "failure", green=data["verdict"] == "success")
        gate = self.gate()
        for line in gate_lines(gate, config.option.dataflow_report):
            write(line)
        write(gate.headline(data["verdict"], exit_status), bold=True, red=exit_status != 0, green=exit_status == 0)
        write("report: " + ", ".join(str(p) for p in written))


def summary_lines(data: dict, tests) -> list[str]:
    impl = data["implementation"]
    claimed = ", ".join(data["capabilities"]["claimed"]) or "none"
    lines = [
        f"implementation: {impl['module']} {impl['version']} (extended capabilities claimed: {claimed})",
        f"kit: dataflow-conformance {data['kit']['version']}; reproduce: {data['command']}",
    ]
    lines += [f"backend: {b['name']} ({b['source']}) {b['server_version']}" for b in data["backends"]]
    applicable = [t for t in tests if t["applicable"]]
    if not applicable:
        lines.append("no conformance test ran: the selection (-k, -m, test paths) left none, so nothing was checked")
        return lines
    lines += summary_table(applicable, [b["name"] for b in data["backends"]])
    lines.append("access paths: " + ", ".join(f"{path} {counts}" for path, counts in data["paths"].items()))
    counts = Counter(clause_outcome(r) for r in data["clauses"].values())
    lines.append(
        f"clauses: {counts['passed']} passed, {counts['failed']} failed, {counts['blocked']} blocked, "
        f"{counts['xfailed']} xfailed, {counts['skipped']} skipped, {len(data['clauses_not_run'])} not run"
    )
    for backend in [b["name"] for b in data["backends"]]:
        for label, outcomes in (("failed", ("failed", "error")), ("blocked", ("blocked",))):
            named = [cid for cid, e in data["clauses"].items() if e["results"].get(backend) in outcomes]
            if named:
                lines.append(f"{label} clauses on {backend}: {', '.join(named)}")
    blind = [f"{area} {e['blocked']}/{e['tests']} (by {', '.join(list(e['blocked_by'])[:3])})"
             for area, e in data["areas"].items() if e["blocked"]]  # fmt: skip
    if blind:
        lines.append("blocked tests per area (their clause not judged): " + "; ".join(blind))
    top = data["causes"][:3]
    if top:
        explained = sum(c["tests"] for c in top)
        lines.append(f"top causes ({explained} tests that did not pass; every cause is in the report):")
        lines += [
            f"  {c['tests']} tests, {len(c['clauses'])} clauses: {c['error'][:120]} (at {c['where']})" for c in top
        ]
    elsewhere = [t for t in tests if not t["applicable"]]
    if elsewhere:
        only = sorted({c for t in elsewhere for c in t["clauses"]} - set(data["clauses"]))
        lines.append(
            f"not run here: {len(elsewhere)} tests need a server backend this run does not have"
            + (f" (clauses {', '.join(only)})" if only else "")
        )
    return lines


def gate_lines(gate: Gate, report_path: str, limit: int = 10) -> list[str]:
    """What made the gate fail, each list cut at `limit` (the report has all of it)."""
    lines = []
    for label, tests in (("unexpected failure", gate.unexpected), ("fixed (remove its entry)", gate.fixed)):
        for test in tests[:limit]:
            lines.append(f"{label}: {test['test']} [{', '.join(test['clauses'])}] {test['message'][:120]}")
        if len(tests) > limit:
            lines.append(f"... {len(tests) - limit} more {label}s in the report")
    for stale in gate.stale[:limit]:
        nearest = f" (nearest existing test: {stale['nearest']})" if stale["nearest"] else ""
        lines.append(f"stale expectation: [{stale['backend']}] {stale['test']} names no test{nearest}")
    if gate.fixed:
        lines.append(f"remove the fixed entries: {remove_fixed_command(report_path, gate.expectations)}")
    return lines


def clause_outcome(entry) -> str:
    outcome = worst(list(entry["results"].values()))
    return "failed" if outcome == "error" else outcome


def summary_table(tests, backend_names) -> list[str]:
    """Area x backend: passed/failed/blocked/skipped/xfailed counts of tests."""
    cells: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for test in tests:
        areas = sorted({c.split("-")[0] for c in test["clauses"]}) or ["?"]
        for column in backend_names if test["backend"] == EVERY_BACKEND else [test["backend"]]:
            for area in areas:
                cells[area][column][test["outcome"] or "error"] += 1
    header = ["area", *backend_names]
    rows = [header]
    for area in sorted(cells):
        row = [area]
        for backend in backend_names:
            c = cells[area][backend]
            failed = c["failed"] + c["error"]
            passed = c["passed"] + c["fixed"]
            row.append(f"{passed}/{failed}/{c['blocked']}/{c['skipped']}/{c['xfailed']}" if c else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("(cells: passed/failed/blocked/skipped/xfailed tests)")
    return lines


def path_summary(tests) -> list[tuple[str, str]]:
    """Per access path (local, async, express, express_sync; "-" for tests without one): passed/total."""
    totals: dict[str, Counter] = defaultdict(Counter)
    for test in tests:
        totals[test["path"] or "-"][test["outcome"] in ("passed", "fixed")] += 1
    return [(path, f"{c[True]}/{c[True] + c[False]}") for path, c in sorted(totals.items())]


def package_versions() -> dict[str, str]:
    """Versions of the packages a report should record."""
    import importlib.metadata

    names = ("kailash", "kailash-dataflow", "sqlalchemy", "asyncpg", "aiomysql", "aiosqlite", "psycopg", "pymysql",
             "pytest", "pytest-xdist", "hypothesis")  # fmt: skip
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


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


def _message(report) -> str:
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)  # "Type: message", whatever the --tb style
    if crash is not None and crash.message:
        return _unqualified(crash.message.strip().splitlines()[0])[:300]
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    return (lines[0][1:].strip() if lines else text.strip().splitlines()[-1] if text.strip() else "")[:300]


def _unqualified(message: str) -> str:
    """ "package.module.Error: text" -> "Error: text"."""
    head, sep, rest = message.partition(": ")
    if sep and "." in head and " " not in head and head.replace(".", "").replace("_", "").isalnum():
        return f"{head.rsplit('.', 1)[1]}: {rest}"
    return message


def worst(outcomes) -> str:
    present = ["passed" if o == "fixed" else o or "error" for o in outcomes]
    return min(present, key=_SEVERITY.index) if present else "skipped"
