"""Databases owned by the run: one per xdist worker on each server backend, created and dropped by the
pack, emptied before every test (the per-dialect steps live in the functions below, as in SQLAlchemy's
testing/provision.py)."""

import uuid
import warnings

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .resolve import Backend, plain_url, probe_url


def _create_postgresql(conn, name):
    conn.execute(text(f'CREATE DATABASE "{name}"'))


def _create_mysql(conn, name):
    conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))


def _drop_postgresql(conn, name):
    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _drop_mysql(conn, name):
    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def _empty_postgresql(conn):
    conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
    conn.execute(text("CREATE SCHEMA public"))


def _empty_mysql(conn):
    tables = conn.execute(
        text("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
    ).scalars()
    tables = tables.all()
    if tables:
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        conn.execute(text("DROP TABLE " + ", ".join(f"`{t}`" for t in tables)))
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


_CREATE = {"postgresql": _create_postgresql, "mysql": _create_mysql}
_DROP = {"postgresql": _drop_postgresql, "mysql": _drop_mysql}
_EMPTY = {"postgresql": _empty_postgresql, "mysql": _empty_mysql}


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
        self.name = f"dfc_{worker}_{uuid.uuid4().hex[:8]}"
        server = make_url(backend.server_url)
        self._admin = create_engine(probe_url(server, server.database), isolation_level="AUTOCOMMIT")
        self.url = plain_url(server.set(database=self.name))  # what the implementation is given
        self.probe_url = probe_url(server, self.name)
        self._probe_engine = None

    def create(self) -> None:
        with self._admin.connect() as conn:
            _CREATE[self.backend.name](conn, self.name)
        # NullPool: an idle pooled connection here would look like a leak of the implementation's.
        self._probe_engine = create_engine(self.probe_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def reset(self) -> None:
        """End the sessions an earlier test left behind (an instance that hung or was never closed
        would hold server connections and locks), then drop every table: each test starts from an
        empty database that nothing else is connected to."""
        with self._probe_engine.connect() as conn:
            end_other_sessions(conn, self.backend.features)
            _EMPTY[self.backend.name](conn)

    def drop(self) -> None:
        if self._probe_engine is not None:
            self._probe_engine.dispose()
        try:
            with self._admin.connect() as conn:
                _DROP[self.backend.name](conn, self.name)
        except Exception as exc:  # leave the run's result alone, but say what was left behind
            warnings.warn(f"dataflow-conformance: could not drop test database {self.name}: {exc}", stacklevel=1)
        finally:
            self._admin.dispose()
