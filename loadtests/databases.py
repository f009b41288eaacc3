"""The database servers a run uses, and a scratch database per run on each of them.

SQLite is always there (a file in the run directory); PostgreSQL and MySQL/MariaDB come from
DFC_POSTGRESQL_URL / DFC_MYSQL_URL. On a server the run creates its own database
(`dfc_load_<random>`), so it never collides with other users of the server, and drops it at the end.
Both sides (DataFlow and Django) use that same database, each with its own tables.
"""

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV_VARS = {"postgresql": "DFC_POSTGRESQL_URL", "mysql": "DFC_MYSQL_URL"}
BACKENDS = ("sqlite", "postgresql", "mysql")
# Synchronous drivers for the run's own admin connections (creating and dropping the database).
_ADMIN_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


class BackendError(SystemExit):
    """A backend that was asked for cannot be used; the message says why."""


@dataclass(frozen=True)
class ScratchDatabase:
    backend: str
    url: str  # plain DataFlow-style URL (sqlite:///..., postgresql://..., mysql://...)
    server_version: str


def configured_backends(requested: list[str] | None) -> list[str]:
    """SQLite plus every server with a URL, or exactly the requested ones (an error when one has no URL)."""
    for name in requested or []:
        if name not in BACKENDS:
            raise BackendError(f"loadtests: unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
        if name != "sqlite" and not os.environ.get(ENV_VARS[name]):
            raise BackendError(f"loadtests: backend {name} was asked for but {ENV_VARS[name]} is not set")
    if requested:
        return list(dict.fromkeys(requested))
    return ["sqlite"] + [name for name, var in ENV_VARS.items() if os.environ.get(var)]


@contextlib.contextmanager
def scratch_database(backend: str, run_dir: Path):
    """Create the run's database, yield it, and drop it afterwards (also on failure)."""
    if backend == "sqlite":
        path = (run_dir / "loadtest.db").resolve()
        yield ScratchDatabase("sqlite", f"sqlite:///{path}", _sqlite_version())
        return
    server = make_url(os.environ[ENV_VARS[backend]])
    name = f"dfc_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.set(drivername=_ADMIN_DRIVERS[backend]), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version = conn.execute(text("select version()")).scalar()
            if backend == "postgresql":
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:
        admin.dispose()
        raise BackendError(
            f"loadtests: cannot create a database on {backend} ({server.render_as_string(hide_password=True)}): {exc}"
        ) from None
    try:
        yield ScratchDatabase(backend, server.set(database=name).render_as_string(hide_password=False), version)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def _sqlite_version() -> str:
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"
