"""Expectations files in a run: listed failures keep the gate green, a listed test that passes is fixed
(its own exit status), intermittent entries allow both, conditions select entries, and an entry naming no
test is stale: named with the nearest test, after a run that still writes its report. Entries outside the
selection (-k, test files, xdist) are not judged."""

import json

import pytest
from dataflow_conformance.plugin.pack import SUITE_DIR
from dataflow_conformance.report import expectations
from dataflow_conformance.report.gate import Status

HEALTH = "test_conf.py::test_health_check_reports_healthy[sqlite]"
CREATE = "test_crud.py::test_create_stores_and_returns_record[sqlite-local]"


def write(pytester, body):
    path = pytester.path / "expected.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def report_of(pytester):
    return json.loads((pytester.path / "conformance-report.json").read_text(encoding="utf-8"))


def run_health(run_pack, path, *more):
    return run_pack(
        "--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, "-k", "test_health_check", *more
    )


def test_expected_failure_keeps_the_run_green(pytester, run_pack, broken_impl):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "health_check reports unhealthy"\n')
    result = run_pack("--dataflow-impl=brokenflow", "--dataflow-expectations", path, "-k", "test_health_check")
    assert result.ret == Status.OK
    report = report_of(pytester)
    # brokenflow's health check is blocked (it cannot declare a model); listed, it stays blocked in the report
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "blocked"}
    assert report["verdict"] == "failure", "a known failure is still a failure of the clause"
    assert report["gate"]["known"] == 1 and report["gate"]["status"] == Status.OK


def test_a_listed_test_that_passes_is_fixed(pytester, run_pack):
    path = write(pytester, f'# hand-written\n[sqlite]\n"{HEALTH}" = "pretend it fails"\n')
    result = run_health(run_pack, path)
    assert result.ret == Status.FIXED == 6
    assert f"fixed (remove its entry): {HEALTH}" in result.stdout.str()
    result.stdout.fnmatch_lines(["*--remove-fixed*", "gate failed (exit status 6*"])
    report = report_of(pytester)
    assert report["gate"]["fixed"] == [HEALTH]
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "passed"}, "a fixed test passed its clause"
    from dataflow_conformance.cli import main

    assert (
        main(["expectations", str(pytester.path / "conformance-report.json"), "--write", path, "--remove-fixed"]) == 0
    )
    text = (pytester.path / "expected.toml").read_text(encoding="utf-8")
    assert "# hand-written" in text and HEALTH not in text


def test_fixed_tests_may_be_allowed(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = "pretend it fails"\n')
    result = run_health(run_pack, path, "--dataflow-allow-fixed")
    assert result.ret == Status.OK
    assert report_of(pytester)["gate"]["fixed"] == [HEALTH], "allowed, still reported"


def test_an_intermittent_entry_allows_a_pass(pytester, run_pack):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = {{ reason = "lock waits", expected = ["fail", "pass"] }}\n')
    result = run_health(run_pack, path)
    assert result.ret == Status.OK
    (test,) = [t for t in report_of(pytester)["tests"] if t["test"] == HEALTH]
    assert test["outcome"] == "passed" and test["expected"] == {"reason": "lock waits", "outcomes": ["fail", "pass"]}


@pytest.mark.parametrize("versions, applies", [("<0.1", False), (">=0.1", True)])
def test_an_entry_applies_to_the_versions_it_names(pytester, run_pack, versions, applies):
    path = write(pytester, f'[sqlite]\n"{HEALTH}" = {{ reason = "old releases", versions = "{versions}" }}\n')
    result = run_health(run_pack, path)
    assert result.ret == (Status.FIXED if applies else Status.OK)


@pytest.mark.parametrize(
    "body, message",
    [
        ('[oracle]\n"x" = "y"\n', "unknown table"),
        (f'[sqlite]\n"{HEALTH}" = ""\n', "has no reason"),
        (f'[sqlite]\n"{HEALTH}" = {{ reason = "r", expected = "pass" }}\n', 'use "fail"'),
        (f'[sqlite]\n"{HEALTH}" = {{ reason = "r", versions = "new ones" }}\n', "not a version specifier"),
        (f'[sqlite]\n"{HEALTH}" = {{ reason = "r", when = "always" }}\n', "unknown key"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_expectations_are_usage_errors(pytester, run_pack, body, message):
    result = run_health(run_pack, write(pytester, body))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_a_stale_entry_is_named_with_the_nearest_test_and_the_report_is_written(pytester, run_pack, workers):
    typo = HEALTH.replace("reports_healthy", "report_healthy")
    gone = "test_conf.py::test_removed_long_ago[sqlite]"
    path = write(pytester, f'[sqlite]\n"{typo}" = "typo"\n"{gone}" = "gone"\n')
    result = run_health(run_pack, path, *workers)
    assert result.ret == Status.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([f"stale expectation: [sqlite] {typo} names no test (nearest existing test: {HEALTH})"])
    report = report_of(pytester)
    assert report["verdict"] == "success", "the run went on and wrote its report"
    assert {s["test"]: s["nearest"] for s in report["gate"]["stale"]} == {typo: HEALTH, gone: None}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_entries_outside_the_selection_are_not_judged(pytester, run_pack, workers):
    """-k leaves test_crud out (its entry exists, and is not run); a test file argument leaves test_crud.py
    uncollected; a [postgresql] entry is not read in a SQLite run."""
    path = write(pytester, f'[sqlite]\n"{CREATE}" = "x"\n[postgresql]\n"test_crud.py::gone[postgresql-local]" = "x"\n')
    assert run_health(run_pack, path, *workers).ret == Status.OK
    only_conf = run_pack(
        "--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, str(SUITE_DIR / "test_conf.py"),
        "-k", "test_health_check", *workers,
    )  # fmt: skip
    assert only_conf.ret == Status.OK


def test_nearest_prefers_the_same_function_then_the_closest_function():
    collected = {HEALTH, "test_conf.py::test_health_check_reports_healthy[mysql]", CREATE}
    assert expectations.nearest(HEALTH.replace("[sqlite]", "[sqlit]"), collected) == HEALTH
    assert expectations.nearest("test_conf.py::test_health_check_report_healthy[sqlite]", collected) == HEALTH
    assert expectations.nearest("test_conf.py::test_something_else[sqlite]", collected) is None


def test_stale_entries_only_for_backends_and_modules_in_the_run():
    entry = expectations.Entry("r")
    expected = expectations.Expectations(
        {
            "any": {},
            "sqlite": {"test_a.py::test_alpha_on": entry, "test_b.py::test_b": entry},
            "postgresql": {"test_a.py::test_zeta": entry},
        }
    )
    assert expected.stale({"test_a.py::test_alpha_on"}, {"sqlite"}) == [], "test_b.py not collected, postgresql not run"
    assert [str(s) for s in expected.stale({"test_a.py::test_alpha_one"}, {"sqlite", "postgresql"})] == [
        "[sqlite] test_a.py::test_alpha_on (nearest: test_a.py::test_alpha_one)",
        "[postgresql] test_a.py::test_zeta",
    ]


def test_a_test_id_selection_judges_no_entry_stale(pytester, run_pack):
    """Collected by id, a module holds only the named test: its other entries may still name real tests."""
    path = write(pytester, f'[sqlite]\n"test_conf.py::test_no_such_test[sqlite]" = "x"\n"{CREATE}" = "x"\n')
    health = f"{SUITE_DIR / 'test_conf.py'}::test_health_check_reports_healthy"
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-expectations", path, health)
    assert result.ret == Status.OK and report_of(pytester)["gate"]["stale"] == []


def test_a_k_selection_is_a_partial_run_even_when_every_clause_of_its_modules_ran(pytester, run_pack):
    """`expectations` without --partial must refuse a report whose run left tests out, or it would drop
    the entries of the tests it did not run."""
    result = run_pack("--dataflow-impl=dataflow_reference", str(SUITE_DIR / "test_conf.py"), "-k", "not local")
    report = report_of(pytester)
    assert result.ret == Status.OK and report["tests_deselected"] > 0 and not report["complete"]


CRASHING_IMPL = """
import os

from dataflow_reference import DataFlow as Reference


class DataFlow(Reference):
    def health_check(self):
        os._exit(3)  # a driver's segfault, say: the worker process dies in the middle of a test
"""


def test_a_test_whose_worker_crashed_is_a_failure_of_its_clause_and_fails_the_gate(pytester, run_pack):
    pytester.makepyfile(crashflow=CRASHING_IMPL)
    result = run_pack("--dataflow-impl=crashflow", "-n", "1", "-k", "test_health_check_reports_healthy")
    report = report_of(pytester)
    assert result.ret == Status.UNEXPECTED_FAILURE == report["gate"]["status"]
    assert report["gate"]["unexpected"] == [HEALTH] and report["clauses"]["CONF-006"]["results"] == {"sqlite": "error"}
