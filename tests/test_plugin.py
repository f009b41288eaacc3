"""The plugin end to end, in subprocesses: errors for unreachable backends, fake implementations,
the report and the summary."""

import json
import textwrap

import pytest


def test_unreachable_requested_backend_is_an_error(run_pack):
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-dburi", "postgresql://nobody@127.0.0.1:1/nothing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*postgresql was requested*cannot be reached*"])


def test_requested_backend_without_url_or_docker_is_an_error(run_pack):
    result = run_pack("--dataflow-impl=dataflow_reference", "--dataflow-db", "mysql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mysql was requested*DFC_MYSQL_URL*no Docker engine*"])


def test_unknown_implementation_is_an_error(run_pack):
    result = run_pack("--dataflow-impl=no_such_module_xyz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dataflow-impl=no_such_module_xyz: no module*install the implementation*"])


def test_broken_implementation_is_reported_not_crashed(pytester, run_pack, broken_impl):
    result = run_pack("--dataflow-impl=brokenflow", "-k", "test_create or test_health or test_bad_url", "-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*DataFlow conformance*", "*verdict: failure*"])
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["implementation"]["module"] == "brokenflow"
    assert report["verdict"] == "failure" and not report["complete"]
    assert report["clauses"]["CRUD-001"]["results"] == {"sqlite": "failed"}
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "failed"}


def test_reference_subset_report(pytester, run_pack):
    result = run_pack(
        "--dataflow-impl=dataflow_reference",
        "-k",
        "test_create_stores or (test_count and not bulk)",
        "--dataflow-markdown=report.md",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*area*sqlite*",
            "*CRUD*4/0/0/0*",
            "*QUERY*48/0/0/0*",
            "*access paths: async 13/13, express 13/13, express_sync 13/13, local 13/13*",
            "*verdict: success (partial run*",
        ]
    )
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["clauses"]["CRUD-001"]["results"] == {"sqlite": "passed"}
    assert report["backends"][0]["name"] == "sqlite" and report["backends"][0]["server_version"]
    assert "kailash" in report["environment"]["packages"]
    assert "| [CRUD-001](#crud-001) | MUST | passed |" in (pytester.path / "report.md").read_text()


def test_plugin_stays_out_of_other_test_runs(pytester):
    pytester.makepyfile(
        test_plain=textwrap.dedent("""
        def test_plain():
            assert True
    """)
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "DataFlow conformance" not in result.stdout.str()
