"""Reports turn into expectations files (in place: comments, reasons, conditions and Unicode kept), badges,
a matrix and release diffs."""

import json
import tomllib

import pytest
from dataflow_conformance.report import badges, expectations, matrix, regenerate

REPORT = {
    "generated": "2026-11-22T00:00:00+00:00",
    "implementation": {"module": "impl", "version": "1.0", "distribution": "impl-dist"},
    "backends": [{"name": "sqlite"}, {"name": "mysql"}],
    "verdict": "failure",
    "complete": True,
    "clauses": {
        "CRUD-001": {"results": {"sqlite": "passed", "mysql": "failed"}},
        "CRUD-002": {"results": {"sqlite": "passed", "mysql": "xfailed"}},
    },
    "tests": [
        {
            "suite_id": "test_crud.py::t[mysql-local]",
            "backend": "mysql",
            "outcome": "failed",
            "message": "E  boom\n  twice",
        },
        {"suite_id": "test_crud.py::u[mysql-local]", "backend": "mysql", "outcome": "xfailed", "message": "known"},
        {"suite_id": "test_crud.py::t[sqlite-local]", "backend": "sqlite", "outcome": "passed", "message": ""},
    ],
}


def with_tests(*tests, **more):
    return {**REPORT, **more, "tests": [*REPORT["tests"], *tests]}


def test_expectations_from_report():
    text, change = regenerate.merge(None, [REPORT])
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in text
    assert '"test_crud.py::u[mysql-local]" = "known"' in text
    assert "[sqlite]" not in text
    assert sorted(change.added) == ["[mysql] test_crud.py::t[mysql-local]", "[mysql] test_crud.py::u[mysql-local]"]
    expectations.parse(text, "new")  # a valid file


def test_regenerating_keeps_reasons_comments_and_intermittent_entries():
    existing = """# Known failures of impl, reviewed by hand.

[sqlite]
"test_crud.py::t[sqlite-local]" = { reason = "lock waits", expected = ["fail", "pass"] }

[mysql]
# the driver's message changes between releases; this reason says why
"test_crud.py::t[mysql-local]" = "boom: the upsert forgets the tenant"
"test_crud.py::fixed[mysql-local]" = "was broken"
"test_crud.py::old[mysql-local]" = { reason = "only before 0.9", versions = "<0.9" }
"""
    fixed = {"suite_id": "test_crud.py::fixed[mysql-local]", "backend": "mysql", "outcome": "fixed", "message": ""}
    text, change = regenerate.merge(existing, [with_tests(fixed)])
    assert "# Known failures of impl, reviewed by hand." in text
    assert "# the driver's message changes between releases; this reason says why" in text
    assert '"test_crud.py::t[mysql-local]" = "boom: the upsert forgets the tenant"' in text  # hand-written: kept
    assert 'expected = ["fail", "pass"]' in text, "passed this time, still intermittent"
    assert '"test_crud.py::old[mysql-local]"' in text, "its versions exclude 1.0: not this report's business"
    assert "fixed[" not in text and change.removed == ["[mysql] test_crud.py::fixed[mysql-local] (it passed)"]
    assert change.added == ["[mysql] test_crud.py::u[mysql-local]"]


def test_unicode_stays_readable_and_valid_toml():
    message = "AssertionError: stored 'zoë 😀 日本' as '??'"
    report = {**REPORT, "tests": [{**REPORT["tests"][0], "message": message}]}
    text, _ = regenerate.merge(None, [report])
    assert "zoë 😀 日本" in text and "\\u" not in text
    assert tomllib.loads(text)["mysql"]["test_crud.py::t[mysql-local]"] == message


def test_a_report_of_a_selection_is_refused_unless_asked_for():
    partial = {**REPORT, "complete": False, "clauses_deselected": ["CRUD-003"]}
    existing = '[mysql]\n"test_crud.py::other[mysql-local]" = "not run this time"\n'
    with pytest.raises(expectations.ExpectationsError, match="partial"):
        regenerate.merge(existing, [partial])
    text, change = regenerate.merge(existing, [partial], partial=True)
    assert '"test_crud.py::other[mysql-local]" = "not run this time"' in text and not change.removed


def test_a_report_of_fewer_backends_is_not_partial():
    """A SQLite-only run updates a file made on three backends without --partial: the other tables stay."""
    sqlite_only = {
        **REPORT,
        "backends": [{"name": "sqlite"}],
        "clauses_not_applicable": ["POOL-001"],
        "tests": [
            {"suite_id": "test_crud.py::t[sqlite-local]", "backend": "sqlite", "outcome": "failed", "message": "x"}
        ],
    }
    existing = '[mysql]\n"test_crud.py::t[mysql-local]" = "mysql only"\n'
    text, change = regenerate.merge(existing, [sqlite_only])
    assert '"test_crud.py::t[mysql-local]" = "mysql only"' in text
    assert change.added == ["[sqlite] test_crud.py::t[sqlite-local]"] and not change.removed


def test_a_test_failing_in_some_runs_only_is_intermittent():
    passing = {**REPORT, "tests": [{**t, "outcome": "passed", "message": ""} for t in REPORT["tests"]]}
    text, _ = regenerate.merge(None, [REPORT, passing])
    entry = tomllib.loads(text)["mysql"]["test_crud.py::t[mysql-local]"]
    assert entry == {"reason": "failed in 1 of 2 runs; seen: E boom twice", "expected": ["fail", "pass"]}
    strict = '[mysql]\n"test_crud.py::t[mysql-local]" = "boom"\n'
    text, change = regenerate.merge(strict, [REPORT, passing])
    assert tomllib.loads(text)["mysql"]["test_crud.py::t[mysql-local]"] == {
        "reason": "boom",
        "expected": ["fail", "pass"],
    }
    assert change.marked_intermittent == ["[mysql] test_crud.py::t[mysql-local]"]


def test_remove_fixed_removes_only_fixed_entries():
    existing = '# keep me\n[mysql]\n"test_crud.py::t[mysql-local]" = "boom"\n"test_crud.py::f[mysql-local]" = "was"\n'
    fixed = {"suite_id": "test_crud.py::f[mysql-local]", "backend": "mysql", "outcome": "fixed", "message": ""}
    text, change = regenerate.remove_fixed(existing, [with_tests(fixed)])
    assert text == '# keep me\n[mysql]\n"test_crud.py::t[mysql-local]" = "boom"\n'
    assert change.removed == ["[mysql] test_crud.py::f[mysql-local] (fixed)"]


def test_badges_and_matrix(tmp_path):
    written = badges.write_badges(REPORT, tmp_path)
    data = {p.name: json.loads(p.read_text()) for p in written}
    assert data["impl-sqlite.json"]["message"] == "2/2 clauses" and data["impl-sqlite.json"]["color"] == "brightgreen"
    assert data["impl-mysql.json"]["message"] == "0/2 clauses" and data["impl-mysql.json"]["color"] == "red"
    nothing = {**REPORT, "clauses": {}}
    assert badges.badge(nothing, "sqlite")["message"] == "no clause checked", "0/0 says nothing was checked"
    table = matrix.render([REPORT])
    assert "| `impl` | 1.0 | failure | 2/2 | 0/2 |" in table
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{matrix.START}\nold\n{matrix.END}\nafter\n")
    assert matrix.update(doc, table) and "old" not in doc.read_text() and "after" in doc.read_text()


def test_diff_names_fixes_regressions_and_blocks(tmp_path, capsys):
    from dataflow_conformance.cli import main

    def report(version, outcomes):
        tests = [{"test": t, "outcome": o, "message": f"{o} {t}", "clauses": ["CRUD-001"]} for t, o in outcomes.items()]
        results = {"sqlite": "passed" if all(o in ("passed", "fixed") for o in outcomes.values()) else "failed"}
        return {**REPORT, "implementation": {**REPORT["implementation"], "version": version}, "tests": tests,
                "clauses": {"CRUD-001": {"results": results}}}  # fmt: skip

    old = report(
        "1.0", {"a[sqlite]": "xfailed", "b[sqlite]": "passed", "c[sqlite]": "passed", "gone[sqlite]": "passed"}
    )
    new = report("1.1", {"a[sqlite]": "fixed", "b[sqlite]": "failed", "c[sqlite]": "blocked", "new[sqlite]": "passed"})
    paths = []
    for data in (old, new):
        paths.append(tmp_path / f"{data['implementation']['version']}.json")
        paths[-1].write_text(json.dumps(data))
    assert main(["diff", *map(str, paths)]) == 1, "a regression fails the gate"
    out = capsys.readouterr().out
    assert "impl 1.0" in out and "impl 1.1" in out
    assert "- a[sqlite]: xfailed -> fixed" in out, "a fixed test is a fix"
    assert "- b[sqlite]: passed -> failed" in out
    assert "- c[sqlite]: passed -> blocked" in out and "1 gone, 1 new" in out
    assert main(["diff", str(paths[0]), str(paths[0])]) == 0, "no change, no regression"
