"""Expected failures of one implementation, kept as reviewable data.

The file maps test ids (relative to the suite) to a one-line reason, one TOML table per backend
(`any` for tests that do not run on a database backend). Entries are strict: a test listed here
that passes fails the run (the file must shrink when the implementation improves), and an entry
naming a test that does not exist is an error (the file cannot rot). The one exception is a
reason that starts with "flaky:", for a failure seen on some runs only; it is not strict.
"""

import datetime as dt
import json
import tomllib
from pathlib import Path

BACKEND_TABLES = ("any", "sqlite", "postgresql", "mysql")


class ExpectationsError(Exception):
    pass


def load(path: Path) -> dict[str, dict[str, str]]:
    """backend -> {test id -> reason}."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExpectationsError(f"expectations file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationsError(f"expectations file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(BACKEND_TABLES) - {"meta"})
    if unknown:
        raise ExpectationsError(
            f"expectations file {path}: unknown table(s) {unknown}; expected {list(BACKEND_TABLES)}"
        )
    tables = {}
    for backend in BACKEND_TABLES:
        entries = data.get(backend, {})
        bad = [key for key, reason in entries.items() if not isinstance(reason, str) or not reason.strip()]
        if bad:
            raise ExpectationsError(f"expectations file {path}: entries without a reason: {bad[:5]}")
        tables[backend] = entries
    return tables


def stale_entries(expected: dict[str, dict[str, str]], collected: set[str], backends_in_run: set[str]) -> list[str]:
    """Entries for backends of this run that name no collected test."""
    return sorted(
        f"[{backend}] {test_id}"
        for backend, entries in expected.items()
        if backend == "any" or backend in backends_in_run
        for test_id in entries
        if test_id not in collected
    )


def from_reports(reports: list[dict], previous: dict[str, dict[str, str]] | None = None) -> str:
    """TOML text from one or more reports (conformance-report.json) of the same implementation: a test
    that failed in every run is a strict entry; one that failed in some runs and passed in others is a
    "flaky:" entry.

    `previous` (a loaded expectations file) keeps its "flaky:" entries for tests the reports still have,
    whatever their outcome this time: passing runs cannot show that a flaky test stopped being flaky."""
    report = reports[0]
    impl = report["implementation"]
    lines = [
        f"# Expected failures of {impl['module']} {impl['version']} ({impl.get('distribution') or 'no distribution'}).",
        f"# Generated from {_runs(reports)} by `dataflow-conformance expectations`.",
        "# Strict: a listed test that passes fails the run; a listed test that no longer exists is an error.",
        "",
        "[meta]",
        f"implementation = {json.dumps(impl['module'])}",
        f"version = {json.dumps(impl['version'])}",
        f"generated = {json.dumps(dt.date.today().isoformat())}",
    ]
    outcomes: dict[tuple[str, str], list[dict]] = {}
    for each in reports:
        for test in each["tests"]:
            outcomes.setdefault((test["backend"], test["suite_id"]), []).append(test)
    by_backend: dict[str, list[tuple[str, str]]] = {name: [] for name in BACKEND_TABLES}
    for (backend, suite_id), runs in outcomes.items():
        if backend not in by_backend:  # a test no backend of the run applied to
            continue
        failures = [run for run in runs if run["outcome"] in ("failed", "error", "xfailed")]
        flaky = (previous or {}).get(backend, {}).get(suite_id, "")
        if flaky.startswith("flaky:"):
            by_backend[backend].append((suite_id, flaky))
        elif failures and len(failures) < len(runs):
            seen = _one_line(failures[0]["message"])
            reason = f"flaky: failed in {len(failures)} of {len(runs)} runs; seen: {seen}"
            by_backend[backend].append((suite_id, _one_line(reason)))
        elif failures:
            by_backend[backend].append((suite_id, _one_line(failures[0]["message"])))
    for backend, entries in by_backend.items():
        if entries:
            lines += ["", f"[{backend}]"]
            lines += [f"{json.dumps(test_id)} = {json.dumps(reason)}" for test_id, reason in sorted(entries)]
    return "\n".join(lines) + "\n"


def _runs(reports: list[dict]) -> str:
    if len(reports) == 1:
        return f"a conformance report of {reports[0]['generated']}"
    return f"{len(reports)} conformance reports ({', '.join(r['generated'] for r in reports)})"


def _one_line(message: str) -> str:
    text = " ".join((message or "failed").split())
    for prefix in ("[XPASS(strict)]", "XFAIL"):
        text = text.removeprefix(prefix).strip()
    return (text[:157] + "...") if len(text) > 160 else text or "failed"
