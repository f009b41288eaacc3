"""Expectations files are strict and cannot rot; reports turn into expectations, badges and a matrix."""

import json
import tomllib

import pytest
from dataflow_conformance.report import badges, expectations, matrix

HEALTH = "test_conf.py::test_health_check_reports_healthy[sqlite]"


def write(pytester, body):
    path = pytester.path / "expected.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_expected_failure_keeps_the_run_green(pytester, run_pack, broken_impl):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "health_check reports unhealthy"\n')
    result = run_pack("--dataflow-impl=brokenflow", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    # brokenflow's health check is blocked (it cannot declare a model); listed, it stays blocked in the report
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "blocked"}
    assert report["verdict"] == "failure", "a known failure is still a failure of the clause"


def test_unexpected_pass_fails_the_run(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "pretend it fails"\n')
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*XPASS(strict)*"])


def test_flaky_entry_is_not_strict(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "flaky: fails on some runs"\n')
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    "body, message",
    [
        ('[sqlite]\n"test_conf.py::test_gone[sqlite-local]" = "old"\n', "do not exist"),
        ('[oracle]\n"x" = "y"\n', "unknown table"),
        (f'[sqlite]\n"{HEALTH}" = ""\n', "without a reason"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_expectations_are_errors(pytester, run_pack, body, message):
    path = write(pytester, body)
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_stale_entries_only_for_backends_in_the_run():
    expected = expectations.Expectations({"any": {}, "sqlite": {"a": "r"}, "postgresql": {"b": "r"}, "mysql": {}})
    assert expected.stale({"a"}, {"sqlite"}) == []
    assert expected.stale(set(), {"sqlite", "postgresql"}) == ["[postgresql] b", "[sqlite] a"]


def test_a_typo_in_a_test_id_gets_a_suggestion(pytester, run_pack):
    typo = HEALTH.replace("reports", "report")
    path = write(pytester, f'[sqlite]\n"{typo}" = "health_check reports unhealthy"\n')
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"(did you mean {HEALTH}?)" in result.stderr.str()


REPORT = {
    "generated": "2026-11-22T00:00:00+00:00",
    "implementation": {"module": "impl", "version": "1.0", "distribution": "impl-dist"},
    "backends": [{"name": "sqlite"}, {"name": "mysql"}],
    "verdict": "failure",
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
        {
            "suite_id": "test_crud.py::u[mysql-local]",
            "backend": "mysql",
            "outcome": "xfailed",
            "message": "XFAIL known",
        },
        {"suite_id": "test_crud.py::t[sqlite-local]", "backend": "sqlite", "outcome": "passed", "message": ""},
    ],
}


def test_expectations_from_report():
    text, change = expectations.merge(None, [REPORT])
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in text
    assert '"test_crud.py::u[mysql-local]" = "known"' in text
    assert "sqlite]" not in text
    assert sorted(change.added) == ["[mysql] test_crud.py::t[mysql-local]", "[mysql] test_crud.py::u[mysql-local]"]


def test_regenerating_keeps_reasons_comments_and_flaky_entries():
    existing = """# Known failures of impl, reviewed by hand.

[sqlite]
"test_crud.py::t[sqlite-local]" = "flaky: lock waits"

[mysql]
# the driver's message changes between releases; this reason says why
"test_crud.py::t[mysql-local]" = "boom: the upsert forgets the tenant"
"test_crud.py::fixed[mysql-local]" = "was broken"
"""
    report = {**REPORT, "tests": [*REPORT["tests"], {**REPORT["tests"][2], "suite_id": "test_crud.py::fixed[mysql-local]",
                                                      "backend": "mysql"}]}  # fmt: skip
    text, change = expectations.merge(existing, [report])
    assert "# Known failures of impl, reviewed by hand." in text
    assert "# the driver's message changes between releases; this reason says why" in text
    assert '"test_crud.py::t[mysql-local]" = "boom: the upsert forgets the tenant"' in text  # hand-written: kept
    assert '"test_crud.py::t[sqlite-local]" = "flaky: lock waits"' in text  # passed this time, still flaky
    assert "fixed" not in text and change.removed == ["[mysql] test_crud.py::fixed[mysql-local] (it passed)"]
    assert change.added == ["[mysql] test_crud.py::u[mysql-local]"]


def test_unicode_stays_readable_and_valid_toml():
    message = "AssertionError: stored 'zoë 😀 日本' as '??'"
    report = {**REPORT, "tests": [{**REPORT["tests"][0], "message": message}]}
    text, _ = expectations.merge(None, [report])
    assert "zoë 😀 日本" in text and "\\u" not in text
    path_free = tomllib.loads(text)
    assert path_free["mysql"]["test_crud.py::t[mysql-local]"] == message


def test_a_partial_report_is_refused_unless_asked_for():
    partial = {**REPORT, "complete": False, "clauses_not_run": ["CRUD-003"]}
    existing = '[mysql]\n"test_crud.py::other[mysql-local]" = "not run this time"\n'
    with pytest.raises(expectations.ExpectationsError, match="partial"):
        expectations.merge(existing, [partial])
    text, change = expectations.merge(existing, [partial], partial=True)
    assert '"test_crud.py::other[mysql-local]" = "not run this time"' in text and not change.removed


def test_a_test_failing_in_some_runs_only_is_flaky():
    passing = {**REPORT, "tests": [{**t, "outcome": "passed", "message": ""} for t in REPORT["tests"]]}
    text, _ = expectations.merge(None, [REPORT, passing])
    assert '"test_crud.py::t[mysql-local]" = "flaky: failed in 1 of 2 runs; seen: E boom twice"' in text
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in expectations.merge(None, [REPORT, REPORT])[0]


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
        results = {"sqlite": "passed" if all(o == "passed" for o in outcomes.values()) else "failed"}
        return {**REPORT, "implementation": {**REPORT["implementation"], "version": version}, "tests": tests,
                "clauses": {"CRUD-001": {"results": results}}}  # fmt: skip

    old = report("1.0", {"a[sqlite]": "failed", "b[sqlite]": "passed", "c[sqlite]": "passed", "gone[sqlite]": "passed"})
    new = report("1.1", {"a[sqlite]": "passed", "b[sqlite]": "failed", "c[sqlite]": "blocked", "new[sqlite]": "passed"})
    paths = []
    for data in (old, new):
        paths.append(tmp_path / f"{data['implementation']['version']}.json")
        paths[-1].write_text(json.dumps(data))
    assert main(["diff", *map(str, paths)]) == 1, "a regression fails the gate"
    out = capsys.readouterr().out
    assert "impl 1.0" in out and "impl 1.1" in out
    assert "- a[sqlite]: failed -> passed" in out and "- b[sqlite]: passed -> failed" in out
    assert "- c[sqlite]: passed -> blocked" in out and "1 gone, 1 new" in out
    assert main(["diff", str(paths[0]), str(paths[0])]) == 0, "no change, no regression"


def test_a_stale_entry_is_a_usage_error_under_xdist_too(pytester, run_pack):
    """Workers collect under xdist: the controller checks the file, so the run stops with the message
    instead of crashing a worker."""
    path = write(pytester, '[sqlite]\n"test_conf.py::test_gone[sqlite-local]" = "old"\n')
    result = run_pack(
        "--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-n", "2", "-k", "test_crud"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "name tests that do not exist" in result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
