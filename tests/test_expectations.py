"""Expectations files are strict and cannot rot; reports turn into expectations, badges and a matrix."""

import json

import pytest
from dataflow_conformance import badges, expectations, matrix

HEALTH = "test_conf.py::test_health_check_reports_healthy[sqlite]"


def write(pytester, body):
    path = pytester.path / "expected.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_expected_failure_keeps_the_run_green(pytester, run_pack, broken_impl):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "health_check reports unhealthy"\n')
    result = run_pack("--dataflow-impl=brokenflow", "--expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "xfailed"}
    assert report["verdict"] == "failure", "a known failure is still a failure of the clause"


def test_unexpected_pass_fails_the_run(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "pretend it fails"\n')
    result = run_pack("--dataflow-impl=dataflow_reference", "--expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*XPASS(strict)*"])


def test_flaky_entry_is_not_strict(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "flaky: fails on some runs"\n')
    result = run_pack("--dataflow-impl=dataflow_reference", "--expectations", path, "-k", "test_health_check")
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
    result = run_pack("--dataflow-impl=dataflow_reference", "--expectations", path, "-k", "test_health_check")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_stale_entries_only_for_backends_in_the_run():
    expected = {"any": {}, "sqlite": {"a": "r"}, "postgresql": {"b": "r"}, "mysql": {}}
    assert expectations.stale_entries(expected, {"a"}, {"sqlite"}) == []
    assert expectations.stale_entries(expected, set(), {"sqlite", "postgresql"}) == ["[postgresql] b", "[sqlite] a"]


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
    text = expectations.from_reports([REPORT])
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in text
    assert '"test_crud.py::u[mysql-local]" = "known"' in text
    assert "sqlite]" not in text


def test_regenerating_keeps_flaky_entries():
    previous = {
        "sqlite": {"test_crud.py::t[sqlite-local]": "flaky: lock waits"},
        "mysql": {"test_crud.py::gone[mysql-local]": "flaky: no longer in the suite"},
    }
    text = expectations.from_reports([REPORT], previous)
    assert '"test_crud.py::t[sqlite-local]" = "flaky: lock waits"' in text  # passed this time, still flaky
    assert "gone" not in text  # a test the report does not have is dropped
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in text


def test_a_test_failing_in_some_runs_only_is_flaky():
    passing = {**REPORT, "tests": [{**t, "outcome": "passed", "message": ""} for t in REPORT["tests"]]}
    text = expectations.from_reports([REPORT, passing])
    assert '"test_crud.py::t[mysql-local]" = "flaky: failed in 1 of 2 runs; seen: E boom twice"' in text
    assert "2 conformance reports" in text
    assert '"test_crud.py::t[mysql-local]" = "E boom twice"' in expectations.from_reports([REPORT, REPORT])


def test_badges_and_matrix(tmp_path):
    written = badges.write_badges(REPORT, tmp_path)
    data = {p.name: json.loads(p.read_text()) for p in written}
    assert data["impl-sqlite.json"]["message"] == "2/2 clauses" and data["impl-sqlite.json"]["color"] == "brightgreen"
    assert data["impl-mysql.json"]["message"] == "0/2 clauses" and data["impl-mysql.json"]["color"] == "red"
    table = matrix.render([REPORT])
    assert "| `impl` | 1.0 | failure | 2/2 | 0/2 |" in table
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{matrix.START}\nold\n{matrix.END}\nafter\n")
    assert matrix.update(doc, table) and "old" not in doc.read_text() and "after" in doc.read_text()
