"""The databases a comparison runs on, and a scratch database per run on each of them.

The backends are the kit's registry (dataflow_conformance.backends.registry): the embedded one is always
there (a file in the run directory); a server comes from its environment variable (DFC_POSTGRESQL_URL,
DFC_MYSQL_URL). On a server the run creates its own database (`dfc_load_<random>`) with the registry's
provisioning, so it never collides with other users of the server, and drops it at the end. Both sides
(DataFlow and Django) use that same database, each with its own tables.
"""

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from dataflow_conformance.backends.provision import create_database, drop_database
from dataflow_conformance.backends.registry import BACKENDS, BY_NAME, EMBEDDED
from dataflow_conformance.backends.resolve import plain_url, probe_engine, probe_url
from sqlalchemy import text
from sqlalchemy.engine import make_url

# Where each server backend's URL is configured.
ENV_VARS = {spec.name: spec.environment_variable for spec in BY_NAME.values() if spec.environment_variable}


class BackendError(SystemExit):
    """A backend that was asked for cannot be used; the message says why."""


@dataclass(frozen=True)
class ScratchDatabase:
    backend: str
    url: str  # plain DataFlow-style URL (sqlite:///..., postgresql://..., mysql://...)
    server_version: str


def configured_backends(requested: list[str] | None) -> list[str]:
    """The embedded backend plus every server with a URL, or exactly the requested ones (an error when one
    has no URL)."""
    for name in requested or []:
        if name not in BACKENDS:
            raise BackendError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
        if BY_NAME[name].server and not os.environ.get(ENV_VARS[name]):
            raise BackendError(f"backend {name} was asked for but {ENV_VARS[name]} is not set")
    if requested:
        return list(dict.fromkeys(requested))
    return [EMBEDDED] + [name for name, var in ENV_VARS.items() if os.environ.get(var)]


@contextlib.contextmanager
def scratch_database(backend: str, run_dir: Path):
    """Create the run's database, yield it, and drop it afterwards (also on failure)."""
    spec = BY_NAME[backend]
    if not spec.server:
        path = (run_dir / "loadtest.db").resolve()
        yield ScratchDatabase(backend, f"{spec.scheme}:///{path}", _sqlite_version())
        return
    server = make_url(os.environ[ENV_VARS[backend]])
    name = f"dfc_load_{uuid.uuid4().hex[:10]}"
    admin = probe_engine(probe_url(server, server.database), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version = conn.execute(text("select version()")).scalar()
            create_database(conn, spec.provisioning, name)
    except Exception as exc:
        admin.dispose()
        raise BackendError(
            f"cannot create a database on {backend} ({server.render_as_string(hide_password=True)}): {exc}"
        ) from None
    try:
        yield ScratchDatabase(backend, plain_url(server.set(database=name)), version)
    finally:
        with admin.connect() as conn:
            drop_database(conn, spec.provisioning, name)
        admin.dispose()


def configured_urls(scratch: Path, filename: str = "bench.db") -> list[tuple[str, str]]:
    """(backend, URL) of the embedded backend (a file in `scratch`) and of every server with a URL, as
    configured (its own database, not a scratch one): for the benchmarks, which make their own tables."""
    found = []
    for name in configured_backends(None):
        spec = BY_NAME[name]
        found.append((name, os.environ[ENV_VARS[name]] if spec.server else f"{spec.scheme}:///{scratch / filename}"))
    return found


def _sqlite_version() -> str:
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"
