"""GitHub Actions annotations for what failed a gate: one per cause of the unexpected failures (most
damaging first), one per fixed or stale entry of the expectations file (on its line, when the file is in
the workspace), at most `limit`, then a notice of how many more the report holds. GitHub shows at most 10
error annotations per step, so more would be lost.

The workflow-command syntax is small and documented
(https://docs.github.com/actions/reference/workflow-commands-for-github-actions); it is written here
rather than with a third-party toolkit for one escape rule.
"""

from pathlib import Path

from ..contract.clauses import load as load_clauses
from . import causes
from .gate import remove_fixed_command

DEFAULT_LIMIT = 10


def annotations(
    report: dict, *, limit: int = DEFAULT_LIMIT, expectations_file: Path | None = None, artifact: str | None = None
) -> list[str]:
    gate = report.get("gate") or {}
    tests = {t["test"]: t for t in report["tests"]}
    level = "error"
    problems = _unexpected(report, [tests[t] for t in gate.get("unexpected", []) if t in tests])
    for test in [tests[t] for t in gate.get("fixed", []) if t in tests]:
        problems.append(
            _entry(
                "warning" if gate.get("allow_fixed") else level,
                f"Fixed: {test['test']} passed",
                f"[{test['backend']}] {test['test']} is listed as failing and passed: remove its entry "
                f"({gate.get('remove_fixed') or remove_fixed_command('conformance-report.json', '')})",
                expectations_file,
                test["backend"],
                test["test"],
            )
        )
    for stale in gate.get("stale", []):
        nearest = f"; nearest existing test: {stale['nearest']}" if stale.get("nearest") else ""
        problems.append(
            _entry(
                level,
                "Stale expectation",
                f"[{stale['backend']}] {stale['test']} names no test of this kit{nearest}",
                expectations_file,
                stale["backend"],
                stale["test"],
            )
        )
    lines = problems[:limit]
    if len(problems) > limit:
        where = f" (artifact {artifact})" if artifact else ""
        lines.append(command("notice", f"{len(problems) - limit} more problems in the conformance report{where}"))
    return lines


def _unexpected(report: dict, failed: list[dict]) -> list[str]:
    """One annotation per cause of the unexpected failures, in the report's order of causes."""
    by_cause: dict[tuple, list[dict]] = {}
    for test in failed:
        by_cause.setdefault(causes.key(test["cause"]) if test.get("cause") else ("?", test["test"]), []).append(test)
    rules = {clause.id: clause for clause in load_clauses().values()}  # a blocking clause may not have run
    levels = {c: rule.level for c, rule in rules.items()}
    rank = {key: n for n, key in enumerate(_cause_keys(report))}
    lines = []
    for _, tests in sorted(by_cause.items(), key=lambda item: (rank.get(item[0], len(rank)), -len(item[1]))):
        # The clauses whose rule is broken: a blocked test's blockers, a failed test's own clauses.
        broken = {c for t in tests for c in (t["blocked_by"].split() if t.get("blocked_by") else t["clauses"])}
        clauses = sorted(broken, key=lambda c: (levels.get(c) != "MUST", c))
        first = tests[0]
        stated = "; ".join(f"{c} ({rules[c].level}): {rules[c].text}" for c in clauses[:3] if c in rules)
        message = (
            f"{len(tests)} unexpected failure{'s' if len(tests) > 1 else ''}, e.g. {first['test']}: "
            f"{first['message'][:300]}\n{stated}"
        )
        title = f"{', '.join(clauses[:4])}{' ...' if len(clauses) > 4 else ''} broken ({len(tests)} tests)"
        lines.append(command("error", message, title=title))
    return lines


def _cause_keys(report: dict) -> list[tuple]:
    """The report's causes as grouping keys, most damaging first."""
    keys = []
    for cause in report.get("causes", []):
        example = next((t for t in report["tests"] if t["test"] in cause.get("examples", [])), None)
        if example and example.get("cause"):
            keys.append(causes.key(example["cause"]))
    return keys


def _entry(level, title, message, expectations_file, backend, test_id) -> str:
    line = _line_of(expectations_file, backend, test_id) if expectations_file else None
    if line is None:
        return command(level, message, title=title)
    return command(level, message, title=title, file=str(expectations_file), line=str(line))


def _line_of(path: Path, backend: str, test_id: str) -> int | None:
    """The line of the entry for `test_id` in `[backend]` of an expectations file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    table = None
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            table = stripped.strip("[]").strip()
        elif table == backend and (stripped.startswith(f'"{test_id}"') or stripped.startswith(f"'{test_id}'")):
            return number
    return None


def command(level: str, message: str, **properties: str) -> str:
    """`::error title=...::message` with GitHub's escapes."""
    props = ",".join(f"{name}={_escape(value, property=True)}" for name, value in properties.items())
    return f"::{level}{' ' + props if props else ''}::{_escape(message)}"


def _escape(text: str, *, property: bool = False) -> str:
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text
