"""The pack's collection steps, one function each: parametrize backends and access paths, check the
clause markers and the expectations file, tag each test, gate extended clauses on capabilities, and apply
known failures."""

import json
from pathlib import Path

import pytest

from ..access.protocol import ALL_PATHS
from ..contract.clauses import page_anchor
from ..exceptions import Blocked
from ..report.causes import cause_of
from ..report.tag import EVERY_BACKEND, EXPECTED_PROPERTY, TestTag

SUITE_DIR = Path(__file__).parent.parent / "suite"
# The kit's code that checks: a failure raised there is the test's own finding (report/causes.py).
CHECKING_PACKAGES = {"dataflow_conformance.suite", "dataflow_conformance.testing"}
PAGES_DIR = Path(__file__).parent.parent / "contract" / "pages"


def suite_id(item) -> str:
    """The test's id relative to the suite: how expectations files and reports name it."""
    path = Path(str(item.path))
    relative = path.relative_to(SUITE_DIR).as_posix() if path.is_relative_to(SUITE_DIR) else path.name
    return f"{relative}::{item.name}"


def parametrize_backends(metafunc, backends) -> None:
    """One test per backend of the run (or of those the `backends` marker names)."""
    only = metafunc.definition.get_closest_marker("backends")
    found = backends if only is None else [b for b in backends if b.name in only.args]
    if found:
        metafunc.parametrize("backend", found, ids=[b.name for b in found], scope="session", indirect=True)
        return
    reason = f"applies to {' and '.join(only.args)} only, and this run has none of them"
    metafunc.parametrize(
        "backend", [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-backend")], indirect=True
    )


def parametrize_paths(metafunc) -> None:
    """One test per access path it applies to (the `paths` marker; default: all four)."""
    only = metafunc.definition.get_closest_marker("paths")
    names = ALL_PATHS if only is None else only.args
    unknown = sorted(set(names) - set(ALL_PATHS))
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown access path(s) {unknown}; known: {ALL_PATHS}")
    metafunc.parametrize("flow", names, indirect=True)


def clause_ids(item) -> tuple[str, ...]:
    return tuple(clause for mark in item.iter_markers("clause") for clause in mark.args)


def check_clause_markers(items, known) -> None:
    for item in items:
        ids = clause_ids(item)
        if not ids:
            raise pytest.UsageError(f"conformance test {item.nodeid} names no clause (@pytest.mark.clause)")
        unknown = [c for c in ids if c not in known]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid} names unknown clause(s) {unknown}; define them in docs/contract/")


def narrowed(config) -> bool:
    """Whether collection saw only part of a module (test ids as arguments, --lf, --sw): an entry of a test it
    did not see may still name a real one, so no entry is judged stale."""
    option = config.option
    by_id = any("::" in str(arg) for arg in config.args)
    return by_id or bool(getattr(option, "lf", False) or getattr(option, "stepwise", False))


def stale_expectations(collected: set[str], session) -> list[dict]:
    """The expectations file's entries that name no collected test (before -k deselects any), each with the
    nearest existing test."""
    stale = session.expectations.stale(collected, set(session.backend_names))
    return [{"backend": s.backend, "test": s.test_id, "nearest": s.nearest} for s in stale]


def tag(item) -> TestTag:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    backend = params.get("backend")
    return TestTag(
        suite_id=suite_id(item),
        clauses=clause_ids(item),
        backend=backend.name if backend is not None else EVERY_BACKEND,
        path=params.get("flow"),
        applicable=not ("backend" in params and backend is None),
    )


def gate_capability(item, tag: TestTag, session) -> None:
    """A SHOULD clause whose capability the implementation does not claim is skipped, with that reason."""
    missing = sorted({session.clauses[c].capability for c in tag.clauses if session.clauses[c].capability})
    missing = [name for name in missing if name not in session.capabilities]
    if missing:
        impl = session.implementation.module_name
        item.add_marker(
            pytest.mark.skip(reason=f"extended profile: {impl} does not claim capability {', '.join(missing)}")
        )


def apply_expectation(item, tag: TestTag, session) -> None:
    """A listed test runs as an expected failure. Not strict for pytest: a pass is judged by the kit (an
    outcome of its own, "fixed", and the gate's exit status; see report/gate.py)."""
    entry = session.expectations.entry(tag.backend, tag.suite_id, session.implementation.version)
    if entry is not None:
        item.add_marker(pytest.mark.xfail(reason=f"expected failure: {entry.reason}", strict=False))
        expected = {"reason": entry.reason, "outcomes": list(entry.expected)}
        item.user_properties.append((EXPECTED_PROPERTY, json.dumps(expected, ensure_ascii=False)))


def clause_section(item, session, exc: BaseException) -> str:
    """What a failing test's clauses promise, and where the contract says so (first, for a blocked test,
    the clauses that block it)."""
    lines = []
    if isinstance(exc, Blocked) and not set(exc.clauses) & set(clause_ids(item)):
        lines += [
            f"BLOCKED: the test's arrange step relies on {', '.join(exc.clauses)}, which failed here; "
            "the clauses below are not judged by this test",
            "",
        ]
    for clause_id in clause_ids(item):
        clause = session.clauses.get(clause_id)
        if clause is None:
            continue
        page = PAGES_DIR / clause.page
        lines += [
            f"{clause.id} ({clause.level}, {clause.area}): {clause.text}",
            f"  contract: {page.resolve()}#{page_anchor(clause)}",
        ]
    return "\n".join(lines)


def failure_properties(item, exc: BaseException, session) -> list[tuple[str, str]]:
    """What the report and JUnit XML need to know of a failure: its cause, the rule of each clause it
    breaks (`CRUD-004 (MUST): ...`), and the clauses that block it (a test is not blocked by its own
    clause: that is a failure)."""
    cause = cause_of(exc, session.implementation.packages, CHECKING_PACKAGES)
    properties = [(f"cause_{name}", value) for name, value in cause.items()]
    blocking = exc.clauses if isinstance(exc, Blocked) and not set(exc.clauses) & set(clause_ids(item)) else ()
    for clause_id in blocking or clause_ids(item):
        clause = session.clauses[clause_id]
        properties.append(("rule", f"{clause.id} ({clause.level}): {clause.text}"))
    if blocking:
        properties.append(("blocked_by", " ".join(blocking)))
    return properties


def plain_failure_report(item, call, exc) -> pytest.TestReport:
    """pytest can fail to render the traceback of an implementation's failure (CPython 3.11: an AST
    recursion-depth SystemError after the code under test exhausted the stack; a frame whose tb_lineno
    is None): report the failure plainly instead of crashing the run."""
    text = f"{call.excinfo.typename}: {str(call.excinfo.value)[:2000]}"
    report = pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        f"{text}\n(pytest could not render the traceback: {exc})",
        call.when,
        duration=call.duration,
        start=call.start,
        stop=call.stop,
        user_properties=item.user_properties,
    )
    expected = item.get_closest_marker("xfail")
    if expected is not None and call.when == "call":  # what pytest's own xfail handling would have done
        report.outcome, report.wasxfail = "skipped", expected.kwargs.get("reason", "")
    return report
