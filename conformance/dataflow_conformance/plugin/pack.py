"""The conformance pack's hooks: configure the run, collect and parametrize the suite, tag each test with
its clauses, and name the broken clause in every failure. Registered only when a run asks for the pack
(see plugin/options.py); the fixtures are in plugin/fixtures.py, the state in plugin/session.py, the
report in report/collector.py."""

import fnmatch
from pathlib import Path

import pytest

from ..access.protocol import ALL_PATHS
from ..report.collector import ConformanceReport
from . import collection
from . import session as session_mod
from .unhandled import fail_on_unhandled_exceptions

SUITE_DIR = Path(__file__).parent.parent / "suite"


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(*ids): the contract clauses a conformance test checks")
    config.addinivalue_line(
        "markers", f"paths(*names): the access paths a test applies to (default: all of {', '.join(ALL_PATHS)})"
    )
    config.addinivalue_line("markers", "backends(*names): the backends a test applies to (default: every backend)")
    fail_on_unhandled_exceptions(config)
    session = session_mod.ConformanceSession.from_config(config)
    config.pluginmanager.register(session, session_mod.PLUGIN_NAME)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(SUITE_DIR)]  # the pack replaces the project's own test paths
    if getattr(config, "workerinput", None) is None:  # the controller writes the report
        config.pluginmanager.register(ConformanceReport(session, config), "dataflow-conformance-report")


# -- collection: the suite is collected whatever the project's python_files / python_functions say --


class SuiteModule(pytest.Module):
    """A conformance test module, collected with pytest's default naming rules."""

    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("test")

    def classnamefilter(self, name: str) -> bool:
        return name.startswith("Test")


def _in_suite(path: Path) -> bool:
    return path.suffix == ".py" and path.name.startswith("test_") and path.is_relative_to(SUITE_DIR)


def pytest_collect_file(file_path: Path, parent):
    """A suite module that the project's python_files would leave out (pytest's python plugin collects the
    others, through pytest_pycollect_makemodule below)."""
    if _in_suite(file_path) and not parent.session.isinitpath(file_path):
        patterns = parent.config.getini("python_files")
        if not any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
            return SuiteModule.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent):
    if _in_suite(module_path):
        return SuiteModule.from_parent(parent, path=module_path)
    return None


def pytest_generate_tests(metafunc):
    session = session_mod.get(metafunc.config)
    if "backend" in metafunc.fixturenames:
        collection.parametrize_backends(metafunc, session.backends)
    if "flow" in metafunc.fixturenames:
        collection.parametrize_paths(metafunc)


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection: expectations are checked against the whole suite
def pytest_collection_modifyitems(session, config, items):
    state = session_mod.get(config)
    suite_items = [item for item in items if Path(str(item.path)).is_relative_to(SUITE_DIR)]
    collection.check_clause_markers(suite_items, state.clauses)
    # Judged here, where the whole selection is known (under xdist, in every worker: the controller takes
    # the workers' findings, see ConformanceSession); reported at the end, with the report written.
    if not collection.narrowed(config):
        state.stale_expectations = collection.stale_expectations({collection.suite_id(i) for i in suite_items}, state)
    for item in suite_items:
        tag = collection.tag(item)
        item.user_properties.extend(tag.properties())
        collection.gate_capability(item, tag, state)
        collection.apply_expectation(item, tag, state)


def pytest_deselected(items):
    """-k / -m left these out: the run is partial, whatever clauses the rest still covers."""
    if items:
        state = session_mod.get(items[0].config)
        state.tests_deselected += sum(1 for item in items if Path(str(item.path)).is_relative_to(SUITE_DIR))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    try:
        report = yield
    except Exception as exc:
        if call.excinfo is None:
            raise
        report = collection.plain_failure_report(item, call, exc)
    if call.excinfo is not None and (report.failed or hasattr(report, "wasxfail")):
        session = session_mod.get(item.config)
        properties = collection.failure_properties(item, call.excinfo.value, session)
        report.user_properties.extend(properties)
        item.user_properties.extend(properties)  # JUnit XML takes the properties of the teardown report
        if report.failed:
            section = collection.clause_section(item, session, call.excinfo.value)
            report.sections.append(("dataflow-conformance: what this failure breaks", section))
    return report
