"""Databases owned by the run: one per xdist worker on each server backend, created and dropped by the
pack, emptied before every test. The SQL of each step is the backend's `provisioning` in the registry
(as SQLAlchemy's testing/provision.py keeps a hook per dialect)."""

import uuid
import warnings

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .resolve import Backend, plain_url, probe_engine, probe_url


def _run(conn, statements, **names) -> None:
    for statement in statements:
        conn.execute(text(statement.format(**names)))


def create_database(conn, provisioning, name: str) -> None:
    _run(conn, [provisioning.create], name=name)


def drop_database(conn, provisioning, name: str) -> None:
    _run(conn, [provisioning.drop], name=name)


def empty_database(conn, provisioning) -> None:
    """Drop every table of the connected database, as the backend's provisioning says."""
    if provisioning.list_tables is None:
        _run(conn, provisioning.empty)
        return
    tables = conn.execute(text(provisioning.list_tables)).scalars().all()
    if tables:
        _run(conn, provisioning.empty, tables=", ".join(provisioning.quote.format(t) for t in tables))


def end_other_sessions(conn, features) -> int:
    """End every other session on the connection's database; returns how many there were."""
    sessions = conn.execute(text(features.sessions_sql)).scalars().all()
    for session in sessions:
        try:
            conn.execute(text(features.end_session_sql), {"session": int(session)})
        except Exception:  # it ended by itself in the meantime
            pass
    return len(sessions)


class WorkerDatabase:
    """A database owned by one xdist worker on a server backend, emptied before every test."""

    def __init__(self, backend: Backend, worker: str):
        self.backend = backend
        self._provisioning = backend.features.provisioning
        self.name = f"dfc_{worker}_{uuid.uuid4().hex[:8]}"
        server = make_url(backend.server_url)
        self._admin = probe_engine(probe_url(server, server.database), isolation_level="AUTOCOMMIT")
        self.url = plain_url(server.set(database=self.name))  # what the implementation is given
        self.probe_url = probe_url(server, self.name)
        self._probe_engine = None

    def create(self) -> None:
        with self._admin.connect() as conn:
            create_database(conn, self._provisioning, self.name)
        # NullPool: an idle pooled connection here would look like a leak of the implementation's.
        self._probe_engine = probe_engine(self.probe_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def reset(self) -> None:
        """End the sessions an earlier test left behind (an instance that hung or was never closed
        would hold server connections and locks), then drop every table: each test starts from an
        empty database that nothing else is connected to."""
        with self._probe_engine.connect() as conn:
            end_other_sessions(conn, self.backend.features)
            empty_database(conn, self._provisioning)

    def drop(self) -> None:
        if self._probe_engine is not None:
            self._probe_engine.dispose()
        try:
            with self._admin.connect() as conn:
                drop_database(conn, self._provisioning, self.name)
        except Exception as exc:  # leave the run's result alone, but say what was left behind
            warnings.warn(f"dataflow-conformance: could not drop test database {self.name}: {exc}", stacklevel=1)
        finally:
            self._admin.dispose()
