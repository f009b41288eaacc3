"""The fixtures of the conformance suite: the implementation, a backend and an empty database on it, the
independent probe, DataFlow instances closed at teardown, and the access path under test."""

import os
import sys

import pytest
from sqlalchemy.engine import make_url

from ..access.protocol import open_path
from ..backends.probe import Probe
from ..backends.provision import WorkerDatabase
from ..exceptions import ARRANGED
from ..report.tag import ARRANGED_PROPERTY
from . import session as session_mod


def _worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def _arranged_with(request):
    """Record the clauses this test's arrange steps relied on (exceptions.ARRANGED) in its report."""
    ARRANGED.clauses.clear()
    yield
    if ARRANGED.clauses:
        request.node.user_properties.append((ARRANGED_PROPERTY, " ".join(sorted(ARRANGED.clauses))))
    ARRANGED.clauses.clear()


@pytest.fixture(scope="session")
def dataflow_impl(request):
    """The implementation under test (an Implementation: .DataFlow, .module_name, .packages)."""
    return session_mod.get(request.config).implementation


@pytest.fixture(scope="session")
def backend(request):
    """The backend of this test (a Backend; `backend.features` says what the suite needs to know)."""
    return request.param


def _owned_database(backend, suffix: str = ""):
    if not backend.features.server:
        yield None
        return
    database = WorkerDatabase(backend, _worker_name() + suffix)
    database.create()
    yield database
    database.drop()


@pytest.fixture(scope="session")
def _worker_database(backend):
    yield from _owned_database(backend)


@pytest.fixture(scope="session")
def _second_worker_database(backend):
    """A second database per worker, for tests about two instances on different databases."""
    yield from _owned_database(backend, "b")


def _sqlite_url(tmp_path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


@pytest.fixture
def database_url(backend, _worker_database, tmp_path):
    """A URL of an empty database on the backend, in the documented DataFlow form."""
    if _worker_database is None:
        return _sqlite_url(tmp_path, "conformance.db")
    _worker_database.reset()
    return _worker_database.url


@pytest.fixture
def probe(backend, _worker_database, database_url):
    """Independent connection to the test's database (a different driver from the implementation's)."""
    url = _worker_database.probe_url if _worker_database is not None else make_url(database_url)
    checker = Probe(url)
    yield checker
    checker.close()


@pytest.fixture
def other_database(backend, _second_worker_database, tmp_path):
    """(URL, probe) of a second empty database on the same backend."""
    if _second_worker_database is None:
        url = _sqlite_url(tmp_path, "other.db")
        checker = Probe(url)
    else:
        _second_worker_database.reset()
        url = _second_worker_database.url
        checker = Probe(_second_worker_database.probe_url)
    yield url, checker
    checker.close()


@pytest.fixture
def make_dataflow(request, dataflow_impl, database_url):
    """Factory: DataFlow instances on the test database, closed at teardown. The test's access path (if it
    has one) is bound to the instance made last."""
    created = []
    path = request.getfixturevalue("flow") if "flow" in request.fixturenames else None

    def factory(*args, **options):
        """DataFlow(database_url, **options), or DataFlow(*args, **options) when args are given."""
        db = dataflow_impl.DataFlow(*(args or (database_url,)), **options)
        created.append(db)
        if path is not None:
            path.bind(db)
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
    """The access path under test (an AccessPath: workflows under LocalRuntime or AsyncLocalRuntime, or the
    express API, async or sync). `flow.node("UserCreateNode", {...})` means the same operation on each."""
    path = open_path(getattr(request, "param", "local"))
    yield path
    path.close()
