"""What changed between two conformance reports (release against release): the clauses and tests that
were fixed, that regressed, that became blocked, and those only one report has. A release gate fails on
a regression; a fix shows up as one."""

from dataclasses import dataclass, field

from .outcomes import BLOCKED, FAILED, PASSED


def _kind(old: str, new: str) -> str | None:
    """How an outcome changed, or None when it did not change in a way that matters."""
    if old == new or {old, new} <= set(PASSED):
        return None
    if new in PASSED and old in (*FAILED, *BLOCKED):
        return "fixed"
    if old in PASSED and new in FAILED:
        return "regressed"
    if new in BLOCKED:
        return "newly blocked"
    if old in BLOCKED and new in FAILED:
        return "unblocked, failing"
    return None  # skipped <-> run, xfailed <-> failed: the same judgement


@dataclass
class ReportDiff:
    old: dict
    new: dict
    clauses: dict[str, list[str]] = field(default_factory=dict)  # kind -> "CRUD-004 [sqlite]: failed -> passed"
    tests: dict[str, list[str]] = field(default_factory=dict)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        return len(self.clauses.get("regressed", [])) + len(self.tests.get("regressed", []))


def compare(old: dict, new: dict) -> ReportDiff:
    result = ReportDiff(old, new)
    for clause_id in sorted(set(old["clauses"]) | set(new["clauses"])):
        before = old["clauses"].get(clause_id, {}).get("results", {})
        after = new["clauses"].get(clause_id, {}).get("results", {})
        for backend in sorted(set(before) & set(after)):
            kind = _kind(before[backend], after[backend])
            if kind:
                result.clauses.setdefault(kind, []).append(
                    f"{clause_id} [{backend}]: {before[backend]} -> {after[backend]}"
                )
    before = {t["test"]: t for t in old.get("tests", [])}
    after = {t["test"]: t for t in new.get("tests", [])}
    for test_id in sorted(set(before) & set(after)):
        kind = _kind(before[test_id]["outcome"], after[test_id]["outcome"])
        if kind:
            line = f"{test_id}: {before[test_id]['outcome']} -> {after[test_id]['outcome']}"
            if after[test_id].get("message") and kind != "fixed":
                line += f" ({after[test_id]['message'][:160]})"
            result.tests.setdefault(kind, []).append(line)
    result.only_old = sorted(set(before) - set(after))
    result.only_new = sorted(set(after) - set(before))
    return result


def render(diff: ReportDiff) -> str:
    def name(report):
        impl = report["implementation"]
        return f"{impl['module']} {impl['version']} ({report['generated']})"

    lines = [f"# {name(diff.old)} -> {name(diff.new)}", ""]
    lines.append(f"Verdict: {diff.old['verdict']} -> {diff.new['verdict']}")
    for label, changes in (("Clauses", diff.clauses), ("Tests", diff.tests)):
        lines.append("")
        counts = ", ".join(f"{len(changes.get(k, []))} {k}" for k in ("fixed", "regressed", "newly blocked"))
        lines.append(f"## {label}: {counts}")
        for kind in ("regressed", "newly blocked", "unblocked, failing", "fixed"):
            if changes.get(kind):
                lines += ["", f"### {kind}", "", *[f"- {line}" for line in changes[kind]]]
    if diff.only_old or diff.only_new:
        lines += ["", f"## Tests in one report only: {len(diff.only_old)} gone, {len(diff.only_new)} new"]
    return "\n".join(lines) + "\n"
