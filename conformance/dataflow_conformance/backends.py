"""Find the database servers a run uses, and give each xdist worker its own database.

Resolution per backend, in order: --dburi, the DFC_<BACKEND>_URL environment variable,
a testcontainers container (only when a Docker engine answers), and for SQLite a file
per test. A backend that was asked for and cannot be reached is an error, never a skip.
"""

import importlib
import os
import uuid
import warnings
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

BACKENDS = ("sqlite", "postgresql", "mysql")
ENV_VARS = {"postgresql": "DFC_POSTGRESQL_URL", "mysql": "DFC_MYSQL_URL"}
CONTAINER_IMAGES = {"postgresql": "postgres:16", "mysql": "mysql:8.4"}
_SCHEME_BACKEND = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
# Drivers for the harness's own (independent) connections: deliberately not the async
# drivers an implementation is likely to use.
_PROBE_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "sqlite": "sqlite"}


class BackendUnavailable(Exception):
    """A requested backend cannot be reached; the message says what was tried."""


@dataclass
class Backend:
    name: str
    server_url: str | None  # None for SQLite: each test gets a file
    source: str  # "--dburi", "environment", "testcontainers", "embedded"
    server_version: str = ""
    extra: dict = field(default_factory=dict)

    def probe_url(self, database: str) -> URL:
        return _probe_url(make_url(self.server_url), database)


def backend_of(url: str) -> str:
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in _SCHEME_BACKEND:
        raise BackendUnavailable(f"--dburi {url.split('@')[-1]!r}: unknown scheme {scheme!r}")
    return _SCHEME_BACKEND[scheme]


def plain_url(url: URL) -> str:
    """The URL in the documented DataFlow form (no driver suffix): what users pass to DataFlow()."""
    scheme = "postgresql" if url.get_backend_name() == "postgresql" else url.get_backend_name()
    return url.set(drivername=scheme).render_as_string(hide_password=False)


def _probe_url(url: URL, database: str) -> URL:
    return url.set(drivername=_PROBE_DRIVERS[_SCHEME_BACKEND[url.get_backend_name()]], database=database)


def resolve(requested: list[str], dburis: list[str], environ=os.environ) -> tuple[list[Backend], list]:
    """Return the backends of this run and the containers started for it (to stop at the end).

    `requested` empty means: SQLite plus every server backend that has a URL configured.
    """
    explicit = {backend_of(url): url for url in dburis}
    for name in ENV_VARS:
        if name not in explicit and environ.get(ENV_VARS[name]):
            explicit.setdefault(name, environ[ENV_VARS[name]])
    names = list(dict.fromkeys(requested)) or ["sqlite", *[n for n in ("postgresql", "mysql") if n in explicit]]
    backends, containers = [], []
    for name in names:
        if name == "sqlite":
            backends.append(Backend("sqlite", None, "embedded", server_version=_sqlite_version()))
            continue
        source = "--dburi" if any(backend_of(u) == name for u in dburis) else "environment"
        url = explicit.get(name)
        if url is None:
            url, container = _start_container(name)
            containers.append(container)
            source = "testcontainers"
        backends.append(Backend(name, url, source, server_version=_server_version(name, url)))
    return backends, containers


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _server_version(name: str, url: str) -> str:
    probe = _probe_url(make_url(url), make_url(url).database)
    try:
        engine = create_engine(probe, pool_pre_ping=False)
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar()
        engine.dispose()
    except Exception as exc:
        raise BackendUnavailable(
            f"{name} was requested but {make_url(url).render_as_string(hide_password=True)} cannot be reached: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return str(version)


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _start_container(name: str):
    if not _docker_answers():
        raise BackendUnavailable(
            f"{name} was requested but no URL is configured ({ENV_VARS[name]} or --dburi) "
            f"and no Docker engine answers for testcontainers"
        )
    module, cls_name = {"postgresql": ("postgres", "PostgresContainer"), "mysql": ("mysql", "MySqlContainer")}[name]
    try:
        container_module = importlib.import_module(f"testcontainers.community.{module}")
    except ImportError:
        container_module = importlib.import_module(f"testcontainers.{module}")
    kwargs = {"driver": None} if name == "postgresql" else {}
    container = getattr(container_module, cls_name)(CONTAINER_IMAGES[name], **kwargs)
    container.start()
    url = make_url(container.get_connection_url())
    scheme = "postgresql" if name == "postgresql" else "mysql"
    return url.set(drivername=scheme).render_as_string(hide_password=False), container


class WorkerDatabase:
    """A database owned by one xdist worker on a server backend, emptied before every test."""

    def __init__(self, backend: Backend, worker: str):
        self.backend = backend
        self.name = f"dfc_{worker}_{uuid.uuid4().hex[:8]}"
        server = make_url(backend.server_url)
        self._admin = create_engine(_probe_url(server, server.database), isolation_level="AUTOCOMMIT")
        self.url = plain_url(server.set(database=self.name))  # what the implementation is given
        self.probe_url = _probe_url(server, self.name)
        self._probe_engine = None

    def create(self) -> None:
        with self._admin.connect() as conn:
            if self.backend.name == "postgresql":
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            else:
                conn.execute(text(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4"))
        # NullPool: an idle pooled connection here would look like a leak of the implementation's.
        self._probe_engine = create_engine(self.probe_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def reset(self) -> None:
        """End the sessions an earlier test left behind (an instance that hung or was never closed
        would hold server connections and locks), then drop every table: each test starts from an
        empty database that nothing else is connected to."""
        with self._probe_engine.connect() as conn:
            self._end_leftover_sessions(conn)
            if self.backend.name == "postgresql":
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
                return
            tables = (
                conn.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"))
                .scalars()
                .all()
            )
            if tables:
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
                conn.execute(text("DROP TABLE " + ", ".join(f"`{t}`" for t in tables)))
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))

    def _end_leftover_sessions(self, conn) -> None:
        if self.backend.name == "postgresql":
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return
        sessions = conn.execute(
            text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()")
        ).scalars()
        for session in sessions.all():
            try:
                conn.execute(text(f"KILL {int(session)}"))
            except Exception:  # it ended by itself in the meantime
                pass

    def drop(self) -> None:
        if self._probe_engine is not None:
            self._probe_engine.dispose()
        try:
            with self._admin.connect() as conn:
                if self.backend.name == "postgresql":
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                else:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{self.name}`"))
        except Exception as exc:  # leave the run's result alone, but say what was left behind
            warnings.warn(f"dataflow-conformance: could not drop test database {self.name}: {exc}", stacklevel=1)
        finally:
            self._admin.dispose()
