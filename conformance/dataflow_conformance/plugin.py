"""The pytest plugin: options, backends, fixtures, clause bookkeeping and the report.

Activated with `-p dataflow_conformance` (it is also registered as a pytest11 entry point).
The conformance suite is collected when --dataflow-impl, --db or --dburi is given.
"""

import dataclasses
import json
import logging
import os
import sys
import types
from pathlib import Path

import pytest

from . import backends as backends_mod
from . import checkpoint  # noqa: F401 - registers ConformanceCheckpointNode with Kailash
from . import clauses as clauses_mod
from . import expectations as expectations_mod
from . import implementation as impl_mod
from .flow import Flow
from .paths import ExpressPath
from .probe import Probe
from .report import NOT_APPLICABLE, ConformanceReport

WORKFLOW_PATHS = ("local", "async")  # generated nodes under LocalRuntime / AsyncLocalRuntime
ALL_PATHS = (*WORKFLOW_PATHS, "express", "express_sync")

SUITE_DIR = Path(__file__).with_name("suite")
_STATE = pytest.StashKey[dict]()
_RESOLVED = "DFC_RESOLVED_BACKENDS"  # controller -> xdist workers


def pytest_addoption(parser):
    group = parser.getgroup("dataflow-conformance")
    group.addoption(
        "--dataflow-impl",
        default=None,
        metavar="MODULE",
        help="module exposing the DataFlow class under test (default: dataflow_reference)",
    )
    group.addoption(
        "--db",
        action="append",
        default=[],
        choices=(*backends_mod.BACKENDS, "all"),
        help="backend to run on; repeatable (default: sqlite plus every backend with a URL configured)",
    )
    group.addoption(
        "--dburi",
        action="append",
        default=[],
        metavar="URL",
        help="server URL for a backend (postgresql://..., mysql://...); repeatable",
    )
    group.addoption(
        "--conformance-report",
        default="conformance-report.json",
        metavar="PATH",
        help="where to write the JSON report (default: %(default)s)",
    )
    group.addoption("--conformance-markdown", default=None, metavar="PATH", help="also write a Markdown report")
    group.addoption(
        "--capability",
        action="append",
        default=[],
        metavar="NAME",
        help="claim an extended-profile capability for the implementation (repeatable; adds to what it declares)",
    )
    group.addoption(
        "--stateful-examples",
        type=int,
        default=4,
        metavar="N",
        help="random operation sequences per state-machine test (default: %(default)s; `nox -s stateful` runs many)",
    )
    group.addoption(
        "--stateful-steps", type=int, default=12, metavar="N", help="steps per sequence (default: %(default)s)"
    )
    group.addoption(
        "--stateful-random",
        action="store_true",
        help="generate new random sequences (default: the same fixed sequences every run, for reproducible gates)",
    )
    group.addoption(
        "--stateful-shrink",
        action="store_true",
        help="shrink a failing sequence to a minimal one (slow: replays it many times; nox -s stateful does)",
    )
    group.addoption(
        "--expectations",
        default=None,
        metavar="PATH",
        help="TOML file of the implementation's known failures (strict xfail; see expectations.py)",
    )


def _wants_suite(config) -> bool:
    opt = config.option
    return bool(opt.dataflow_impl or opt.db or opt.dburi)


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(*ids): the contract clauses a conformance test checks")
    config.addinivalue_line("markers", "workflow_only: runs through workflow paths only (no express form)")
    config.addinivalue_line("markers", "backends(*names): the backends a test applies to (default: every backend)")
    if not _wants_suite(config) and not any(
        str(SUITE_DIR) in str(a) or "dataflow_conformance" in str(a) for a in config.args
    ):
        return
    state = {"impl_name": config.option.dataflow_impl or "dataflow_reference", "containers": []}
    config.stash[_STATE] = state
    # An exception nobody handled, in any thread or task, fails the test it happened in: pytest's own
    # thread-exception and unraisable-exception checks, made errors; asyncio's unretrieved task errors join the latter.
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
    logging.getLogger("asyncio").addHandler(_AsyncioErrorsAreUnraisable())
    requested = [b for name in config.option.db for b in (backends_mod.BACKENDS if name == "all" else [name])]
    worker_input = getattr(config, "workerinput", None)
    try:
        state["impl"] = impl_mod.load(state["impl_name"])
        if worker_input is None:
            found, state["containers"] = backends_mod.resolve(requested, config.option.dburi)
            # Workers inherit the environment: hand them the resolved servers (containers included).
            os.environ[_RESOLVED] = json.dumps([dataclasses.asdict(b) for b in found])
        else:
            found = [backends_mod.Backend(**item) for item in json.loads(os.environ[_RESOLVED])]
    except (impl_mod.ImplementationError, backends_mod.BackendUnavailable) as exc:
        raise pytest.UsageError(f"dataflow-conformance: {exc}") from None
    state["backends"] = found
    state["clauses"] = clauses_mod.load()
    state["capabilities"] = state["impl"].capabilities | set(config.option.capability)
    try:
        state["expected"] = expectations_mod.load(config.option.expectations) if config.option.expectations else {}
    except expectations_mod.ExpectationsError as exc:
        raise pytest.UsageError(f"dataflow-conformance: {exc}") from None
    if _wants_suite(config) and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(SUITE_DIR)]  # the pack replaces the project's own test paths
    if worker_input is None:
        state["report"] = ConformanceReport(
            state["impl"], found, state["clauses"], impl_mod.package_versions(), sorted(state["capabilities"])
        )
        config.pluginmanager.register(state["report"], "dataflow-conformance-report")


class _AsyncioErrorsAreUnraisable(logging.Handler):
    """asyncio logs what no task handled (an exception never retrieved, a task destroyed while pending);
    hand it to sys.unraisablehook, which pytest checks after every test phase."""

    def __init__(self):
        super().__init__(logging.ERROR)

    def emit(self, record):
        error = record.exc_info[1] if record.exc_info else None
        error = error if error is not None else RuntimeError(record.getMessage())
        sys.unraisablehook(
            types.SimpleNamespace(
                exc_type=type(error),
                exc_value=error,
                exc_traceback=error.__traceback__,
                err_msg=f"asyncio: {record.getMessage()}",
                object=None,
            )
        )


def pytest_unconfigure(config):
    state = config.stash.get(_STATE, None)
    for container in (state or {}).get("containers", []):
        container.stop()


def _state(config) -> dict:
    state = config.stash.get(_STATE, None)
    if state is None:
        raise pytest.UsageError("dataflow-conformance fixtures need --dataflow-impl, --db or --dburi")
    return state


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash.get(_STATE, None)
    if state is None:  # the pack is not active in this run: leave other projects' fixtures alone
        return
    if "backend" in metafunc.fixturenames:
        found = state["backends"]
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            applicable = [b for b in found if b.name in only.args]
            reason = f"applies to {' and '.join(only.args)} only, and this run has none of them"
            found = applicable or [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-backend")]
        ids = None if only is not None and not applicable else [b.name for b in found]
        metafunc.parametrize("backend", found, ids=ids, scope="session", indirect=True)
    if "flow" in metafunc.fixturenames:
        workflow_only = metafunc.definition.get_closest_marker("workflow_only") is not None
        metafunc.parametrize("flow", WORKFLOW_PATHS if workflow_only else ALL_PATHS, indirect=True)


def suite_id(item) -> str:
    """The test's id relative to the suite: how expectations files name it."""
    path = Path(str(item.path))
    relative = path.relative_to(SUITE_DIR).as_posix() if path.is_relative_to(SUITE_DIR) else path.name
    return f"{relative}::{item.name}"


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection: expectations are checked against the whole suite
def pytest_collection_modifyitems(session, config, items):
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    known = state["clauses"]
    expected = state["expected"]
    if expected:
        stale = expectations_mod.stale_entries(
            expected, {suite_id(i) for i in items}, {b.name for b in state["backends"]}
        )
        if stale:
            raise pytest.UsageError(
                f"dataflow-conformance: {len(stale)} expectation(s) name tests that do not exist: {stale[:10]}"
            )
    for item in items:
        marks = [m for m in item.iter_markers("clause")]
        ids = [clause for mark in marks for clause in mark.args]
        if not ids and Path(str(item.fspath)).is_relative_to(SUITE_DIR):
            raise pytest.UsageError(f"conformance test {item.nodeid} names no clause (@pytest.mark.clause)")
        unknown = [c for c in ids if c not in known]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid} names unknown clause(s) {unknown}; define them in docs/contract/")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        runtime = callspec.params.get("flow") if callspec else None
        if backend is not None:
            backend_name = backend.name
        else:  # no backend parameter: the test runs once for all; a None one: none of them applies
            backend_name = NOT_APPLICABLE if callspec is not None and "backend" in callspec.params else "any"
        missing = sorted({known[c].capability for c in ids if known[c].capability} - state["capabilities"])
        if missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"extended profile: {state['impl_name']} does not claim capability {', '.join(missing)}"
                )
            )
        reason = expected.get(backend_name, {}).get(suite_id(item))
        if reason is not None:
            # "flaky: ..." marks a known failure that does not happen on every run: not strict.
            item.add_marker(
                pytest.mark.xfail(reason=f"expected failure: {reason}", strict=not reason.startswith("flaky:"))
            )
        item.user_properties.append(
            (
                "dfc",
                {
                    "clauses": ids,
                    "backend": backend_name,
                    "path": runtime or "-",
                    "suite_id": suite_id(item),
                },
            )
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    try:
        return (yield)
    except Exception as exc:
        if call.excinfo is None:
            raise
        # pytest can fail to render the traceback of an implementation's failure (CPython 3.11: an AST
        # recursion-depth SystemError after the code under test exhausted the stack; a frame whose
        # tb_lineno is None): report the failure plainly instead of crashing the run.
        text = f"{call.excinfo.typename}: {str(call.excinfo.value)[:2000]}" if call.excinfo else "failed"
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


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dataflow_impl(request):
    """The implementation under test (an Implementation with .DataFlow)."""
    return _state(request.config)["impl"]


@pytest.fixture(scope="session")
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def _worker_database(request, backend):
    if backend.name == "sqlite":
        yield None
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    database = backends_mod.WorkerDatabase(backend, worker)
    database.create()
    yield database
    database.drop()


@pytest.fixture(scope="session")
def _second_worker_database(request, backend):
    """A second database per worker, for tests about two instances on different databases."""
    if backend.name == "sqlite":
        yield None
        return
    database = backends_mod.WorkerDatabase(backend, os.environ.get("PYTEST_XDIST_WORKER", "main") + "b")
    database.create()
    yield database
    database.drop()


@pytest.fixture
def other_database(backend, _second_worker_database, tmp_path):
    """(URL, probe) of a second empty database on the same backend."""
    if backend.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'other.db'}"
        checker = Probe(url, "sqlite")
    else:
        _second_worker_database.reset()
        url = _second_worker_database.url
        checker = Probe(_second_worker_database.probe_url, backend.name)
    yield url, checker
    checker.close()


@pytest.fixture
def database_url(backend, _worker_database, tmp_path):
    """A URL of an empty database on the backend, in the documented DataFlow form."""
    if backend.name == "sqlite":
        return f"sqlite:///{tmp_path / 'conformance.db'}"
    _worker_database.reset()
    return _worker_database.url


@pytest.fixture
def probe(backend, _worker_database, database_url):
    """Independent connection to the test's database (a different driver from the implementation's)."""
    if backend.name == "sqlite":
        url = "sqlite:///" + database_url.removeprefix("sqlite:///")
    else:
        url = _worker_database.probe_url
    checker = Probe(url, backend.name)
    yield checker
    checker.close()


@pytest.fixture
def make_dataflow(request, dataflow_impl, database_url):
    """Factory: DataFlow instances on the test database, closed at teardown."""
    created = []
    path = request.getfixturevalue("flow") if "flow" in request.fixturenames else None

    def factory(*args, **options):
        """DataFlow(database_url, **options), or DataFlow(*args, **options) when args are given."""
        db = dataflow_impl.DataFlow(*(args or (database_url,)), **options)
        created.append(db)
        if path is not None:
            path.db = db  # the express paths call this instance's API
        return db

    yield factory
    for db in reversed(created):
        close = getattr(db, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # an implementation's failing close() must not hide the test result
                sys.stderr.write(f"dataflow-conformance: close() failed: {type(exc).__name__}: {exc}\n")


@pytest.fixture
def flow(request):
    """One access path: workflows under LocalRuntime or AsyncLocalRuntime, or the express API
    (async or sync). `flow.node("UserCreateNode", {...})` means the same operation on every path."""
    path = getattr(request, "param", "local")
    runner = Flow(path) if path in WORKFLOW_PATHS else ExpressPath(path)
    yield runner
    runner.close()
