"""The plugin end to end, in subprocesses: errors for unreachable backends, fake implementations,
the report and the summary."""

import json
import re
import textwrap

import pytest


def test_unreachable_requested_backend_is_an_error(run_pack):
    result = run_pack(
        "--dataflow-impl=dataflow_reference", "--dataflow-dburi", "postgresql://nobody@127.0.0.1:1/nothing"
    )
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
    # brokenflow cannot declare a model: the tests that need one are blocked by the model clauses
    assert report["clauses"]["CRUD-001"]["results"] == {"sqlite": "blocked"}
    assert report["clauses"]["CONF-006"]["results"] == {"sqlite": "blocked"}
    assert report["clauses"]["CONF-004"]["results"] == {"sqlite": "failed"}  # bad URLs are accepted


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
            "*CRUD*4/0/0/0/0*",
            "*QUERY*48/0/0/0/0*",
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


UNRELATED_CONFTEST = """
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption("--db", default="memory", help="this project's own database option")


@pytest.fixture
def database_url(request):
    return f"{request.config.getoption('--db')}://local"
"""

UNRELATED_TESTS = """
import sys


def test_own_option_and_fixture(database_url):
    assert database_url == "files://local"


def test_the_kit_imports_nothing_heavy():
    heavy = sorted(name for name in ("kailash", "sqlalchemy", "dataflow_reference") if name in sys.modules)
    assert not heavy, heavy
"""


def test_an_unrelated_project_is_unaffected(pytester):
    """The kit is installed (its entry point loads), yet a project with its own --db option and
    database_url fixture runs as if it were not: no clash, no fixtures, no imports, no report."""
    pytester.makeconftest(UNRELATED_CONFTEST)
    pytester.makepyfile(test_unrelated=UNRELATED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--db", "files")
    result.assert_outcomes(passed=2)
    assert "DataFlow conformance" not in result.stdout.str()
    assert not (pytester.path / "conformance-report.json").exists()
    fixtures = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures").stdout.str()
    assert "database_url" in fixtures and not any(
        f"\n{name}" in fixtures for name in ("probe", "flow", "make_dataflow")
    )


def test_a_pack_option_without_the_pack_is_an_error(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dataflow-db", "sqlite")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dataflow-db configure the DataFlow conformance pack*add --dataflow-impl=MODULE*"])


def test_the_suite_is_collected_whatever_the_project_collects(pytester, run_pack):
    pytester.makeini("[pytest]\npython_files = *_spec.py\npython_functions = check_*\ntestpaths = specs\n")
    result = run_pack("--dataflow-impl=dataflow_reference", "-k", "test_create_stores")
    result.assert_outcomes(passed=4)


def test_a_run_that_checks_nothing_says_so(pytester, run_pack):
    result = run_pack("--dataflow-impl=dataflow_reference", "-k", "nothing_matches_this")
    result.stdout.fnmatch_lines(["*no conformance test ran*", "*verdict: none*"])
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["verdict"] == "none" and report["clauses"] == {}


def test_a_failure_names_its_clause_everywhere(pytester, run_pack):
    pytester.makepyfile(tablelessflow=TABLELESS_IMPL)  # models register, but no node runs: Create fails
    junit = pytester.path / "junit.xml"
    result = run_pack("--dataflow-impl=tablelessflow", "-k", "test_create_stores", f"--junitxml={junit}")
    output = result.stdout.str()
    assert "what this failure breaks" in output and "CRUD-001 (MUST, CRUD): Create" in output
    assert "crud.md#crud-001--must" in output
    result.stdout.fnmatch_lines(["*failed clauses on sqlite: CRUD-001*"])
    xml = junit.read_text()
    assert '<property name="clause" value="CRUD-001"' in xml and '<property name="path" value="local"' in xml
    assert '<property name="backend" value="sqlite"' in xml
    assert not re.search(r'<property name="[^"]*" value="[{(\[]', xml), "a property printed as a Python value"
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["kit"]["version"] and "--dataflow-impl=tablelessflow" in report["command"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--dataflow-capability", "row_level_securty"],
            "*unknown capability 'row_level_securty' (did you mean 'row_level_security'?)*",
        ),
        (
            ["--dataflow-db", "sqlite", "--dataflow-dburi", "postgresql://u@127.0.0.1:5999/x"],
            "*is for a backend this run does not select*",
        ),
    ],
    ids=["capability-typo", "unused-dburi"],
)
def test_bad_input_to_the_kit_is_an_error(run_pack, args, message):
    result = run_pack("--dataflow-impl=dataflow_reference", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_an_implementation_that_fails_to_import_shows_its_traceback(pytester, run_pack):
    pytester.makepyfile(halfflow="settings = {}\nTIMEOUT = settings['missing']\n")
    result = run_pack("--dataflow-impl=halfflow")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*importing the module failed*", "*halfflow.py*line 2*", "*KeyError: 'missing'*"])


def test_an_adapter_module_in_the_current_directory_is_found(pytester, run_pack, monkeypatch):
    """The guide's recipe: a module that re-exports another implementation, next to where pytest runs
    (found without PYTHONPATH, as `python -m pytest` would find it)."""
    monkeypatch.delenv("PYTHONPATH")
    pytester.makepyfile(my_dataflow="from dataflow_reference import CONFORMANCE_CAPABILITIES, DataFlow  # noqa: F401\n")
    result = run_pack("--dataflow-impl=my_dataflow", "-k", "test_unique_violation_is_an_implementation_error")
    result.assert_outcomes(passed=4)  # ERR-007 judges the errors of the package that defines DataFlow


def test_a_failing_test_beside_the_pack_fails_the_run_whatever_the_gate_says(pytester, run_pack):
    from dataflow_conformance.plugin.pack import SUITE_DIR

    pytester.makepyfile(test_own="def test_own():\n    assert False, 'the project own test'\n")
    result = run_pack("--dataflow-impl=dataflow_reference", str(SUITE_DIR / "test_conf.py"), "test_own.py",
                      "-k", "test_health_check_reports_healthy or test_own")  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


STUBBORN_IMPL = '''
import asyncio


async def _ignores_cancellation():
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass


class _Express:
    async def create(self, model, data):
        asyncio.get_running_loop().create_task(_ignores_cancellation())  # a monitor that never stops
        return {"id": 1, **data}


class DataFlow:
    """Its express API leaves a task behind that ignores cancellation."""
    def __init__(self, url=None, **options):
        self.express = _Express()
    def model(self, cls):
        return cls
    def create_tables(self):
        pass
    def close(self):
        pass
'''


@pytest.mark.timeout(180)
def test_a_task_that_ignores_cancellation_does_not_hang_the_run(pytester, run_pack):
    pytester.makepyfile(stubbornflow=STUBBORN_IMPL)
    result = run_pack(
        "--dataflow-impl=stubbornflow", "-k", "test_create_stores_and_returns_record and express and not sync"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "the run ends, and judges the implementation"
    result.stdout.fnmatch_lines(["*verdict: failure*"])


def test_a_module_whose_dataflow_is_no_class_is_one_error(pytester, run_pack):
    pytester.makepyfile(numberflow="DataFlow = 42\n")
    result = run_pack("--dataflow-impl=numberflow", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("numberflow.DataFlow is a int (42), not a class") == 1 and "Traceback" not in output


WRAPPING_ADAPTER = '''
import dataflow_reference


class AcmeIntegrityError(dataflow_reference.IntegrityError):
    """acme's own error class, derived from the implementation it wraps."""


class DataFlow(dataflow_reference.DataFlow):
    """acme's DataFlow: the reference under acme's name, subclassed."""
'''


def test_an_adapter_that_subclasses_the_implementation_passes_err_007(pytester, run_pack):
    """ERR-007 accepts an error whose class is defined in, or derives from, a package of the implementation's
    DataFlow: here acme_wrapping's DataFlow derives from the reference's, which raises the errors."""
    pytester.makepyfile(acme_wrapping=WRAPPING_ADAPTER)
    result = run_pack("--dataflow-impl=acme_wrapping", "-k", "test_unique_violation_is_an_implementation_error")
    result.assert_outcomes(passed=4)


def test_junit_failures_carry_the_rule_they_break(pytester, run_pack):
    pytester.makepyfile(tablelessflow=TABLELESS_IMPL)
    junit = pytester.path / "junit.xml"
    run_pack("--dataflow-impl=tablelessflow", "-k", "test_update_changes_only_named_fields", f"--junitxml={junit}")
    xml = junit.read_text()
    assert '<property name="rule" value="CONF-005 (MUST): `create_tables()` creates' in xml, "the blocking rule"
    assert '<property name="blocked_by" value="CONF-005 MODEL-011"' in xml
    assert '<property name="cause_error" value="RuntimeError: no tables"' in xml


TABLELESS_IMPL = """
class DataFlow:
    \"\"\"Models register, tables never come: every test that arranges rows is blocked.\"\"\"
    def __init__(self, url=None, **options):
        pass
    def model(self, cls):
        return cls
    def create_tables(self):
        raise RuntimeError("no tables")
    def close(self):
        pass
"""


def test_a_test_whose_arrange_step_fails_is_blocked_not_failed(pytester, run_pack):
    """tablelessflow cannot create tables: a CRUD-004 test, which arranges its rows through the probe after
    create_tables(), is blocked by CONF-005 / MODEL-011, and CRUD-004 is not counted as failed."""
    pytester.makepyfile(tablelessflow=TABLELESS_IMPL)
    junit = pytester.path / "junit.xml"
    result = run_pack(
        "--dataflow-impl=tablelessflow", "-k", "test_update_changes_only_named_fields", f"--junitxml={junit}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*BLOCKED: the test's arrange step relies on CONF-005, MODEL-011*", "*blocked clauses on sqlite: CRUD-004*"]
    )
    report = json.loads((pytester.path / "conformance-report.json").read_text())
    assert report["clauses"]["CRUD-004"]["results"] == {"sqlite": "blocked"}
    assert report["verdict"] == "failure", "a blocked MUST clause keeps the verdict from success"
    (test,) = [t for t in report["tests"] if t["clauses"] == ["CRUD-004"]][:1]
    assert test["outcome"] == "blocked" and test["blocked_by"] == "CONF-005 MODEL-011"
    assert '<property name="blocked_by" value="CONF-005 MODEL-011"' in junit.read_text()
    (cause,) = report["causes"]
    assert cause["error"] == "RuntimeError: no tables" and cause["where"] == "tablelessflow:create_tables"
    assert cause["tests"] == 4 and cause["rule_clauses"] == ["CONF-005", "MODEL-011"]
    assert cause["symptom_clauses"] == ["CRUD-004"], "the blocked clause is shown under the cause that blocks it"


DEADLOCKING_IMPL = """
import threading

from dataflow_reference import DataFlow as Reference

_NEVER = threading.Event()


class DataFlow(Reference):
    '''Every express_sync create blocks forever: a deadlock inside the implementation.'''

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        create = self.express_sync.create

        def stuck(model, data, **options):
            if threading.current_thread() is not threading.main_thread():
                _NEVER.wait()  # only the concurrent callers: the test's arrange steps still run
            return create(model, data, **options)

        self.express_sync.create = stuck
"""


@pytest.mark.timeout(240)
def test_threads_deadlocked_in_the_implementation_do_not_hang_the_run(pytester, run_pack):
    """The test times out, fails, and the run (and its worker, at exit) ends: stuck caller threads are left behind."""
    pytester.makepyfile(deadlockflow=DEADLOCKING_IMPL)
    tests = "test_500_concurrent_creates_persist_exactly_once and express_sync"
    result = run_pack("--dataflow-impl=deadlockflow", "-n", "1", "--timeout", "20", "-k", tests)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "the run ends, and judges the implementation"
    result.stdout.fnmatch_lines(["*Timeout*", "*verdict: failure*"])
