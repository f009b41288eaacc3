"""Expectations files brought up to date from reports, edited in place: tomlkit keeps comments, order,
hand-written reasons and Unicode as they are, and the change says what was added and removed.

Two modes: `merge` makes the file say what the reports saw (new failures added, tests that passed in
every run removed, a test that failed in some runs only marked intermittent); `remove_fixed` only removes
the entries of tests that passed (the reports' "fixed" outcomes) and adds nothing, for a gate that went
red because the implementation improved.
"""

import datetime as dt
from dataclasses import dataclass, field

import tomlkit

from .expectations import BACKEND_TABLES, FAIL, PASS, ExpectationsError, parse_entry
from .outcomes import NOT_PASSED, PASSED
from .tag import EVERY_BACKEND


@dataclass
class Change:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    marked_intermittent: list[str] = field(default_factory=list)
    kept: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.marked_intermittent)} marked intermittent, {self.kept} kept"
        )


@dataclass(frozen=True)
class Observation:
    failures: list[dict]
    runs: int

    @property
    def passed_every_run(self) -> bool:
        return not self.failures

    @property
    def intermittent(self) -> bool:
        return 0 < len(self.failures) < self.runs


def incomplete(reports: list[dict]) -> list[str]:
    """Why the reports cannot stand for the whole suite on their backends (a -k selection, a crashed run).
    Clauses that did not run because the run lacks their backend do not count."""
    problems = []
    for report in reports:
        deselected = report.get("clauses_deselected", report.get("clauses_not_run", []))
        if deselected:
            problems.append(
                f"report of {report['generated']} is partial: clauses not run: {', '.join(deselected[:8])}"
                + (" ..." if len(deselected) > 8 else "")
            )
        elif report.get("tests_deselected"):
            problems.append(
                f"report of {report['generated']} is partial: {report['tests_deselected']} tests deselected"
            )
    return problems


def observe(reports: list[dict]) -> dict[tuple[str, str], Observation]:
    """(backend, test id) -> what the reports saw of it (tests no backend of the run applied to are left out)."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for report in reports:
        for test in report["tests"]:
            if test["backend"] in BACKEND_TABLES and test["outcome"] in (*NOT_PASSED, *PASSED):
                runs.setdefault((test["backend"], test["suite_id"]), []).append(test)
    return {
        key: Observation([t for t in tests if t["outcome"] in NOT_PASSED], len(tests)) for key, tests in runs.items()
    }


def merge(text: str | None, reports: list[dict], *, partial: bool = False) -> tuple[str, Change]:
    """The expectations file `text` (None: a new one) brought up to date with the reports.

    A listed test keeps its entry (reason, conditions, comments) while it still fails; an intermittent
    entry stays while the test exists (passing runs cannot show it stopped being intermittent); a strict
    entry whose test failed in some runs only becomes intermittent; a test that passed in every run is
    removed; a newly failing test is added. Entries whose `versions` exclude the reports' implementation
    version are left as they are. With `partial`, entries of tests the reports did not run are kept;
    without it, reports of a selection are refused."""
    problems = incomplete(reports)
    if problems and not partial:
        raise ExpectationsError(
            "; ".join(problems) + ": regenerating from it would delete the entries of every test it did not run "
            "(pass --partial to keep them)"
        )
    document = tomlkit.parse(text) if text else _new_document(reports)
    seen = observe(reports)
    version = reports[0]["implementation"]["version"]
    change = Change()
    for backend in _backends_of(reports):
        table = document.get(backend)
        existing = dict(table) if table is not None else {}
        for test_id, value in existing.items():
            entry = parse_entry(value)
            observation = seen.get((backend, test_id))
            if not entry.applies_to(version) or observation is None and partial:
                change.kept += 1
            elif observation is None:
                del table[test_id]
                change.removed.append(f"[{backend}] {test_id} (no such test now)")
            elif observation.passed_every_run and not entry.intermittent:
                del table[test_id]
                change.removed.append(f"[{backend}] {test_id} (it passed)")
            elif observation.intermittent and not entry.intermittent:
                table[test_id] = _inline(entry.reason, expected=[FAIL, PASS], versions=entry.versions)
                change.marked_intermittent.append(f"[{backend}] {test_id}")
            else:
                change.kept += 1
        new = sorted(
            (test_id, observation)
            for (b, test_id), observation in seen.items()
            if b == backend and not observation.passed_every_run and test_id not in existing
        )
        if new and table is None:
            table = document[backend] = tomlkit.table()
        for test_id, observation in new:
            reason = _one_line(observation.failures[0])
            if observation.intermittent:
                table[test_id] = _inline(
                    f"failed in {len(observation.failures)} of {observation.runs} runs; seen: {reason}",
                    expected=[FAIL, PASS],
                )
            else:
                table[test_id] = reason
            change.added.append(f"[{backend}] {test_id}")
    _stamp(document, reports, partial=partial)
    return tomlkit.dumps(document), change


def remove_fixed(text: str, reports: list[dict]) -> tuple[str, Change]:
    """The file without the entries of tests the reports call fixed (listed as failing, and passed)."""
    document = tomlkit.parse(text)
    fixed = {(t["backend"], t["suite_id"]) for r in reports for t in r["tests"] if t["outcome"] == "fixed"}
    change = Change()
    for backend in BACKEND_TABLES:
        table = document.get(backend)
        for test_id in list(table or {}):
            if (backend, test_id) in fixed:
                del table[test_id]
                change.removed.append(f"[{backend}] {test_id} (fixed)")
            else:
                change.kept += 1
    return tomlkit.dumps(document), change


def _backends_of(reports: list[dict]) -> list[str]:
    """The tables the reports can speak for: their backends, and `any`."""
    names = {b["name"] for r in reports for b in r["backends"]} | {EVERY_BACKEND}
    return [name for name in BACKEND_TABLES if name in names]


def _inline(reason: str, *, expected: list[str], versions: str | None = None):
    entry = tomlkit.inline_table()
    entry["reason"] = reason
    entry["expected"] = expected
    if versions:
        entry["versions"] = versions
    return entry


def _new_document(reports: list[dict]):
    impl = reports[0]["implementation"]
    document = tomlkit.document()
    for line in (
        f"Expected failures of {impl['module']} ({impl.get('distribution') or 'no distribution'}).",
        "A listed test that passes is 'fixed' and fails the run until its entry is removed",
        "(`dataflow-conformance expectations REPORT --write THIS_FILE --remove-fixed`).",
        'Entry forms: "reason", or { reason = "...", expected = ["fail", "pass"], versions = "<2.0" }.',
        "Regenerate with `dataflow-conformance expectations REPORT... --write THIS_FILE`; reasons may be edited.",
    ):
        document.add(tomlkit.comment(line))
    document.add(tomlkit.nl())
    return document


def _stamp(document, reports: list[dict], *, partial: bool = False) -> None:
    """[meta]: what the file was made from; a partial update adds its reports to those the file came from."""
    impl = reports[0]["implementation"]
    meta = document.get("meta")
    if meta is None:
        meta = tomlkit.table()
        document.add("meta", meta)
    meta["implementation"] = impl["module"]
    meta["version"] = impl["version"]
    meta["generated"] = dt.date.today().isoformat()
    earlier = list(meta.get("from_reports", [])) if partial else []
    meta["from_reports"] = [*earlier, *(r["generated"] for r in reports if r["generated"] not in earlier)]


def _one_line(test: dict) -> str:
    text = " ".join((test.get("message") or test["outcome"]).split())
    for prefix in ("XFAIL", "expected failure:"):
        text = text.removeprefix(prefix).strip()
    if test["outcome"] == "blocked" and test.get("blocked_by"):
        text = f"blocked by {test['blocked_by']}: {text}"
    return (text[:157] + "...") if len(text) > 160 else text or "failed"
