"""Expected failures of one implementation, kept as reviewable data.

The file maps test ids (relative to the suite) to a one-line reason, one TOML table per backend
(`any` for tests that run once for every backend). Entries are strict: a test listed here that passes
fails the run (the file must shrink when the implementation improves), and an entry naming a test that
does not exist is an error (the file cannot rot). A reason that starts with "flaky:" marks a failure seen
on some runs only; it is not strict. A test blocked by another clause's defect is listed like a failure.

Regenerating a file from reports edits it in place (tomlkit keeps comments, hand-written reasons and
Unicode as they are) and says what it added and removed.
"""

import datetime as dt
import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import tomlkit

from .tag import EVERY_BACKEND

BACKEND_TABLES = (EVERY_BACKEND, "sqlite", "postgresql", "mysql")
FLAKY = "flaky:"
FAILED_OUTCOMES = ("failed", "error", "xfailed", "blocked")
BUNDLED = resources.files("dataflow_conformance") / "expectations"  # expectations files that ship with the kit


class ExpectationsError(Exception):
    pass


@dataclass
class Expectations:
    tables: dict[str, dict[str, str]] = field(default_factory=dict)  # backend -> {test id -> reason}
    source: str = ""

    @classmethod
    def empty(cls) -> "Expectations":
        return cls({name: {} for name in BACKEND_TABLES})

    def reason(self, backend: str, suite_id: str) -> str | None:
        return self.tables.get(backend, {}).get(suite_id)

    def stale(self, collected: set[str], backends_in_run: set[str]) -> list[str]:
        """Entries for backends of this run that name no collected test, each with the closest real id."""
        problems = []
        for backend, entries in self.tables.items():
            if backend != EVERY_BACKEND and backend not in backends_in_run:
                continue
            for test_id in sorted(set(entries) - collected):
                close = difflib.get_close_matches(test_id, collected, n=1, cutoff=0.8)
                problems.append(f"[{backend}] {test_id}" + (f" (did you mean {close[0]}?)" if close else ""))
        return sorted(problems)


def locate(name_or_path: str) -> Path:
    """A path, or the name of an expectations file the kit bundles (`dataflow`)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return path
    bundled = BUNDLED / f"{name_or_path}.toml"
    if bundled.is_file():
        return Path(str(bundled))
    names = sorted(p.name.removesuffix(".toml") for p in BUNDLED.iterdir() if p.name.endswith(".toml"))
    raise ExpectationsError(
        f"--dataflow-expectations {name_or_path}: no such file, and no bundled file of that name ({names})"
    )


def load(path: Path) -> Expectations:
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
        tables[backend] = dict(entries)
    return Expectations(tables, str(path))


# -- regenerating from reports ------------------------------------------------------------------------


@dataclass
class Change:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: int = 0

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {self.kept} kept"


def incomplete(reports: list[dict]) -> list[str]:
    """Why the reports cannot stand for the whole suite (a -k selection, a crashed run)."""
    return [
        f"report of {r['generated']} is partial: clauses not run: {', '.join(r['clauses_not_run'][:8])}"
        + (" ..." if len(r["clauses_not_run"]) > 8 else "")
        for r in reports
        if not r.get("complete", True)
    ]


def observed(reports: list[dict]) -> dict[tuple[str, str], str | None]:
    """(backend, test id) -> the reason it should be listed (None: it passed in every run)."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for report in reports:
        for test in report["tests"]:
            if test["backend"] in BACKEND_TABLES:  # a test no backend of the run applied to is not judged
                runs.setdefault((test["backend"], test["suite_id"]), []).append(test)
    result = {}
    for key, tests in runs.items():
        failures = [t for t in tests if t["outcome"] in FAILED_OUTCOMES]
        if not failures:
            result[key] = None
        elif len(failures) < len(tests):
            result[key] = f"{FLAKY} failed in {len(failures)} of {len(tests)} runs; seen: {_one_line(failures[0])}"
        else:
            result[key] = _one_line(failures[0])
    return result


def merge(text: str | None, reports: list[dict], *, partial: bool = False) -> tuple[str, Change]:
    """The expectations file `text` (None: a new one) brought up to date with the reports.

    A listed test keeps its reason (written by hand or earlier) while it still fails; a flaky entry stays
    while the test exists (passing runs cannot show a flaky test stopped being flaky); a test that passed
    in every run is removed; a newly failing test is added. With `partial`, entries for tests the reports
    did not run are kept; without it, incomplete reports are refused."""
    problems = incomplete(reports)
    if problems and not partial:
        raise ExpectationsError(
            "; ".join(problems) + ": regenerating from it would delete the entries of every test it did not run "
            "(pass --partial to keep them)"
        )
    document = tomlkit.parse(text) if text else _new_document(reports)
    outcomes = observed(reports)
    run_backends = {b["name"] for r in reports for b in r["backends"]} | {EVERY_BACKEND}
    change = Change()
    for backend in BACKEND_TABLES:
        if backend not in run_backends:
            continue  # the reports say nothing about this backend's entries
        table = document.get(backend)
        existing = dict(table) if table is not None else {}
        for test_id, reason in existing.items():
            outcome_known = (backend, test_id) in outcomes
            still_failing = outcome_known and outcomes[(backend, test_id)] is not None
            if still_failing or str(reason).startswith(FLAKY) and outcome_known or not outcome_known and partial:
                change.kept += 1
                continue
            del table[test_id]
            change.removed.append(f"[{backend}] {test_id} ({'it passed' if outcome_known else 'no such test now'})")
        new = sorted((t, r) for (b, t), r in outcomes.items() if b == backend and r is not None and t not in existing)
        if new and table is None:
            table = document[backend] = tomlkit.table()
        for test_id, reason in new:
            table[test_id] = reason
            change.added.append(f"[{backend}] {test_id}")
    _stamp(document, reports)
    return tomlkit.dumps(document), change


def _new_document(reports: list[dict]):
    impl = reports[0]["implementation"]
    document = tomlkit.document()
    document.add(
        tomlkit.comment(f"Expected failures of {impl['module']} ({impl.get('distribution') or 'no distribution'}).")
    )
    document.add(
        tomlkit.comment(
            "Strict: a listed test that passes fails the run; a listed test that does not exist is an error."
        )
    )
    document.add(
        tomlkit.comment(
            "Regenerate with `dataflow-conformance expectations REPORT... --write THIS_FILE`; reasons may be edited."
        )
    )
    document.add(tomlkit.nl())
    return document


def _stamp(document, reports: list[dict]) -> None:
    impl = reports[0]["implementation"]
    meta = document.get("meta")
    if meta is None:
        meta = tomlkit.table()
        document.add("meta", meta)
    meta["implementation"] = impl["module"]
    meta["version"] = impl["version"]
    meta["generated"] = dt.date.today().isoformat()
    meta["from_reports"] = [r["generated"] for r in reports]


def _one_line(test: dict) -> str:
    text = " ".join((test.get("message") or test["outcome"]).split())
    for prefix in ("[XPASS(strict)]", "XFAIL"):
        text = text.removeprefix(prefix).strip()
    if test["outcome"] == "blocked" and test.get("blocked_by"):
        text = f"blocked by {test['blocked_by']}: {text}"
    return (text[:157] + "...") if len(text) > 160 else text or "failed"
