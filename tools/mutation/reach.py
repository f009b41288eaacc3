"""Which tests reach each line of a target module, so a mutant's pack runs those tests first.

The baseline (the pack on the unmutated copy, once per session) runs under coverage.py through pytest-cov with
a context per test (`--cov-context=test`; contexts are switched for every thread at once, so the reference's
code on Kailash's runtime threads, the home loop and aiosqlite's thread counts for the test that made it run).
From its data, `.mutation/sessions/<module>.reach.json` keeps, per backend, the tests that ran each line (in
their setup, call or teardown) and how long each took.

A mutant's pack (pack.py) then runs, per backend, the tests that reach a changed line first, fastest first,
and then the rest of the mapped suites in their own order (order.py), in one pytest run that stops at the first
failure. The run is the same tests as without the map, only reordered, so a verdict never depends on the map:
a survivor still passes every mapped test, and a stale or missing map only costs time. What the map buys: a
mutant is mostly killed by a test that runs its line, so it falls to one of the first tests instead of
somewhere in the suite.
"""

import difflib
import json
from pathlib import Path

from .targets import Target, session_name

# Lines run by Kailash's worker threads, the home loop's thread, aiosqlite's thread and SQLAlchemy's greenlets.
COVERAGE_RC = "[run]\nconcurrency = thread,greenlet\n"


def map_path(sessions: Path, target: Target) -> Path:
    return sessions / f"{session_name(target.module)}.reach.json"


def data_path(sessions: Path, target: Target, backend: str) -> Path:
    return sessions / f"{session_name(target.module)}-{backend}.coverage"


def record_args(sessions: Path, target: Target, copy: Path, backend: str) -> tuple[list[str], dict[str, str]]:
    """pytest arguments and environment that make the baseline's run on `backend` record who reaches what."""
    rc = sessions / "coverage.rc"
    rc.write_text(COVERAGE_RC, encoding="utf-8")
    args = [f"--cov={copy / 'dataflow_reference'}", "--cov-context=test", "--cov-report=", f"--cov-config={rc}"]
    return args, {"COVERAGE_FILE": str(data_path(sessions, target, backend))}


def save(sessions: Path, target: Target, copy: Path, backend: str, durations: dict[str, float]) -> None:
    """The baseline's coverage data and test times on `backend`, as the module's lines -> tests (into the map)."""
    from coverage import CoverageData

    data = CoverageData(basename=str(data_path(sessions, target, backend)))
    data.read()
    module = str((copy / target.path).resolve())
    measured = next((name for name in data.measured_files() if str(Path(name).resolve()) == module), None)
    lines: dict[str, list[str]] = {}
    for line, contexts in (data.contexts_by_lineno(measured) if measured else {}).items():
        tests = sorted({context.rsplit("|", 1)[0] for context in contexts if context})  # "" is import time
        if tests:
            lines[str(line)] = tests
    found = load(sessions, target)
    found[backend] = {"lines": lines, "durations": durations}
    map_path(sessions, target).write_text(json.dumps(found, indent=0, sort_keys=True) + "\n", encoding="utf-8")


def load(sessions: Path, target: Target) -> dict:
    path = map_path(sessions, target)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def changed_lines(original: Path, mutated: Path) -> set[int]:
    """The original's line numbers that the mutation replaced (Cosmic Ray's operators keep the line count, but a
    change that spans lines is handled too)."""
    before = original.read_text(encoding="utf-8").splitlines()
    after = mutated.read_text(encoding="utf-8").splitlines()
    changed: set[int] = set()
    for tag, start, end, _, _ in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag != "equal":
            changed.update(range(start + 1, max(end, start + 1) + 1))
    return changed


def reaching(found: dict, backend: str, lines: set[int]) -> list[str]:
    """The tests that ran any of `lines` on `backend`, fastest first; none when the map has no such line (a line
    run only at import, or not at all): then the mapped suites run in their own order."""
    entry = found.get(backend, {})
    tests = {test for line in lines for test in entry.get("lines", {}).get(str(line), ())}
    durations = entry.get("durations", {})
    return sorted(tests, key=lambda test: (durations.get(test, float("inf")), test))
